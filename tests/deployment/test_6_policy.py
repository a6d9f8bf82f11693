"""Scenario 6: a DAG the policy refuses shows up in importErrors and is never scheduled."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.deployment.client import AirflowApi, wait_until

DAG_ID = "deployment_policy_violation"
DAG_FILE = '''
"""Apply, then a one-time run: the run ignores the job's cluster, so the policy refuses it."""

import pendulum
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

with DAG(
    dag_id="deployment_policy_violation",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=False,
):
    apply = GradientApplyRecommendationOperator(task_id="apply", project_id="p", job_id=1)
    submit = DatabricksSubmitRunOperator(
        task_id="submit", json={"run_name": "x", "tasks": []}
    )
    apply >> submit
'''


def test_policy_violation_is_an_import_error_and_never_scheduled(
    api: AirflowApi, deployment: dict[str, Any], figures: dict[str, Any]
) -> None:
    path = Path(deployment["dags_folder"]) / f"{DAG_ID}.py"
    path.write_text(DAG_FILE)
    try:
        started = time.monotonic()

        def import_error() -> dict[str, Any] | None:
            errors = api.request("GET", "/api/v2/importErrors", params={"limit": 100})
            return next(
                (e for e in errors["import_errors"] if e["filename"].endswith(path.name)), None
            )

        error = wait_until(import_error, timeout=180, what=f"an import error for {path.name}")
        figures["trigger_to_success_s"]["6 policy: file dropped -> import error"] = round(
            time.monotonic() - started, 1
        )
        trace = error["stack_trace"]
        assert "AirflowClusterPolicyViolation" in trace, trace
        assert "airflow_gradient.policies" in trace and "DatabricksSubmitRunOperator" in trace
        # Parsed again by the dag-processor (a later import error time), and still unknown to
        # the scheduler: no DAG, no run.
        first_seen = error["timestamp"]
        wait_until(
            lambda: (e := import_error()) is not None and e["timestamp"] != first_seen,
            timeout=120,
            what="a second parse of the refused file",
        )
        assert api.status(f"/api/v2/dags/{DAG_ID}") == 404
        runs = api.request("GET", "/api/v2/dags/~/dagRuns", params={"limit": 1000})
        assert all(r["dag_id"] != DAG_ID for r in runs["dag_runs"])
    finally:
        path.unlink(missing_ok=True)
