"""The pure decisions: what the reference is, what one page says, which pending to reuse."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_gradient.core.waiting import (
    Reference,
    decide,
    find_reusable_pending,
    parse_reference,
    parse_timestamp,
)

P = "proj-1"
UUID = "b6f7c1f2-0d0e-4a53-9a3e-3c1d2f3b9a10"


def rec(
    rec_id: str, state: str, created: str = "2026-10-02T08:00:00Z", **extra: Any
) -> dict[str, Any]:
    return {"id": rec_id, "state": state, "created_at": created, "error": None, **extra}


# --- parse_reference -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  ", "None"])
def test_nothing_is_no_reference(value: Any) -> None:
    assert parse_reference(value).kind == "none"


def test_a_uuid_is_an_id_that_counts_itself() -> None:
    ref = parse_reference(f" {UUID} ")
    assert (ref.kind, ref.recommendation_id, ref.include_reference) == ("id", UUID, True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-10-02T08:11:00Z", datetime(2026, 10, 2, 8, 11, tzinfo=UTC)),
        ("2026-10-02 10:11:00+02:00", datetime(2026, 10, 2, 8, 11, tzinfo=UTC)),
        ("2026-10-02T08:11:00.123456", datetime(2026, 10, 2, 8, 11, 0, 123456, tzinfo=UTC)),
        ("2026-10-02", datetime(2026, 10, 2, tzinfo=UTC)),
        (datetime(2026, 10, 2, 8, 11), datetime(2026, 10, 2, 8, 11, tzinfo=UTC)),
        (
            datetime(2026, 10, 2, 10, 11, tzinfo=timezone(timedelta(hours=2))),
            datetime(2026, 10, 2, 8, 11, tzinfo=UTC),
        ),
    ],
)
def test_timestamps_are_times_in_utc(value: Any, expected: datetime) -> None:
    ref = parse_reference(value)
    assert ref.kind == "time" and ref.after == expected and ref.after.tzinfo is not None


def test_a_date_like_string_that_is_no_date_is_refused() -> None:
    with pytest.raises(ValueError, match=r"newer_than='2026-13-45' looks like a timestamp"):
        parse_reference("2026-13-45")


def test_a_dict_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r"not dict .*\['recommendation_id'\]"):
        parse_reference({"recommendation_id": UUID})


def test_reference_dict_round_trip_is_plain_json() -> None:
    for ref in (
        Reference(),
        Reference(recommendation_id=UUID, include_reference=True, source="newer_than"),
        Reference(after=datetime(2026, 10, 2, 8, 11, tzinfo=UTC), source="x"),
    ):
        data = ref.to_dict()
        assert json.loads(json.dumps(data)) == data
        assert Reference.from_dict(data) == ref


def test_reference_must_be_one_kind_and_aware() -> None:
    with pytest.raises(ValueError, match="not both"):
        Reference(recommendation_id=UUID, after=datetime.now(UTC))
    with pytest.raises(ValueError, match="time zone"):
        Reference(after=datetime(2026, 1, 1))


def test_parse_timestamp_rejects_what_is_not_a_time() -> None:
    assert parse_timestamp(UUID) is None
    assert parse_timestamp(None) is None
    assert parse_timestamp(20261002) is None


# --- decide: by id ------------------------------------------------------------------------

AWAITED = Reference(recommendation_id="r1", include_reference=True, source="newer_than")
IN_FORCE = Reference(recommendation_id="r1", include_reference=False, source="tag")


def test_awaited_pending_waits_and_success_is_done() -> None:
    waiting = decide([rec("r1", "PENDING"), rec("r0", "SUCCESS")], AWAITED, project_id=P)
    assert waiting.status == "waiting" and "r1" in waiting.message and "PENDING" in waiting.message
    done = decide([rec("r1", "SUCCESS"), rec("r0", "SUCCESS")], AWAITED, project_id=P)
    assert (done.status, done.recommendation_id) == ("done", "r1")


def test_awaited_failure_fails_with_gradient_error_text() -> None:
    page = [rec("r1", "FAILURE", error="No event log found"), rec("r0", "SUCCESS")]
    outcome = decide(page, AWAITED, project_id=P)
    assert (outcome.status, outcome.recommendation_id, outcome.error) == (
        "failed",
        "r1",
        "No event log found",
    )
    assert "No event log found" in outcome.message and P in outcome.message


def test_awaited_still_pending_is_not_failed_by_a_newer_failure() -> None:
    page = [rec("r2", "FAILURE", error="boom"), rec("r1", "PENDING")]
    assert decide(page, AWAITED, project_id=P).status == "waiting"


def test_a_newer_success_ends_the_wait_for_an_awaited_one() -> None:
    page = [rec("r2", "SUCCESS"), rec("r1", "FAILURE")]
    assert decide(page, AWAITED, project_id=P).recommendation_id == "r2"


def test_the_recommendation_in_force_does_not_count_itself() -> None:
    assert decide([rec("r1", "SUCCESS")], IN_FORCE, project_id=P).status == "waiting"
    page = [rec("r2", "SUCCESS"), rec("r1", "SUCCESS")]
    assert decide(page, IN_FORCE, project_id=P).recommendation_id == "r2"


def test_newest_success_wins_over_newer_pending_and_older_successes() -> None:
    page = [rec("r4", "PENDING"), rec("r3", "SUCCESS"), rec("r2", "SUCCESS"), rec("r1", "SUCCESS")]
    assert decide(page, IN_FORCE, project_id=P).recommendation_id == "r3"


def test_waiting_names_the_newest_unfinished_recommendation() -> None:
    """Several counting recommendations still PENDING (page newest first): the wait names the
    newest one, the one a request just made, not the oldest."""
    page = [
        rec("r4", "PENDING", "2026-10-02T08:04:00Z"),
        rec("r3", "FAILURE", "2026-10-02T08:03:00Z", error="boom"),
        rec("r2", "PENDING", "2026-10-02T08:02:00Z"),
        rec("r1", "SUCCESS", "2026-10-02T08:01:00Z"),
    ]
    outcome = decide(page, IN_FORCE, project_id=P)
    assert (outcome.status, outcome.recommendation_id) == ("waiting", "r4")
    assert outcome.message == f"Recommendation r4 of Gradient project {P} is PENDING."


def test_failure_after_in_force_fails_when_nothing_is_pending() -> None:
    page = [
        rec("r3", "FAILURE", error="late"),
        rec("r2", "FAILURE", error="early"),
        rec("r1", "SUCCESS"),
    ]
    outcome = decide(page, IN_FORCE, project_id=P)
    assert (outcome.status, outcome.recommendation_id, outcome.error) == ("failed", "r3", "late")


def test_reference_missing_from_a_short_page_is_an_error() -> None:
    outcome = decide([rec("r9", "SUCCESS")], AWAITED, project_id=P)
    assert outcome.status == "error" and "r1" in outcome.message and P in outcome.message
    assert outcome.permanent  # the reference is wrong: reading again cannot help


def test_reference_beyond_a_full_page_makes_the_whole_page_newer() -> None:
    page = [rec(f"n{i}", "PENDING") for i in range(3)]
    assert decide(page, IN_FORCE, project_id=P, per_page=3).status == "waiting"
    page[2] = rec("n2", "SUCCESS")
    assert decide(page, IN_FORCE, project_id=P, per_page=3).recommendation_id == "n2"


# --- decide: by time, or none ---------------------------------------------------------------


def test_time_reference_counts_strictly_later_ones() -> None:
    ref = parse_reference("2026-10-02T08:00:00Z")
    page = [
        rec("r2", "PENDING", "2026-10-02T08:00:01Z"),
        rec("r1", "SUCCESS", "2026-10-02T08:00:00Z"),
    ]
    assert decide(page, ref, project_id=P).status == "waiting"
    page[0] = rec("r2", "SUCCESS", "2026-10-02T08:00:01Z")
    assert decide(page, ref, project_id=P).recommendation_id == "r2"


def test_time_reference_with_an_unreadable_created_at_is_an_error() -> None:
    ref = parse_reference("2026-10-02T08:00:00Z")
    outcome = decide([rec("r2", "SUCCESS", "yesterday")], ref, project_id=P)
    assert outcome.status == "error" and "'yesterday'" not in outcome.message
    assert '"yesterday"' in outcome.message and "r2" in outcome.message
    assert outcome.permanent


def test_no_reference_takes_any_success() -> None:
    assert decide([], Reference(), project_id=P).status == "waiting"
    page = [rec("r2", "FAILURE"), rec("r1", "SUCCESS")]
    assert decide(page, Reference(), project_id=P).recommendation_id == "r1"


def test_unknown_states_are_waited_on_and_lower_case_is_read() -> None:
    outcome = decide([rec("r1", "RUNNING")], Reference(), project_id=P)
    assert outcome.status == "waiting" and "unknown state" in outcome.message
    assert decide([rec("r1", "success")], Reference(), project_id=P).status == "done"


def test_an_unreadable_entry_is_an_error_not_a_crash() -> None:
    outcome = decide([{"state": "SUCCESS"}], Reference(), project_id=P)
    assert outcome.status == "error" and "entry 0" in outcome.message
    assert not outcome.permanent  # a garbled reply: the next read may be fine


def test_a_failure_without_text_says_so() -> None:
    outcome = decide([rec("r1", "FAILURE")], Reference(), project_id=P)
    assert "Gradient gave no error text" in outcome.message


# --- find_reusable_pending -------------------------------------------------------------------

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)


def test_reuses_the_newest_recent_pending() -> None:
    page = [
        rec("r3", "SUCCESS", "2026-10-02T08:59:00Z"),
        rec("r2", "PENDING", "2026-10-02T08:45:00Z"),
        rec("r1", "PENDING", "2026-10-02T08:40:00Z"),
    ]
    found = find_reusable_pending(page, now=NOW, within=timedelta(minutes=30))
    assert found is not None and found["id"] == "r2"


def test_an_old_or_undated_pending_is_not_reused() -> None:
    page = [rec("r2", "PENDING", "not a time"), rec("r1", "PENDING", "2026-10-02T08:29:59Z")]
    assert find_reusable_pending(page, now=NOW, within=timedelta(minutes=30)) is None


def test_a_pending_exactly_at_the_edge_of_the_window_is_reused() -> None:
    """``reuse_pending_within=30 min`` includes a request made exactly 30 minutes ago; one
    microsecond older is outside."""
    edge = [rec("r1", "PENDING", "2026-10-02T08:30:00Z")]
    assert find_reusable_pending(edge, now=NOW, within=timedelta(minutes=30)) is not None
    older = [rec("r1", "PENDING", "2026-10-02T08:29:59.999999Z")]
    assert find_reusable_pending(older, now=NOW, within=timedelta(minutes=30)) is None
    assert find_reusable_pending(edge, now=NOW, within=timedelta(0)) is None
    now = [rec("r1", "PENDING", "2026-10-02T09:00:00Z")]
    assert find_reusable_pending(now, now=NOW, within=timedelta(0)) is not None


def test_a_pending_from_the_future_counts_as_recent() -> None:
    page = [rec("r1", "PENDING", "2026-10-02T09:00:05Z")]
    assert find_reusable_pending(page, now=NOW, within=timedelta(minutes=1)) is not None


# --- reference_in_force ------------------------------------------------------------------


def _job(tags: dict[str, str]) -> dict[str, Any]:
    cluster = {"num_workers": 2, "node_type_id": "m5.large", "custom_tags": tags}
    return {
        "job_id": 7,
        "settings": {
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": cluster}],
            "tasks": [{"task_key": "t", "job_cluster_key": "main"}],
        },
    }


def test_reference_in_force_is_the_recommendation_the_cluster_is_tagged_with() -> None:
    from airflow_gradient.core.waiting import reference_in_force

    job = _job({"sync:project-id": "p-1", "sync:recommendation-id": "r-9"})
    reference = reference_in_force(job, {}, project_id="p-1", cluster_key=None)

    assert reference.recommendation_id == "r-9"
    assert reference.include_reference is False
    assert (
        reference.source
        == "the recommendation in force on cluster job_clusters/main of Databricks job 7"
    )


def test_reference_in_force_without_a_tag_says_so() -> None:
    from airflow_gradient.core.waiting import reference_in_force

    reference = reference_in_force(_job({}), {}, project_id="p-1", cluster_key=None)

    assert reference.recommendation_id is None
    assert (
        reference.source
        == "cluster job_clusters/main of Databricks job 7 carries no sync:recommendation-id tag"
    )


# --- explicit references (newer_than_recommendation_id / newer_than_time) --------------------


def test_an_explicit_id_is_never_read_as_a_time() -> None:
    from airflow_gradient.core.waiting import explicit_reference

    reference = explicit_reference("2026-01-01-rec")

    assert reference is not None and reference.recommendation_id == "2026-01-01-rec"
    assert reference.include_reference and reference.source == "newer_than_recommendation_id"


def test_an_explicit_time_and_nothing() -> None:
    from airflow_gradient.core.waiting import explicit_reference

    reference = explicit_reference(None, "2026-01-01T08:00:00Z")

    assert reference is not None and reference.after == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert reference.source == "newer_than_time"
    assert explicit_reference(None, None) is None
    assert explicit_reference("None", "") is None  # what empty templates render to


@pytest.mark.parametrize(
    ("rec_id", "after", "words"),
    [
        ("r1", "2026-01-01", "not both"),
        (None, "rec-1", "is not a datetime or an ISO-8601 timestamp"),
        ({"recommendation_id": "r1"}, None, "must be a recommendation id (text)"),
    ],
)
def test_explicit_references_that_make_no_sense_are_refused(
    rec_id: Any, after: Any, words: str
) -> None:
    from airflow_gradient.core.waiting import explicit_reference

    with pytest.raises(ValueError, match=re.escape(words)):
        explicit_reference(rec_id, after)
