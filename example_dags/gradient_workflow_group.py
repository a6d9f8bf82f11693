"""Gradient for a job defined in the DAG: a ``DatabricksWorkflowTaskGroup`` on tuned clusters.

    gradient_clusters  >>  workflow.launch  >>  workflow.etl  >>  workflow.report

The databricks provider's ``DatabricksWorkflowTaskGroup`` builds its Databricks job
(``<dag_id>.<group_id>``, here ``gradient_workflow_group.workflow``) from the DAG and replaces
it whole (``jobs/reset``) at every launch, so a recommendation written into the job between
runs never survives. Instead, ``gradient_clusters`` (``GradientWorkflowClustersOperator``)
computes the group's ``job_clusters`` on every run:

1. ``BASELINE_JOB_CLUSTERS`` below, as written in the DAG;
2. Gradient's cluster template merged into the tuned cluster (the ``sync:*`` tags and the
   ``cluster_log_conf`` Gradient collects each run from);
3. the project's newest SUCCESS recommendation merged on top (first run, no recommendation
   yet, or one older than the job: baseline + template, and the log says why).

``GUARD_RAILS`` are checked first: a recommendation that breaks one fails ``gradient_clusters``
at once (no retries) and the launch does not run. Once the job exists the Gradient project is
linked to it (``job_id``, ``cluster_path``) if it was not.

Gradient hears of every run through the ``on_start`` webhook of its workspace: from
apache-airflow-providers-databricks 7.10 the group's ``extra_job_params`` is templated and takes
``gradient_clusters.extra_job_params_output``; on 7.9 give it the static form
``{"webhook_notifications": {"on_start": [{"id": "<webhook_id of the Gradient workspace>"}]}}``
(``GRADIENT_WEBHOOK_ID`` below). Provider 7.1+ is needed for a templated ``job_clusters``.

Keep ``max_active_runs=1``: two overlapping runs reset and run the same Databricks job, and
the second reset wins for both.

Connections: ``gradient_default`` (type ``gradient``) and ``databricks_default``.

Variables: ``gradient_project_id`` (may be left out once the job exists and exactly one project
tracks it: drop ``project_id=``); optional ``gradient_dry_run`` (``"true"``: return baseline +
template and only log what the recommendation would change).

To adapt it: put your clusters in ``BASELINE_JOB_CLUSTERS`` and your tasks in the group (on
``job_cluster_key``s: a task-level ``new_cluster=`` is dropped by the provider inside a group);
with several job clusters choose the tuned one with ``cluster_key=`` (or the project's
``cluster_path``); set ``GUARD_RAILS``; your own ``extra_job_params`` go to
``GradientWorkflowClustersOperator(extra_job_params=...)``, which hands them on with the webhook.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.databricks import __version__ as DATABRICKS_PROVIDER_VERSION
from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
from airflow.providers.databricks.operators.databricks_workflow import DatabricksWorkflowTaskGroup
from packaging.version import Version

from airflow_gradient.operators.workflow_clusters import GradientWorkflowClustersOperator

PROJECT_ID = "{{ var.value.gradient_project_id }}"
GUARD_RAILS: dict[str, Any] = {
    "max_workers": 16,
    "allowed_availability": ["SPOT_WITH_FALLBACK", "ON_DEMAND"],
}
BASELINE_JOB_CLUSTERS: list[dict[str, Any]] = [
    {
        "job_cluster_key": "main",
        "new_cluster": {
            "spark_version": "15.4.x-scala2.12",
            "node_type_id": "m5.xlarge",
            "autoscale": {"min_workers": 2, "max_workers": 8},
            "spark_env_vars": {"ENVIRONMENT": "production"},
            "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1},
        },
    }
]
#: Provider 7.9 only: the ``webhook_id`` of your Gradient workspace, written here literally.
GRADIENT_WEBHOOK_ID = "<webhook_id of the Gradient workspace>"
TEMPLATED_EXTRA_JOB_PARAMS = Version(DATABRICKS_PROVIDER_VERSION) >= Version("7.10.0")

with DAG(
    dag_id="gradient_workflow_group",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["gradient", "databricks", "workflow"],
) as dag:
    clusters = GradientWorkflowClustersOperator(
        task_id="gradient_clusters",
        project_id=PROJECT_ID,
        job_clusters=BASELINE_JOB_CLUSTERS,
        guard_rails=GUARD_RAILS,
        dry_run="{{ var.value.get('gradient_dry_run', 'false') }}",
    )
    with DatabricksWorkflowTaskGroup(
        group_id="workflow",
        databricks_conn_id="databricks_default",
        job_clusters=clusters.output,
        extra_job_params=(
            clusters.extra_job_params_output
            if TEMPLATED_EXTRA_JOB_PARAMS
            else {"webhook_notifications": {"on_start": [{"id": GRADIENT_WEBHOOK_ID}]}}
        ),
    ) as workflow:
        etl = DatabricksNotebookOperator(
            task_id="etl",
            databricks_conn_id="databricks_default",
            notebook_path="/Shared/etl",
            source="WORKSPACE",
            job_cluster_key="main",
        )
        report = DatabricksNotebookOperator(
            task_id="report",
            databricks_conn_id="databricks_default",
            notebook_path="/Shared/report",
            source="WORKSPACE",
            job_cluster_key="main",
        )
        etl >> report
