"""Errors a retry cannot fix fail the task once; transient ones use its retries.

One DAG, run with ``airflow dags test`` against the sandbox: every apply task has
``retries=2`` and no retry delay, and each meets one permanent error. A control task meets a
permanent HTTP 500 from Gradient (transient by nature) and must be tried three times, which
shows that ``airflow dags test`` does retry and that the attempts are counted right.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from airflow_gradient.sandbox import Sandbox
from tests.operators.conftest import configuration, job_settings
from tests.templates.harness import AirflowHome

DAG_ID = "fail_fast"

DAG_TEXT = '''\
"""Every permanent error of the apply operator, each on a task with retries."""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
from airflow.sdk import DAG

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

TARGETS = {targets}

with DAG(
    dag_id="{dag_id}",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={{"retries": 2, "retry_delay": timedelta(0)}},
):
    for name, (job_id, project_id, extra) in TARGETS.items():
        apply = GradientApplyRecommendationOperator(
            task_id=name,
            project_id=project_id,
            job_id=job_id,
            gradient_hook_params={{"retry_limit": 1, "retry_delay": 0.01}},
            databricks_hook_params={{"retry_limit": 1, "retry_delay": 0.01}},
            **extra,
        )
        if name == "unsupported_dag_shape":
            apply >> DatabricksNotebookOperator(
                task_id="one_time_notebook",
                notebook_path="/Shared/etl",
                source="WORKSPACE",
                new_cluster={{"spark_version": "15.4.x-scala2.12", "num_workers": 1}},
            )
'''

#: task id → the error it must fail with, once.
PERMANENT = {
    "guard_rails": "GuardRailViolationError",
    "unsupported_dag_shape": "UnsupportedPathError",
    "invalid_recommendation": "InvalidRecommendationError",
    "auto_apply_conflict": "AutoApplyConflictError",
    "no_job_reference": "InvalidArgumentsError",
    "ambiguous_cluster": "AmbiguousClusterError",
    "missing_cluster": "ClusterNotFoundError",
}
TRANSIENT = {"gradient_500": "GradientApiError"}
# A guard_rails typo no longer reaches execute: the DAG fails to parse (see
# tests/operators/test_apply_arguments.py).


def _targets(sb: Sandbox) -> dict[str, tuple[int | None, str, dict[str, Any]]]:
    """One job and project per task, each set up to meet its error."""

    def target(
        job: dict[str, Any] | None = None, rec: dict[str, Any] | None = None, **project: Any
    ) -> tuple[int, str]:
        job_id = sb.databricks.create_job(job or job_settings("shared_job_cluster"))
        project_id = str(sb.gradient.create_project(job_id=job_id, **project)["id"])
        config = rec if rec is not None else configuration("aws_fixed_success")
        config.get("custom_tags", {}).pop("sync:project-id", None)
        config.get("custom_tags", {}).pop("sync:recommendation-id", None)
        sb.gradient.add_recommendation(project_id, config, state="SUCCESS")
        return job_id, project_id

    two_untagged = copy.deepcopy(job_settings("multi_cluster_tagged"))
    for cluster in two_untagged["job_clusters"]:
        cluster["new_cluster"].get("custom_tags", {}).pop("sync:project-id", None)
    too_big = configuration("aws_fixed_success")
    too_big.pop("num_workers")
    too_big["autoscale"] = {"min_workers": 1, "max_workers": 50000}

    targets: dict[str, tuple[int | None, str, dict[str, Any]]] = {}
    job_id, project_id = target()
    targets["guard_rails"] = (job_id, project_id, {"guard_rails": {"max_workers": 1}})
    job_id, project_id = target()
    targets["unsupported_dag_shape"] = (job_id, project_id, {})
    job_id, project_id = target(rec=too_big)
    targets["invalid_recommendation"] = (job_id, project_id, {})
    job_id, project_id = target(auto_apply_recs=True)
    targets["auto_apply_conflict"] = (job_id, project_id, {})
    job_id, project_id = target()
    targets["no_job_reference"] = (None, project_id, {})
    job_id, project_id = target(job=two_untagged)
    targets["ambiguous_cluster"] = (job_id, project_id, {})
    job_id, project_id = target()
    targets["missing_cluster"] = (job_id, project_id, {"cluster_key": "no_such_cluster"})
    job_id, project_id = target()
    targets["gradient_500"] = (job_id, project_id, {})
    sb.faults.inject(
        "gradient",
        "GET",
        f"/v1/projects/{project_id}/recommendations",
        status=500,
        body={"error": {"code": "INTERNAL", "message": "boom"}},
        times=100,
    )
    return targets


def _attempts(output: str) -> dict[str, list[str]]:
    """task id → the error class each of its attempts ended with, from ``dags test`` output."""
    found: dict[str, list[str]] = {}
    parts = re.split(r"\[DAG TEST\] starting task_id=(\w+)", output)
    for task_id, text in zip(parts[1::2], parts[2::2], strict=True):
        errors = re.findall(r"airflow_gradient\.exceptions\.(\w+):", text)
        found.setdefault(task_id, []).append(errors[-1] if errors else "no error")
    return found


def test_permanent_errors_fail_once_and_transient_ones_retry(
    template_sb: Sandbox, airflow_home: Callable[..., AirflowHome]
) -> None:
    home = airflow_home()
    targets = _targets(template_sb)
    (home.dags / f"{DAG_ID}.py").write_text(
        DAG_TEXT.format(dag_id=DAG_ID, targets=json.dumps(targets).replace("null", "None"))
    )
    result = home.dags_test(DAG_ID, home.env(connections=template_sb.connections()), timeout=240)
    assert result.returncode != 0, "every apply task fails, so the run fails"

    attempts = _attempts(result.output)
    expected = {task_id: [error] for task_id, error in PERMANENT.items()}
    expected.update({task_id: [error] * 3 for task_id, error in TRANSIENT.items()})
    assert {task_id: attempts.get(task_id) for task_id in expected} == expected
    reads = template_sb.requests_to(
        "gradient", "GET", f"/v1/projects/{targets['gradient_500'][1]}/recommendations"
    )
    assert len(reads) == 3  # one read per attempt (retry_limit=1 in the hook)
