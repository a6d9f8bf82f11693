"""Apply the latest Gradient recommendation to a Databricks job, then run the job on it.

The pattern every Gradient DAG builds on:

    GradientApplyRecommendationOperator  >>  DatabricksRunNowOperator

``jobs/run-now`` has no cluster override, so the recommendation is written into the saved job
first. The apply task takes the job from the run task below it, locates the cluster the
Gradient project tunes, merges the recommendation, checks it (``guard_rails``), writes it with
``jobs/update`` only if something changes, and reads it back. With no SUCCESS recommendation yet
it leaves the job alone and the run goes ahead on the current cluster.

Connections: ``gradient_default`` (type ``gradient``: host = API URL, login = API key ID,
password = API key secret) and ``databricks_default``. The project and job ids come from the
Airflow Variables ``gradient_project_id`` and ``databricks_job_id`` (rendered at run time, so
parsing the DAG reads nothing); put literal ids there instead if you prefer. DAG-level
``params`` are avoided on purpose: ``DatabricksRunNowOperator`` forwards them to the job as
``job_parameters``.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

with DAG(
    dag_id="gradient_apply_then_run",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["gradient", "databricks"],
) as dag:
    apply_recommendation = GradientApplyRecommendationOperator(
        task_id="apply_recommendation",
        project_id="{{ var.value.gradient_project_id }}",
        guard_rails={
            "max_workers": 32,
            "allowed_availability": ["SPOT_WITH_FALLBACK", "ON_DEMAND"],
        },
    )
    run_job = DatabricksRunNowOperator(
        task_id="run_job",
        job_id="{{ var.value.databricks_job_id }}",
        polling_period_seconds=5,
    )
    apply_recommendation >> run_job
