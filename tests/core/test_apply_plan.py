"""core.apply_plan: the plan (write, or why nothing) and the five read-back outcomes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_gradient.core.apply_options import ApplyOptions
from airflow_gradient.core.apply_plan import (
    check_project,
    no_recommendation_result,
    plan_apply,
    prepare,
    read_back_outcome,
)
from airflow_gradient.core.cluster.merge import merge_recommendation
from airflow_gradient.core.errors import (
    AutoApplyConflictError,
    DatabricksJobError,
    NoRecommendationError,
    ReadBackMismatchError,
    RecommendationRevertedError,
)

PROJECT = "11111111-2222-4333-8444-555555555555"
BEFORE: dict[str, Any] = {
    "spark_version": "14.3.x-scala2.12",
    "node_type_id": "m5.large",
    "num_workers": 2,
}
CONFIGURATION: dict[str, Any] = {"num_workers": 5, "node_type_id": "m5.xlarge"}
WRITTEN = merge_recommendation(BEFORE, CONFIGURATION, recommendation_id="rec-1")
WHERE = "Databricks job 7, cluster job_clusters/main"


def as_is(key: str, value: Any) -> Any:
    """A redactor that hides nothing (these tests hold no secrets)."""
    return value


def job(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": 7,
        "settings": {
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": copy.deepcopy(spec)}],
            "tasks": [{"task_key": "t", "job_cluster_key": "main"}],
        },
    }


def recommendation(rec_id: str = "rec-1", state: str = "SUCCESS") -> dict[str, Any]:
    return {
        "id": rec_id,
        "state": state,
        "recommendation": {"configuration": CONFIGURATION} if state == "SUCCESS" else None,
    }


# --- the five read-back outcomes ---------------------------------------------------------


def test_written_and_replied_is_confirmed_by_both() -> None:
    outcome = read_back_outcome(
        WRITTEN, WRITTEN, BEFORE, None, recommendation_id="rec-1", where=WHERE, redactor=as_is
    )
    assert (outcome.confirmed_by, outcome.warning, outcome.update_error) == (
        "reply and read-back",
        False,
        None,
    )


def test_written_but_the_reply_was_lost() -> None:
    lost = TimeoutError("read timed out")
    outcome = read_back_outcome(
        WRITTEN, WRITTEN, BEFORE, lost, recommendation_id="rec-1", where=WHERE, redactor=as_is
    )
    assert (outcome.confirmed_by, outcome.warning) == ("read-back", True)
    assert outcome.update_error == "read timed out"


def test_failed_and_unchanged_is_not_applied() -> None:
    failed = TimeoutError("read timed out")
    with pytest.raises(DatabricksJobError, match="was NOT applied") as caught:
        read_back_outcome(
            WRITTEN, BEFORE, BEFORE, failed, recommendation_id="rec-1", where=WHERE, redactor=as_is
        )
    assert caught.value.__cause__ is failed
    assert not isinstance(caught.value, ReadBackMismatchError)


def test_replaced_whole_by_another_recommendation_is_superseded() -> None:
    other = merge_recommendation(BEFORE, {"num_workers": 9}, recommendation_id="rec-2")
    outcome = read_back_outcome(
        WRITTEN, other, BEFORE, None, recommendation_id="rec-1", where=WHERE, redactor=as_is
    )
    assert (outcome.confirmed_by, outcome.superseded_by) == ("reply", "rec-2")
    assert outcome.new_cluster == other


@pytest.mark.parametrize("update_error", [None, TimeoutError("lost")])
def test_anything_else_is_a_mismatch(update_error: BaseException | None) -> None:
    edited = {**WRITTEN, "num_workers": 3}
    with pytest.raises(ReadBackMismatchError, match="does not hold the spec"):
        read_back_outcome(
            edited,
            BEFORE | {"num_workers": 4},
            BEFORE,
            update_error,
            recommendation_id="rec-1",
            where=WHERE,
            redactor=as_is,
        )


# --- the plan ------------------------------------------------------------------------------


def test_a_change_is_written_as_the_whole_job_cluster_entry() -> None:
    options = ApplyOptions(project_id=PROJECT)
    target = prepare({}, recommendation(), job(BEFORE), options)
    plan = plan_apply(target, job(BEFORE)["settings"], options, redactor=as_is)
    assert plan.action == "write"
    assert plan.new_settings == {
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": WRITTEN}]
    }


def test_dry_run_and_unchanged_write_nothing() -> None:
    dry = ApplyOptions(project_id=PROJECT, dry_run=True)
    target = prepare({}, recommendation(), job(BEFORE), dry)
    plan = plan_apply(target, job(BEFORE)["settings"], dry, redactor=as_is)
    assert (plan.action, plan.new_settings, plan.result()["dry_run"]) == ("dry_run", None, True)

    options = ApplyOptions(project_id=PROJECT)
    target = prepare({}, recommendation(), job(WRITTEN), options)
    plan = plan_apply(target, job(WRITTEN)["settings"], options, redactor=as_is)
    assert plan.action == "unchanged" and plan.result()["changes"] == []


def test_a_reverted_cluster_is_kept_warned_or_refused() -> None:
    reverted = {**WRITTEN, "num_workers": 2}  # tagged rec-1, its num_workers undone
    settings = job(reverted)["settings"]
    warn = ApplyOptions(project_id=PROJECT)
    plan = plan_apply(
        prepare({}, recommendation(), job(reverted), warn), settings, warn, redactor=as_is
    )
    assert plan.action == "keep_reverted" and plan.reverted
    assert plan.result()["new_cluster"] == reverted
    fail = ApplyOptions(project_id=PROJECT, on_revert="fail")
    with pytest.raises(RecommendationRevertedError, match="no longer holds its values"):
        plan_apply(
            prepare({}, recommendation(), job(reverted), fail), settings, fail, redactor=as_is
        )


def test_the_tagged_recommendation_is_fetched_only_when_it_is_another() -> None:
    options = ApplyOptions(project_id=PROJECT)
    tagged_other = merge_recommendation(BEFORE, {}, recommendation_id="rec-0")
    assert prepare({}, recommendation(), job(tagged_other), options).tagged_to_fetch == "rec-0"
    assert prepare({}, recommendation(), job(WRITTEN), options).tagged_to_fetch is None


def test_project_checks() -> None:
    options = ApplyOptions(project_id=PROJECT)
    with pytest.raises(AutoApplyConflictError):
        check_project({"auto_apply_recs": True}, 7, options)
    allowed = ApplyOptions(project_id=PROJECT, allow_auto_apply_conflict=True)
    assert len(check_project({"auto_apply_recs": True}, 7, allowed)) == 1
    with pytest.raises(DatabricksJobError, match="tunes Databricks job 8"):
        check_project({"job_id": "8"}, 7, options)


def test_no_recommendation_skips_or_fails() -> None:
    result, message = no_recommendation_result(7, ApplyOptions(project_id=PROJECT))
    assert result["applied"] is False and result["recommendation_id"] is None
    assert "left as it is" in message
    with pytest.raises(NoRecommendationError):
        no_recommendation_result(7, ApplyOptions(project_id=PROJECT, if_no_recommendation="fail"))
    with pytest.raises(NoRecommendationError, match="is PENDING"):
        prepare({}, recommendation(state="PENDING"), job(BEFORE), ApplyOptions(project_id=PROJECT))


# --- secret values ----------------------------------------------------------------------------

KEY_NAME = "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net"


def hide_keys(key: str, value: Any) -> Any:
    """A stand-in redactor: names with ``.key.`` or PASSWORD."""
    return "***" if ".key." in key or "PASSWORD" in key else value


def test_the_revert_warning_and_the_result_hide_secret_values() -> None:
    secret_before = {**BEFORE, "spark_conf": {KEY_NAME: "key-now-4410"}}
    tagged = {**CONFIGURATION, "spark_conf": {KEY_NAME: "key-recommended-9931"}}
    reverted = merge_recommendation(secret_before, {}, recommendation_id="rec-0")
    options = ApplyOptions(project_id=PROJECT, on_revert="reapply")
    target = prepare({}, recommendation(), job(reverted), options)

    plan = plan_apply(
        target, job(reverted)["settings"], options, tagged_configuration=tagged, redactor=hide_keys
    )

    assert plan.revert_warning is not None and KEY_NAME in plan.revert_warning
    assert "key-now-4410" not in plan.revert_warning
    assert "key-recommended-9931" not in plan.revert_warning
    result = plan.result()
    assert result["previous_cluster"] is not None
    assert result["previous_cluster"]["spark_conf"] == {KEY_NAME: "***"}
    assert "key-now-4410" not in str(result)


def test_a_read_back_mismatch_hides_secret_values() -> None:
    written = {**WRITTEN, "spark_env_vars": {"DB_PASSWORD": "pw-written-1180"}}
    found = {**WRITTEN, "spark_env_vars": {"DB_PASSWORD": "pw-found-2261"}}
    with pytest.raises(ReadBackMismatchError) as caught:
        read_back_outcome(
            written, found, BEFORE, None, recommendation_id="rec-1", where=WHERE, redactor=hide_keys
        )
    message = str(caught.value)
    assert "spark_env_vars.DB_PASSWORD" in message
    assert "pw-written-1180" not in message and "pw-found-2261" not in message


def test_a_result_with_a_cluster_needs_a_redactor() -> None:
    from airflow_gradient.core.results import apply_result

    with pytest.raises(TypeError, match="needs a redactor"):
        apply_result(job_id=7, dry_run=False, new_cluster=BEFORE)
