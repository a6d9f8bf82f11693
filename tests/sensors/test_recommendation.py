"""GradientRecommendationSensor against the sandbox in poke, reschedule and deferrable modes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_gradient.exceptions import (
    AwaitedRecommendationFailedError,
    GradientApiError,
    GradientError,
    PermanentError,
    RecommendationFailedError,
)
from airflow_gradient.sandbox import Sandbox
from airflow_gradient.sensors.recommendation import GradientRecommendationSensor
from airflow_gradient.triggers.recommendation import GradientRecommendationTrigger
from tests.waiting_support import FAST_HOOK, RECS, FakeTaskInstance, context, gradient_calls

FAILURE_TEXT = "No event log found for the latest run"


def sensor(project_id: str, **kwargs: Any) -> GradientRecommendationSensor:
    params: dict[str, Any] = {
        "task_id": "wait",
        "project_id": project_id,
        "poke_interval": 0.02,
        "timeout": 10,
        "deferrable": False,
        "gradient_hook_params": FAST_HOOK,
        **kwargs,
    }
    return GradientRecommendationSensor(**params)


def list_polls(sb: Sandbox, project_id: str) -> int:
    return len(gradient_calls(sb, "GET", RECS.format(project_id)))


# --- poke mode ------------------------------------------------------------------------------


def test_poke_waits_for_the_requested_one_pending_then_success(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.add_recommendation(project_id, state="SUCCESS")  # older: must not count
    sb.gradient.recommendation_ready_after_reads = 3
    rec_id = sb.gradient.request_recommendation(project_id)
    s = sensor(project_id, newer_than_recommendation_id=rec_id)
    ctx = context()
    results = [s.poke(ctx) for _ in range(2)]
    assert [bool(r) for r in results] == [False, False]
    done = s.poke(ctx)
    assert done.is_done and done.xcom_value == rec_id
    assert list_polls(sb, project_id) == 3


def test_execute_in_poke_mode_returns_the_id(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.recommendation_ready_after_reads = 4
    rec_id = sb.gradient.request_recommendation(project_id)
    assert sensor(project_id, newer_than_recommendation_id=rec_id).execute(context()) == rec_id
    assert list_polls(sb, project_id) >= 3
    assert sb.gradient.get_recommendation(project_id, rec_id)["state"] == "SUCCESS"


def test_failure_of_the_awaited_one_fails_without_retry_and_with_its_text(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.next_recommendation_outcome = "FAILURE"
    sb.gradient.recommendation_ready_after_reads = 2
    rec_id = sb.gradient.request_recommendation(project_id)
    with pytest.raises(AwaitedRecommendationFailedError) as caught:
        sensor(project_id, newer_than_recommendation_id=rec_id).execute(context())
    message = str(caught.value)
    assert FAILURE_TEXT in message and rec_id in message and project_id in message
    assert isinstance(caught.value, AirflowFailException)
    assert isinstance(caught.value, RecommendationFailedError)


def test_soft_fail_turns_the_failure_into_a_skip(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="FAILURE", error="bad logs")
    with pytest.raises(AirflowSkipException):
        sensor(project_id, newer_than_recommendation_id=rec_id, soft_fail=True).execute(context())


def test_poke_mode_times_out(sb: Sandbox, make_project: Callable[..., tuple[int, str]]) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="PENDING")
    s = sensor(project_id, newer_than_recommendation_id=rec_id, poke_interval=0.05, timeout=0.3)
    assert not s.poke(context())  # warm up (connection, token, reference) outside the clock
    with pytest.raises(AirflowSensorTimeout):
        s.execute(context())
    # At least one poll inside execute; never more often than the interval allows.
    assert 2 <= list_polls(sb, project_id) <= 10


def test_an_api_error_that_outlasts_the_retries_fails_the_poke(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.add_recommendation(project_id, state="PENDING")
    sb.faults.inject("gradient", "GET", RECS.format(project_id), status=503, times=10)
    with pytest.raises(GradientApiError, match="HTTP 503"):
        sensor(project_id).execute(context())
    assert list_polls(sb, project_id) == FAST_HOOK["retry_limit"]


def test_a_transient_error_is_absorbed_by_the_hook_retry(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="SUCCESS")
    sb.faults.inject("gradient", "GET", RECS.format(project_id), status=503, times=1)
    assert sensor(project_id).execute(context()) == rec_id


def test_an_unknown_reference_id_is_a_clear_error(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    with pytest.raises(
        GradientError, match=r"newer_than_recommendation_id='nope' is not a recommendation"
    ):
        sensor(project_id, newer_than_recommendation_id="nope").execute(context())


def test_a_timestamp_reference(sb: Sandbox, make_project: Callable[..., tuple[int, str]]) -> None:
    _, project_id = make_project()
    sb.gradient.add_recommendation(project_id, state="SUCCESS", created_at="2026-01-01T00:00:00Z")
    s = sensor(project_id, newer_than_time="2026-01-01T00:00:00Z")
    assert not s.poke(context())
    newer = sb.gradient.add_recommendation(
        project_id, state="SUCCESS", created_at="2026-01-01T00:00:01Z"
    )
    assert s.poke(context()).xcom_value == newer


# --- the default reference: the recommendation in force on the job ---------------------------


def test_default_reference_is_the_tag_on_the_job(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    job_id, project_id = make_project(tag="in-force")
    sb.gradient.add_recommendation(project_id, state="SUCCESS", recommendation_id="in-force")
    s = sensor(project_id, job_id=job_id)
    assert not s.poke(context())
    assert "in force on cluster job_clusters/main" in s.reference.source
    newer = sb.gradient.add_recommendation(project_id, state="SUCCESS")
    assert s.poke(context()).xcom_value == newer


def test_a_failure_newer_than_the_one_in_force_is_an_ordinary_failure(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    job_id, project_id = make_project(tag="in-force-2")
    sb.gradient.add_recommendation(project_id, state="SUCCESS", recommendation_id="in-force-2")
    sb.gradient.add_recommendation(project_id, state="FAILURE", error="cluster logs missing")
    with pytest.raises(RecommendationFailedError, match="cluster logs missing") as caught:
        sensor(project_id, job_id=str(job_id)).execute(context())
    assert not isinstance(caught.value, AirflowFailException)


def test_no_tag_or_no_job_means_any_success(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    job_id, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="SUCCESS")
    assert sensor(project_id, job_id=job_id).execute(context()) == rec_id
    assert sensor(project_id).execute(context()) == rec_id
    assert gradient_calls(sb, "POST", RECS.format(project_id)) == []


# --- reschedule mode -------------------------------------------------------------------------


def test_reschedule_mode_reschedules_then_succeeds(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.recommendation_ready_after_reads = 2
    rec_id = sb.gradient.request_recommendation(project_id)
    first = datetime.now(UTC)

    before = datetime.now(UTC)
    with pytest.raises(AirflowRescheduleException) as caught:
        sensor(
            project_id, newer_than_recommendation_id=rec_id, mode="reschedule", poke_interval=90
        ).execute(context(FakeTaskInstance(first_reschedule=None)))
    due = caught.value.reschedule_date
    assert before + timedelta(seconds=89) <= due <= datetime.now(UTC) + timedelta(seconds=91)

    # The next try is a new process: a new operator object, the first reschedule date known.
    later = sensor(
        project_id, newer_than_recommendation_id=rec_id, mode="reschedule", poke_interval=90
    )
    assert later.execute(context(FakeTaskInstance(first_reschedule=first))) == rec_id


def test_reschedule_mode_times_out_from_the_first_try(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="PENDING")
    s = sensor(project_id, newer_than_recommendation_id=rec_id, mode="reschedule", timeout=3600)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    with pytest.raises(AirflowSensorTimeout):
        s.execute(context(FakeTaskInstance(first_reschedule=long_ago)))


# --- deferrable ------------------------------------------------------------------------------


def test_deferrable_defers_to_the_trigger_with_plain_kwargs(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.request_recommendation(project_id)
    s = sensor(
        project_id,
        newer_than_recommendation_id=rec_id,
        deferrable=True,
        poke_interval=30,
        timeout=600,
    )
    start = datetime.now(UTC).timestamp()
    with pytest.raises(TaskDeferred) as caught:
        s.execute(context())
    deferred = caught.value
    assert deferred.method_name == "execute_complete"
    assert isinstance(deferred.trigger, GradientRecommendationTrigger)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "airflow_gradient.triggers.recommendation.GradientRecommendationTrigger"
    assert kwargs["project_id"] == project_id and kwargs["poll_interval"] == 30
    assert kwargs["reference"]["recommendation_id"] == rec_id
    assert kwargs["reference"]["include_reference"] is True
    assert start + 599 <= kwargs["end_time"] <= start + 602
    assert kwargs["hook_params"] == FAST_HOOK
    assert deferred.timeout is not None and deferred.timeout >= timedelta(seconds=600)
    # Only the reference was checked before deferring; waiting is the trigger's job.
    assert gradient_calls(sb, "GET", RECS.format(project_id)) == []


def test_deferrable_defaults_to_the_airflow_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert GradientRecommendationSensor(task_id="a", project_id="p").deferrable is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")
    s = GradientRecommendationSensor(task_id="b", project_id="p")
    assert s.deferrable is False
    assert (s.poke_interval, s.timeout) == (60, 7200)


@pytest.mark.parametrize(
    ("event", "error", "text"),
    [
        (
            {"status": "failed", "message": "r1 is FAILURE: x"},
            AwaitedRecommendationFailedError,
            "x",
        ),
        ({"status": "timeout", "message": "none by then."}, AirflowSensorTimeout, "Raise timeout="),
        ({"status": "error", "message": "HTTP 500"}, GradientError, "HTTP 500"),
        ({"status": "what"}, GradientError, "unexpected event"),
        (None, GradientError, "unexpected event"),
    ],
)
def test_execute_complete_turns_events_into_clear_errors(
    event: dict[str, Any] | None, error: type[Exception], text: str
) -> None:
    s = GradientRecommendationSensor(
        task_id="w", project_id="proj-9", newer_than_recommendation_id="r1"
    )
    with pytest.raises(error, match=text) as caught:
        s.execute_complete(context(), event)
    assert "proj-9" in str(caught.value)
    assert s.execute_complete(context(), {"status": "success", "recommendation_id": "r2"}) == "r2"


@pytest.mark.parametrize(("permanent", "fails_fast"), [(True, True), (False, False), (None, False)])
def test_execute_complete_maps_a_trigger_error_like_poke(
    permanent: bool | None, fails_fast: bool
) -> None:
    s = GradientRecommendationSensor(task_id="w", project_id="proj-9", newer_than="r1")
    event: dict[str, Any] = {"status": "error", "message": "refused"}
    if permanent is not None:
        event["permanent"] = permanent
    with pytest.raises(GradientError, match="refused") as caught:
        s.execute_complete(context(), event)
    assert isinstance(caught.value, AirflowFailException) is fails_fast
    assert isinstance(caught.value, PermanentError) is fails_fast
    with pytest.raises(GradientError) as resumed:
        s.resume_execution("execute_complete", {"event": event}, context())
    assert isinstance(resumed.value, AirflowFailException) is fails_fast


def test_execute_complete_failure_with_a_baseline_may_be_retried() -> None:
    s = GradientRecommendationSensor(task_id="w", project_id="p", newer_than_time="2026-01-01")
    with pytest.raises(RecommendationFailedError) as caught:
        s.execute_complete(context(), {"status": "failed", "message": "m"})
    assert not isinstance(caught.value, AirflowFailException)


def test_template_fields() -> None:
    assert set(GradientRecommendationSensor.template_fields) == {
        "project_id",
        "newer_than_recommendation_id",
        "newer_than_time",
        "newer_than",
        "job_id",
        "job_name",
        "cluster_key",
        "gradient_conn_id",
        "databricks_conn_id",
    }
