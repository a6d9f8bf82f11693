"""GradientRollbackOperator against the sandbox over real sockets: apply, then roll back."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_gradient.exceptions import InvalidArgumentsError, RollbackRefusedError
from airflow_gradient.sandbox import Sandbox

Target = Callable[..., tuple[int, str]]
Run = Callable[..., dict[str, Any]]
APPLY = "apply_recommendation"


def writes(sb: Sandbox) -> list[str]:
    """Every request that could change a job (anything but a read)."""
    return [
        f"{r.method} {r.path}"
        for r in sb.requests
        if r.service == "databricks" and r.method != "GET"
    ]


def settings_of(sb: Sandbox, job_id: int) -> dict[str, Any]:
    settings: dict[str, Any] = sb.databricks.get_job(job_id)["settings"]
    return settings


def xcom(result: dict[str, Any]) -> dict[str, Any]:
    """The apply result as XCom holds it: JSON, without the test's ``_links``."""
    value: dict[str, Any] = json.loads(
        json.dumps({k: v for k, v in result.items() if k != "_links"})
    )
    return value


def applied(
    sb: Sandbox, make_target: Target, run_apply: Run, job: str = "shared_job_cluster", **kw: Any
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """A job with the recommendation applied: (job id, settings before the apply, apply XCom)."""
    job_id, project_id = make_target(job, **kw)
    before = settings_of(sb, job_id)
    result = xcom(run_apply(project_id=project_id, job_id=job_id))
    assert result["applied"] is True
    assert settings_of(sb, job_id) != before
    sb.clear_requests()
    return job_id, before, result


def test_rollback_restores_exactly_the_previous_spec_and_nothing_else(
    sb: Sandbox, make_target: Target, run_apply: Run, run_rollback: Run
) -> None:
    job_id, before, result = applied(sb, make_target, run_apply)

    out = run_rollback(xcom={APPLY: result})

    assert settings_of(sb, job_id) == before  # the whole job, not just the cluster
    assert writes(sb) == ["POST /api/2.2/jobs/update"]
    assert out["_pulled"] == [APPLY]
    assert out["rolled_back"] is True and out["forced"] is False
    assert out["job_id"] == job_id and out["cluster_path"] == "job_clusters/main"
    assert out["restored_cluster"] == before["job_clusters"][0]["new_cluster"]
    assert out["replaced_cluster"] == result["new_cluster"]
    assert {"path": "num_workers", "before": 4, "after": None} in out["changes"]
    assert out["_links"]["databricks_job_url"].endswith(f"/jobs/{job_id}")
    json.dumps({k: v for k, v in out.items() if not k.startswith("_")})  # JSON-safe XCom

    again = run_rollback(xcom={APPLY: result})  # idempotent: already back

    assert again["rolled_back"] is False and "already holds" in again["reason"]
    assert writes(sb) == ["POST /api/2.2/jobs/update"]


def test_task_level_cluster_is_rolled_back_with_the_task_intact(
    sb: Sandbox, make_target: Target, run_apply: Run, run_rollback: Run
) -> None:
    job_id, before, result = applied(
        sb,
        make_target,
        run_apply,
        "task_clusters",
        rec="aws_autoscale_success",
        cluster_path="tasks/train",
    )
    assert result["cluster_path"] == "tasks/train"

    out = run_rollback(apply_result=result)

    assert out["rolled_back"] is True and out["_pulled"] == []
    assert settings_of(sb, job_id) == before


def test_a_cluster_changed_since_is_refused_without_writing(
    sb: Sandbox, make_target: Target, run_apply: Run, run_rollback: Run
) -> None:
    job_id, _, result = applied(sb, make_target, run_apply)
    entry = copy.deepcopy(settings_of(sb, job_id)["job_clusters"][0])
    entry["new_cluster"]["num_workers"] = 6  # someone resized it after the apply
    sb.databricks.update_job(job_id, {"job_clusters": [entry]})
    changed = settings_of(sb, job_id)
    sb.clear_requests()

    with pytest.raises(RollbackRefusedError) as caught:
        run_rollback(xcom={APPLY: result})

    assert writes(sb) == []
    assert settings_of(sb, job_id) == changed
    message = str(caught.value)
    assert f"Refusing to roll back Databricks job {job_id} cluster job_clusters/main" in message
    assert "before apply" in message and "force=True" in message
    row = next(line for line in message.splitlines() if line.startswith("num_workers "))
    assert [cell.strip() for cell in row.split("|")] == ["num_workers", "(absent)", "4", "6"]
    assert {"path": "num_workers", "previous": None, "applied": 4, "current": 6} in (
        caught.value.differences
    )


def test_force_restores_a_cluster_changed_since(
    sb: Sandbox, make_target: Target, run_apply: Run, run_rollback: Run
) -> None:
    job_id, before, result = applied(sb, make_target, run_apply)
    entry = copy.deepcopy(settings_of(sb, job_id)["job_clusters"][0])
    entry["new_cluster"]["num_workers"] = 6
    sb.databricks.update_job(job_id, {"job_clusters": [entry]})
    sb.clear_requests()

    out = run_rollback(xcom={APPLY: result}, force=True)

    assert out["rolled_back"] is True and out["forced"] is True
    assert out["replaced_cluster"]["num_workers"] == 6
    assert settings_of(sb, job_id) == before
    assert writes(sb) == ["POST /api/2.2/jobs/update"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_apply_that_did_not_write_is_a_no_op(
    sb: Sandbox, make_target: Target, run_apply: Run, run_rollback: Run, dry_run: bool
) -> None:
    job_id, project_id = make_target(rec=None if not dry_run else "aws_fixed_success")
    before = settings_of(sb, job_id)
    result = xcom(run_apply(project_id=project_id, job_id=job_id, dry_run=dry_run))
    assert result["applied"] is False
    sb.clear_requests()

    out = run_rollback(xcom={APPLY: result})

    assert out["rolled_back"] is False
    assert ("dry run" if dry_run else "wrote nothing") in out["reason"]
    assert out["restored_cluster"] is None and out["replaced_cluster"] is None
    assert [r for r in sb.requests if r.service == "databricks"] == []  # not even read
    assert settings_of(sb, job_id) == before


def test_a_missing_apply_result_fails_without_retries(sb: Sandbox, run_rollback: Run) -> None:
    with pytest.raises(RollbackRefusedError, match="returned no result") as caught:
        run_rollback(xcom={})

    assert isinstance(caught.value, AirflowFailException)  # permanent: no retry
    assert f"apply task {APPLY!r}" in str(caught.value)
    assert sb.requests == []


@pytest.mark.parametrize("via", ["apply_task_id", "apply_result"])
def test_a_missing_apply_result_is_a_no_op_when_allowed(
    sb: Sandbox, run_rollback: Run, via: str
) -> None:
    kwargs: dict[str, Any] = {"apply_task_id": APPLY} if via == "apply_task_id" else {}
    if via == "apply_result":
        kwargs["apply_result"] = "None"  # what a template renders for a missing XCom

    out = run_rollback(xcom={}, allow_missing_result=True, **kwargs)

    assert out["rolled_back"] is False and "returned no result" in out["reason"]
    assert out["_pulled"] == ([APPLY] if via == "apply_task_id" else [])
    assert sb.requests == []


def test_an_apply_task_id_naming_no_task_fails_without_retries(
    sb: Sandbox, run_rollback: Run
) -> None:
    with pytest.raises(InvalidArgumentsError) as caught:
        run_rollback(apply_task_id="apply_somewhere_else", xcom={})

    message = str(caught.value)
    assert isinstance(caught.value, AirflowFailException)
    assert (
        "apply_task_id='apply_somewhere_else', which is no task of DAG 'test_rollback'" in message
    )
    assert f"apply tasks of the DAG: {APPLY}" in message and "apply_result=" in message
    assert sb.requests == []


def test_an_apply_task_id_naming_another_kind_of_task_fails_at_parse_time() -> None:
    from airflow.providers.common.compat.sdk import DAG
    from airflow.providers.standard.operators.empty import EmptyOperator

    from airflow_gradient.operators.rollback import GradientRollbackOperator

    with DAG(dag_id="wrong_kind", schedule=None):
        EmptyOperator(task_id="run_job")
        with pytest.raises(ValueError, match="a EmptyOperator, not a GradientApplyRecommendation"):
            GradientRollbackOperator(task_id="rollback", apply_task_id="run_job")


def test_the_old_default_apply_task_id_still_works_with_a_deprecation_warning(
    sb: Sandbox, make_target: Target, run_apply: Run, run_rollback: Run
) -> None:
    from airflow_gradient._compat import AirflowProviderDeprecationWarning

    job_id, before, result = applied(sb, make_target, run_apply)

    with pytest.warns(AirflowProviderDeprecationWarning, match="apply_result=<apply task>.output"):
        out = run_rollback(xcom={APPLY: result}, legacy_default=True)

    assert out["rolled_back"] is True and out["_pulled"] == [APPLY]
    assert settings_of(sb, job_id) == before


def test_apply_result_from_the_apply_task_output_rolls_back(
    sb: Sandbox, make_target: Target, run_apply: Run, run_rollback: Run
) -> None:
    job_id, before, result = applied(sb, make_target, run_apply)

    out = run_rollback(apply_result=result)

    assert out["rolled_back"] is True and out["_pulled"] == []
    assert settings_of(sb, job_id) == before


def test_an_explicit_spec_is_restored_and_read_back(
    sb: Sandbox, make_target: Target, run_rollback: Run
) -> None:
    job_id, _ = make_target("task_clusters", rec=None)
    before = settings_of(sb, job_id)
    spec = {"spark_version": "14.3.x-scala2.12", "node_type_id": "r5.xlarge", "num_workers": 3}

    out = run_rollback(job_id=str(job_id), cluster_key="train", cluster_spec=spec)

    after = settings_of(sb, job_id)
    expected = copy.deepcopy(before)
    next(t for t in expected["tasks"] if t["task_key"] == "train")["new_cluster"] = spec
    assert after == expected
    assert out["rolled_back"] is True and out["cluster_path"] == "tasks/train"
    assert [r.method for r in sb.requests if r.service == "databricks"] == ["GET", "POST", "GET"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"apply_result": {}, "cluster_spec": {}, "job_id": 1, "cluster_key": "m"}, "not both"),
        ({"cluster_spec": {"num_workers": 1}, "job_id": 1}, "needs job_id and cluster_key"),
        ({"job_id": 1}, "go with cluster_spec"),
        ({"apply_task_id": ""}, "say what to roll back"),
        ({"apply_task_id": "apply", "apply_result": {}}, "not both"),
    ],
)
def test_conflicting_arguments_fail_at_parse_time(kwargs: dict[str, Any], words: str) -> None:
    from airflow_gradient.operators.rollback import GradientRollbackOperator

    with pytest.raises(ValueError, match=words):
        GradientRollbackOperator(task_id="rollback", **kwargs)
