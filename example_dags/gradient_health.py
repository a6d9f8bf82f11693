"""Check every day that Gradient can still learn from a list of Databricks jobs.

    read_jobs  >>  check[i]      (one mapped GradientHealthCheckOperator per job)

Each ``check`` runs the checks of ``airflow-gradient doctor`` on one job: both connections
authenticate, the project tracks the job, its cluster carries Gradient's cluster template
(``sync:*`` tags and ``cluster_log_conf``), ``on_start`` names the workspace's Gradient
destination, the last runs reached Gradient, the recommendation in force still holds, and who
applies and who owns the job. A job with a failing check fails its task (``fail_on="fail"``),
which is what Airflow alerts on: ``email_on_failure`` or the ``on_failure_callback`` below,
which logs the failing checks from the task's XCom (key ``"health"``). One job's trouble stays
with that job's task.

Connections: ``gradient_default`` (type ``gradient``: host = API URL, login = API key ID,
password = API key secret) and ``databricks_default``.

Variables: ``gradient_health_jobs``, read when the DAG runs (parsing reads nothing): a JSON
list of Databricks job ids, or of ``{"job_id": ..., "project_id": ...}`` objects when a job has
several projects::

    [123456789, {"job_id": 987654321, "project_id": "66666666-7777-4888-9999-000000000000"}]

To adapt it: set ``schedule``; use ``fail_on="warn"`` to be told of warnings too (a reverted
recommendation, a newer one not applied, runs partly missing); replace ``alert`` with your
pager or chat hook; pass ``applying_dags=[...]`` so a project with ``auto_apply_recs`` on is
caught racing the DAGs that apply.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

from airflow_gradient.operators.health import RESULT_KEY, GradientHealthCheckOperator

JOBS_VARIABLE = "gradient_health_jobs"


def alert(context: Any) -> None:
    """Log the failing checks of a failed health task (replace with your alerting)."""
    import logging

    result = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key=RESULT_KEY) or {}
    for found in result.get("checks", []):
        if found["level"] != "ok":
            logging.getLogger(__name__).error(
                "Gradient health %s %s: %s. Fix: %s",
                found["level"],
                found["object"],
                found["message"],
                found["remedy"],
            )


with DAG(
    dag_id="gradient_health",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["gradient", "databricks", "health"],
) as dag:

    @task
    def read_jobs() -> list[dict[str, Any]]:
        """The Variable's jobs, as keyword arguments for each check."""
        from airflow.providers.common.compat.sdk import Variable

        jobs = Variable.get(JOBS_VARIABLE, deserialize_json=True)
        if not isinstance(jobs, list) or not jobs:
            raise ValueError(
                f"Variable {JOBS_VARIABLE!r} must be a non-empty JSON list of job ids, got {jobs!r}"
            )
        checks: list[dict[str, Any]] = []
        for entry in jobs:
            if isinstance(entry, dict):
                checks.append({"job_id": entry["job_id"], "project_id": entry.get("project_id")})
            else:
                checks.append({"job_id": entry, "project_id": None})
        return checks

    GradientHealthCheckOperator.partial(
        task_id="check",
        fail_on="fail",
        on_failure_callback=alert,
        max_active_tis_per_dagrun=4,
    ).expand_kwargs(read_jobs())
