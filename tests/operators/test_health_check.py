"""GradientHealthCheckOperator against the sandbox: fail_on levels, XCom, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.exceptions import AirflowFailException

from airflow_gradient.exceptions import (
    GradientError,
    HealthCheckFailedError,
    InvalidArgumentsError,
    PermanentError,
)
from airflow_gradient.operators.health import RESULT_KEY, GradientHealthCheckOperator
from airflow_gradient.sandbox import Sandbox
from tests.healthy_job import healthy_job, set_tuned_cluster, tuned_cluster
from tests.operators.conftest import FakeTaskInstance


def run(op: GradientHealthCheckOperator) -> tuple[dict[str, Any], FakeTaskInstance]:
    ti = FakeTaskInstance()
    result = op.execute({"ti": ti})  # type: ignore[typeddict-item]
    return result, ti


def check(job_id: int, **kwargs: Any) -> GradientHealthCheckOperator:
    return GradientHealthCheckOperator(
        task_id="health", job_id=job_id, databricks_hook_params={"retry_limit": 1}, **kwargs
    )


def test_healthy_job_returns_the_structured_result(sb: Sandbox) -> None:
    job = healthy_job(sb)
    result, ti = run(check(job.job_id, fail_on="warn"))
    assert result["status"] == "ok"
    assert result["project_id"] == job.project_id
    assert {c["check"] for c in result["checks"]} >= {"webhook", "runs", "template"}
    assert RESULT_KEY not in ti.pushed
    json.dumps(result)  # XCom-safe


def test_fail_on_levels(sb: Sandbox) -> None:
    job = healthy_job(sb)
    spec = tuned_cluster(sb, job.job_id)
    spec["num_workers"] = 99  # a manual override: a warning
    set_tuned_cluster(sb, job.job_id, spec)

    result, _ = run(check(job.job_id, fail_on="fail"))
    assert result["status"] == "warn"

    with pytest.raises(HealthCheckFailedError) as failed:
        run(check(job.job_id, fail_on="warn"))
    assert isinstance(failed.value, AirflowFailException)  # not retried
    assert "num_workers" in str(failed.value)


def test_a_failing_check_fails_the_task_and_pushes_the_result(sb: Sandbox) -> None:
    job = healthy_job(sb)
    sb.databricks.update_job(job.job_id, {"webhook_notifications": {}})
    op = check(job.job_id)
    ti = FakeTaskInstance()
    with pytest.raises(HealthCheckFailedError, match="webhook"):
        op.execute({"ti": ti})  # type: ignore[typeddict-item]
    pushed = ti.pushed[RESULT_KEY]
    assert pushed["status"] == "fail"
    assert [c["check"] for c in pushed["checks"] if c["level"] == "fail"] == ["webhook"]


def test_unknown_job_fails_fast(sb: Sandbox) -> None:
    with pytest.raises(InvalidArgumentsError, match="Databricks job 4242 does not exist"):
        run(check(4242))


def test_failing_connection_is_retryable(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    job = healthy_job(sb, runs=0)
    conn = sb.connection_json("gradient")
    conn["password"] = "wrong-secret"
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", json.dumps(conn))
    with pytest.raises(GradientError) as failed:
        run(check(job.job_id))
    assert not isinstance(failed.value, PermanentError)
    assert "Gradient connection failed" in str(failed.value)
    assert "wrong-secret" not in str(failed.value)


def test_bad_arguments_are_refused_at_parse_time() -> None:
    with pytest.raises(ValueError, match="fail_on"):
        GradientHealthCheckOperator(task_id="h", job_id=1, fail_on="ok")
    with pytest.raises(InvalidArgumentsError, match="not a Databricks job id"):
        GradientHealthCheckOperator(task_id="h", job_id="abc").execute({"ti": FakeTaskInstance()})  # type: ignore[typeddict-item]
