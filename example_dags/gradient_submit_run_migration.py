"""From one-time runs to a saved job Gradient can tune: two DAGs, a setup and a daily run.

Before, the daily DAG sent the whole job definition with every run::

    DatabricksSubmitRunOperator(task_id="daily_sales_etl", json=JOB_SETTINGS | {"run_name": ...})

A one-time run (``jobs/runs/submit``) has no saved Databricks job: there is nothing to write a
recommendation into, and no job history for Gradient to learn from, so
``GradientApplyRecommendationOperator`` refuses that shape. The migration keeps the same
definition (``JOB_SETTINGS`` below) and splits the DAG in two:

* ``gradient_submit_run_migration_setup`` (``@once``) creates the saved job from
  ``JOB_SETTINGS`` with ``DatabricksCreateJobsOperator``. It runs once; ``job_missing``
  skips the creation when a job named ``JOB_NAME`` already exists, so triggering the setup
  again by mistake changes nothing. Do not put ``DatabricksCreateJobsOperator`` in the daily
  DAG: when the job exists it *resets* it (``jobs/reset``) to the DAG's settings, wiping the
  recommendation on every run (between the apply and the run it is refused by the apply
  operator and by ``airflow_gradient.policies.dag_policy``).
* ``gradient_submit_run_migration`` (daily) applies the newest recommendation to the job and
  runs it: ``GradientApplyRecommendationOperator >> DatabricksRunNowOperator``, both finding
  the job by ``JOB_NAME``. Until Gradient has a recommendation the job runs as defined.

Once the setup has run, create the Gradient project for the new job, once. You need the job
id: the XCom of the setup's ``create_job`` task, or the Databricks UI. Add a project for that
job in the Gradient UI, or with the Gradient API: ``POST /v1/projects`` with
``{"name": "daily-sales-etl", "product_code": "aws-databricks", "job_id": "<job id>",
"cluster_path": "job_clusters/etl", "auto_apply_recs": false}``. Keep ``auto_apply_recs``
off: this DAG applies the recommendations, and Gradient applying them too would race it (the
apply operator refuses that). Gradient learns from the job's runs through the workspace's
notification destination on the job's ``on_start`` webhook: wire it with
``GradientWebhookOperator`` (or Gradient's onboarding). Put the project's id in the Airflow
Variable ``daily_sales_etl_gradient_project_id``, then unpause the daily DAG. Later changes to
the job's tasks go to the job itself (Databricks UI, Terraform with ``airflow-gradient terraform
ignore-changes``, Asset Bundles), never through a reset on a schedule.

Connections: ``gradient_default`` (type ``gradient``: host = API URL, login = API key ID,
password = API key secret) and ``databricks_default``.

Variables: ``daily_sales_etl_gradient_project_id`` (rendered at run time of the daily DAG).

To adapt it: paste your ``DatabricksSubmitRunOperator``'s ``json`` into ``JOB_SETTINGS``
(without ``run_name``/``idempotency_token``; give a one-task job a job cluster as below, or
keep ``new_cluster`` on the task and set the project's ``cluster_path`` to ``tasks/<task_key>``),
set ``JOB_NAME`` to a name no other job uses, and the daily DAG's ``schedule``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task
from airflow.providers.databricks.operators.databricks import (
    DatabricksCreateJobsOperator,
    DatabricksRunNowOperator,
)

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

JOB_NAME = "daily-sales-etl"
JOB_SETTINGS: dict[str, Any] = {
    "name": JOB_NAME,
    "tags": {"owner": "analytics", "managed-by": "airflow"},
    "max_concurrent_runs": 1,
    "timeout_seconds": 7200,
    "job_clusters": [
        {
            "job_cluster_key": "etl",
            "new_cluster": {
                "spark_version": "14.3.x-scala2.12",
                "node_type_id": "r5.2xlarge",
                "driver_node_type_id": "r5.xlarge",
                "autoscale": {"min_workers": 2, "max_workers": 10},
                "aws_attributes": {"availability": "ON_DEMAND", "first_on_demand": 1},
                "custom_tags": {"team": "analytics"},
            },
        }
    ],
    "tasks": [
        {
            "task_key": "load_sales",
            "job_cluster_key": "etl",
            "notebook_task": {
                "notebook_path": "/Repos/analytics/load_sales",
                "source": "WORKSPACE",
            },
        },
        {
            "task_key": "aggregate_sales",
            "depends_on": [{"task_key": "load_sales"}],
            "job_cluster_key": "etl",
            "spark_python_task": {"python_file": "/Workspace/analytics/aggregate_sales.py"},
        },
    ],
}
START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG(
    dag_id="gradient_submit_run_migration_setup",
    schedule="@once",
    start_date=START,
    catchup=False,
    doc_md=__doc__,
    tags=["gradient", "databricks", "setup"],
) as setup_dag:

    @task.short_circuit
    def job_missing(job_name: str) -> bool:
        """True when no Databricks job is named ``job_name`` (then create it)."""
        from airflow.providers.databricks.hooks.databricks import DatabricksHook

        job_id = DatabricksHook(caller="gradient_submit_run_migration_setup").find_job_id_by_name(
            job_name
        )
        if job_id is not None:
            print(f"Databricks job {job_name!r} exists (job {job_id}): not creating it again.")
        return job_id is None

    create_job = DatabricksCreateJobsOperator(task_id="create_job", json=JOB_SETTINGS)

    job_missing(JOB_NAME) >> create_job

with DAG(
    dag_id="gradient_submit_run_migration",
    schedule="@daily",
    start_date=START,
    catchup=False,
    doc_md=__doc__,
    tags=["gradient", "databricks"],
) as daily_dag:
    apply_recommendation = GradientApplyRecommendationOperator(
        task_id="apply_recommendation",
        project_id="{{ var.value.daily_sales_etl_gradient_project_id }}",
        job_name=JOB_NAME,
        guard_rails={
            "max_workers": 32,
            "allowed_availability": ["SPOT_WITH_FALLBACK", "ON_DEMAND"],
        },
    )
    run_job = DatabricksRunNowOperator(
        task_id="run_job",
        job_name=JOB_NAME,
        polling_period_seconds=5,
    )
    apply_recommendation >> run_job
