"""Errors a retry cannot fix fail the task once; transient ones use its retries.

One DAG, run with ``airflow dags test`` against the sandbox: every apply task has
``retries=2`` and no retry delay, and each meets one permanent error. A control task meets a
permanent HTTP 500 from Gradient (transient by nature) and must be tried three times, which
shows that ``airflow dags test`` does retry and that the attempts are counted right.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from airflow_gradient.sandbox import Sandbox
from tests.operators.conftest import configuration, job_settings
from tests.scenarios.templates.harness import AirflowHome

DAG_ID = "fail_fast"

DAG_TEXT = '''\
"""Every permanent error of each operator and sensor, each on a task with retries."""
from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
from airflow.sdk import DAG

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator
from airflow_gradient.operators.request import GradientRequestRecommendationOperator
from airflow_gradient.operators.rollback import GradientRollbackOperator
from airflow_gradient.operators.webhook import GradientWebhookOperator
from airflow_gradient.sensors.recommendation import GradientRecommendationSensor

OPERATORS = {{
    "apply": GradientApplyRecommendationOperator,
    "request": GradientRequestRecommendationOperator,
    "rollback": GradientRollbackOperator,
    "webhook": GradientWebhookOperator,
    "sensor": GradientRecommendationSensor,
}}
GRADIENT = {{"gradient_hook_params": {{"retry_limit": 1, "retry_delay": 0.01}}}}
DATABRICKS = {{"databricks_retry_limit": 1, "databricks_retry_delay": 0.01}}
HOOKS = {{
    "apply": {{**GRADIENT, **DATABRICKS}},
    "request": GRADIENT,
    "rollback": DATABRICKS,
    "webhook": {{**GRADIENT, **DATABRICKS}},
    "sensor": {{**GRADIENT, **DATABRICKS, "poke_interval": 1, "timeout": 120}},
}}

TASKS = {tasks}

with DAG(
    dag_id="{dag_id}",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={{"retries": 2, "retry_delay": timedelta(0)}},
):
    for name, (kind, arguments) in TASKS.items():
        task = OPERATORS[kind](task_id=name, **HOOKS[kind], **arguments)
        if name == "unsupported_dag_shape":
            task >> DatabricksNotebookOperator(
                task_id="one_time_notebook",
                notebook_path="/Shared/etl",
                source="WORKSPACE",
                new_cluster={{"spark_version": "15.4.x-scala2.12", "num_workers": 1}},
            )
'''

#: task id → the error it must fail with, once.
PERMANENT = {
    # apply
    "guard_rails": "GuardRailViolationError",
    "unsupported_dag_shape": "UnsupportedPathError",
    "invalid_recommendation": "InvalidRecommendationError",
    "auto_apply_conflict": "AutoApplyConflictError",
    "no_job_reference": "InvalidArgumentsError",
    "ambiguous_cluster": "AmbiguousClusterError",
    "missing_cluster": "ClusterNotFoundError",
    "apply_job_id_not_a_number": "InvalidJobReferenceError",
    "apply_job_of_another_project": "InvalidJobReferenceError",
    "apply_no_such_job": "DatabricksRequestRefusedError",
    "apply_no_such_project": "GradientRequestRefusedError",
    # request
    "request_no_such_project": "GradientRequestRefusedError",
    # rollback
    "rollback_unusable_apply_result": "RollbackRefusedError",
    "rollback_no_such_cluster": "ClusterNotFoundError",
    "rollback_job_id_not_a_number": "RollbackRefusedError",
    # webhook
    "webhook_no_source_after_rendering": "DestinationConfigurationError",
    "webhook_job_id_not_a_number": "InvalidJobReferenceError",
    "webhook_missing_connection": "DestinationConfigurationError",
    "webhook_unknown_workspace": "DestinationConfigurationError",
    # sensor, in poke
    "sensor_unreadable_newer_than": "InvalidArgumentsError",
    "sensor_newer_than_not_in_project": "InvalidArgumentsError",
    "sensor_job_id_not_a_number": "InvalidJobReferenceError",
    # sensor, resumed after the trigger
    "deferred_no_such_project": "PermanentError",
    "deferred_unreadable_listing": "PermanentError",
}
TRANSIENT = {"gradient_500": "GradientApiError"}
#: Deferrable sensors: what shows their error came from the trigger, through execute_complete.
DEFERRED = {
    "deferred_no_such_project": "stopped after 1 poll(s)",
    "deferred_unreadable_listing": "has no readable created_at",
}
AFTER = "2026-01-01T00:00:00Z"
NO_PROJECT = "99999999-2222-4333-8444-555555555555"


def _tasks(sb: Sandbox) -> dict[str, tuple[str, dict[str, Any]]]:
    """task id → (operator kind, arguments): one job and project per task, each set up to
    meet its error."""

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

    def apply(
        job_id: int | str | None, project_id: str, **extra: Any
    ) -> tuple[str, dict[str, Any]]:
        return "apply", {"job_id": job_id, "project_id": project_id, **extra}

    two_untagged = copy.deepcopy(job_settings("multi_cluster_tagged"))
    for cluster in two_untagged["job_clusters"]:
        cluster["new_cluster"].get("custom_tags", {}).pop("sync:project-id", None)
    too_big = configuration("aws_fixed_success")
    too_big.pop("num_workers")
    too_big["autoscale"] = {"min_workers": 1, "max_workers": 50000}

    tasks: dict[str, tuple[str, dict[str, Any]]] = {}
    tasks["guard_rails"] = apply(*target(), guard_rails={"max_workers": 1})
    tasks["unsupported_dag_shape"] = apply(*target())
    tasks["invalid_recommendation"] = apply(*target(rec=too_big))
    tasks["auto_apply_conflict"] = apply(*target(auto_apply_recs=True))
    tasks["no_job_reference"] = apply(None, target()[1])
    tasks["ambiguous_cluster"] = apply(*target(job=two_untagged))
    tasks["missing_cluster"] = apply(*target(), cluster_key="no_such_cluster")
    tasks["apply_job_id_not_a_number"] = apply("{{ 'job-7' }}", target()[1])
    other_job, _ = target()
    tasks["apply_job_of_another_project"] = apply(other_job, target()[1])
    tasks["apply_no_such_job"] = apply(424242, target()[1])
    tasks["apply_no_such_project"] = apply(target()[0], NO_PROJECT)

    tasks["request_no_such_project"] = ("request", {"project_id": NO_PROJECT})

    job_id, _ = target()
    spec = job_settings("shared_job_cluster")["job_clusters"][0]["new_cluster"]
    tasks["rollback_unusable_apply_result"] = ("rollback", {"apply_result": {"applied": True}})
    tasks["rollback_no_such_cluster"] = (
        "rollback",
        {"job_id": job_id, "cluster_key": "no_such_cluster", "cluster_spec": spec},
    )
    tasks["rollback_job_id_not_a_number"] = (
        "rollback",
        {"job_id": "{{ 'job-7' }}", "cluster_key": "main", "cluster_spec": spec},
    )

    tasks["webhook_no_source_after_rendering"] = (
        "webhook",
        {"job_id": job_id, "webhook_conn_id": "{{ '' }}"},
    )
    tasks["webhook_job_id_not_a_number"] = (
        "webhook",
        {"job_id": "{{ 'job-7' }}", "webhook_conn_id": "no_such_conn"},
    )
    tasks["webhook_missing_connection"] = (
        "webhook",
        {"job_id": job_id, "webhook_conn_id": "no_such_conn"},
    )
    tasks["webhook_unknown_workspace"] = (
        "webhook",
        {"job_id": job_id, "gradient_workspace_id": "31337"},
    )

    job_id, project_id = target()
    tasks["sensor_unreadable_newer_than"] = (
        "sensor",
        {"project_id": project_id, "newer_than_time": "2026-13-45T99:00:00Z"},
    )
    tasks["sensor_newer_than_not_in_project"] = (
        "sensor",
        {"project_id": project_id, "newer_than_recommendation_id": "no-such-recommendation"},
    )
    tasks["sensor_job_id_not_a_number"] = (
        "sensor",
        {"project_id": project_id, "job_id": "{{ 'job-7' }}"},
    )
    tasks["deferred_no_such_project"] = (
        "sensor",
        {"project_id": NO_PROJECT, "newer_than_time": AFTER, "deferrable": True},
    )
    _, project_id = target()
    tasks["deferred_unreadable_listing"] = (
        "sensor",
        {"project_id": project_id, "newer_than_time": AFTER, "deferrable": True},
    )
    sb.faults.inject(
        "gradient",
        "GET",
        f"/v1/projects/{project_id}/recommendations",
        status=200,
        body={"result": [{"id": "r-1", "state": "PENDING", "created_at": "yesterday"}]},
        times=100,
    )

    tasks["gradient_500"] = apply(*target())
    project_id = tasks["gradient_500"][1]["project_id"]
    sb.faults.inject(
        "gradient",
        "GET",
        f"/v1/projects/{project_id}/recommendations",
        status=500,
        body={"error": {"code": "INTERNAL", "message": "boom"}},
        times=100,
    )
    return tasks


def _attempts(output: str) -> dict[str, list[str]]:
    """task id → the error class each of its runs ended with, from ``dags test`` output."""
    found: dict[str, list[str]] = {}
    parts = re.split(r"\[DAG TEST\] starting task_id=(\w+)", output)
    for task_id, text in zip(parts[1::2], parts[2::2], strict=True):
        errors = re.findall(r"airflow_gradient\.(?:exceptions|core\.errors)\.(\w+):", text)
        found.setdefault(task_id, []).append(errors[-1] if errors else "no error")
    return found


def _last_run(output: str, task_id: str) -> str:
    """The ``dags test`` output of the last run of ``task_id``."""
    parts = re.split(r"\[DAG TEST\] starting task_id=(\w+)", output)
    texts = [text for name, text in zip(parts[1::2], parts[2::2], strict=True) if name == task_id]
    return texts[-1] if texts else ""


def _failed_fast(output: str, task_id: str) -> bool:
    """Whether the error that ended ``task_id`` left it as an AirflowFailException (the
    mapped error is printed from ``airflow_gradient.exceptions``, after its cause)."""
    return bool(re.search(r"airflow_gradient\.exceptions\.\w+:", _last_run(output, task_id)))


def test_permanent_errors_fail_once_and_transient_ones_retry(
    template_sb: Sandbox, airflow_home: Callable[..., AirflowHome]
) -> None:
    home = airflow_home()
    tasks = _tasks(template_sb)
    jobs_before = template_sb.databricks.jobs
    template_sb.clear_requests()
    (home.dags / f"{DAG_ID}.py").write_text(DAG_TEXT.format(dag_id=DAG_ID, tasks=repr(tasks)))
    result = home.dags_test(DAG_ID, home.env(connections=template_sb.connections()), timeout=480)
    assert result.returncode != 0, "every task fails, so the run fails"

    attempts = _attempts(result.output)
    expected = {task_id: [error] for task_id, error in PERMANENT.items()}
    expected.update({task_id: [error] * 3 for task_id, error in TRANSIENT.items()})
    assert {task_id: attempts.get(task_id) for task_id in expected} == expected
    assert all(_failed_fast(result.output, task_id) for task_id in PERMANENT)
    for task_id, words in DEFERRED.items():
        run = _last_run(result.output, task_id)
        assert "Deferring: waiting for a SUCCESS recommendation" in run, run[-3000:]
        assert words in run, run[-3000:]
    assert not _failed_fast(result.output, "gradient_500")
    reads = template_sb.requests_to(
        "gradient", "GET", f"/v1/projects/{tasks['gradient_500'][1]['project_id']}/recommendations"
    )
    assert len(reads) == 3  # one read per attempt (retry_limit=1 in the hook)

    # Nothing was written anywhere: every job as it was, no destination, no request.
    assert template_sb.databricks.jobs == jobs_before
    assert not template_sb.requests_to("databricks", "POST", "/api/2.2/jobs/update")
    assert not template_sb.requests_to("databricks", "POST", "/api/2.1/jobs/update")
    assert not template_sb.requests_to("databricks", "POST", "/api/2.0/notification-destinations")
    assert not [
        r
        for r in template_sb.requests_to("gradient", "POST")
        if r.path.endswith("/recommendations")
    ]
