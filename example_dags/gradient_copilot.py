"""Gradient as a copilot: a human approves each recommendation before it reaches the job.

    run_current  >>  request_recommendation  >>  wait_for_recommendation  >>  preview
        >>  describe_changes  >>  approve  >>  apply  >>  run_recommended

1. ``run_current`` runs the Databricks job as it is (``DatabricksRunNowOperator``), so Gradient
   has a fresh run to learn from.
2. ``request_recommendation`` asks Gradient for a recommendation based on that run
   (``GradientRequestRecommendationOperator``; its XCom is the new recommendation's id).
3. ``wait_for_recommendation`` waits in the triggerer until that recommendation is SUCCESS
   (``GradientRecommendationSensor``, ``deferrable=True``,
   ``newer_than_recommendation_id`` = the request's id).
4. ``preview`` computes what it would change (``GradientApplyRecommendationOperator`` with
   ``dry_run=True``: nothing is written) and ``describe_changes`` turns its XCom into Markdown:
   the recommendation, the predicted cost and duration, and the diff table.
5. ``approve`` is an ``ApprovalOperator`` (standard provider, human in the loop): the Markdown
   is its body, shown in the UI under "Required actions". *Approve* lets the DAG go on;
   *Reject* skips everything below it, so the job is left exactly as it was. Nobody answering
   within ``response_timeout`` counts as *Reject* (``defaults``).
6. ``apply`` writes exactly the recommendation that was previewed and approved into the job
   (``jobs/update``; ``recommendation_id`` is pinned to the preview's, so one that arrived while
   the approval waited is not applied unreviewed) and ``run_recommended`` runs the job on it.

Needs Airflow 3.1+ and apache-airflow-providers-standard 1.13.0+ (human in the loop, with
``ApprovalOperator(response_timeout=...)``; Airflow 3.1.8's own constraints pin 1.12.0, so
upgrade it). On 3.3 the approval task waits in the ``awaiting_input`` state; on 3.1/3.2 it
defers, so run a triggerer (the sensor needs one anyway).

Connections: ``gradient_default`` (type ``gradient``: host = API URL, login = API key ID,
password = API key secret) and ``databricks_default``.

Variables: ``gradient_project_id`` (the Gradient project) and ``databricks_job_id`` (the
Databricks job it tunes), rendered at run time, so parsing the DAG reads nothing; put literal
ids there instead if you prefer. DAG-level ``params`` are avoided on purpose:
``DatabricksRunNowOperator`` forwards them to the job as ``job_parameters``.

To adapt it: set ``schedule``; set ``GUARD_RAILS`` (a recommendation that breaks them fails
``preview``, before anyone is asked); restrict who may answer with ``assigned_users=`` on
``approve`` and tell them with ``notifiers=`` (e.g. a Slack notifier); change
``response_timeout``; drop ``run_current`` if another process already runs the job and
Gradient learns from those runs. The answer can also come from the REST API:
``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails`` with
``{"chosen_options": ["Approve"]}`` (or ``["Reject"]``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pendulum
from airflow.providers.common.compat.sdk import DAG, task
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator
from airflow_gradient.operators.request import GradientRequestRecommendationOperator
from airflow_gradient.sensors.recommendation import GradientRecommendationSensor

PROJECT_ID = "{{ var.value.gradient_project_id }}"
JOB_ID = "{{ var.value.databricks_job_id }}"
GUARD_RAILS: dict[str, Any] = {
    "max_workers": 32,
    "allowed_availability": ["SPOT_WITH_FALLBACK", "ON_DEMAND"],
}

with DAG(
    dag_id="gradient_copilot",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["gradient", "databricks", "human-in-the-loop"],
) as dag:
    run_current = DatabricksRunNowOperator(
        task_id="run_current",
        job_id=JOB_ID,
        polling_period_seconds=5,
    )
    request_recommendation = GradientRequestRecommendationOperator(
        task_id="request_recommendation",
        project_id=PROJECT_ID,
    )
    wait_for_recommendation = GradientRecommendationSensor(
        task_id="wait_for_recommendation",
        project_id=PROJECT_ID,
        newer_than_recommendation_id=request_recommendation.output,
        deferrable=True,
        poke_interval=60,
        timeout=timedelta(hours=2),
    )
    preview = GradientApplyRecommendationOperator(
        task_id="preview",
        project_id=PROJECT_ID,
        job_id=JOB_ID,
        guard_rails=GUARD_RAILS,
        dry_run=True,
    )

    @task
    def describe_changes(result: dict[str, Any]) -> str:
        """The preview's XCom as Markdown for the approval form."""
        from airflow_gradient.core.cluster.diff import format_diff_markdown
        from airflow_gradient.core.recommendation import format_metrics
        from airflow_gradient.core.results import ApplyResult

        record = cast(ApplyResult, result)
        if not record["recommendation_id"]:
            return "Gradient has no SUCCESS recommendation for this job: nothing to apply."
        changes = record["changes"]
        verdict = (
            f"{len(changes)} change(s) to cluster `{record['cluster_path']}`:"
            if changes
            else f"Cluster `{record['cluster_path']}` already holds it: nothing to change."
        )
        return (
            f"Gradient recommendation `{record['recommendation_id']}` "
            f"(phase {record['phase'] or 'unknown'}) for Databricks job "
            f"`{record['job_id']}`: {format_metrics(record['metrics'])}.\n\n"
            f"{verdict}\n\n{format_diff_markdown(changes)}\n\n"
            "**Approve** writes it into the job (`jobs/update`) and runs the job on it. "
            "**Reject** leaves the job as it is."
        )

    approve = ApprovalOperator(
        task_id="approve",
        subject="Apply Gradient's recommendation to Databricks job " + JOB_ID + "?",
        body=describe_changes(preview.output),
        defaults="Reject",
        response_timeout=timedelta(hours=12),
    )

    apply = GradientApplyRecommendationOperator(
        task_id="apply",
        project_id=PROJECT_ID,
        job_id=JOB_ID,
        recommendation_id="{{ ti.xcom_pull(task_ids='preview')['recommendation_id'] }}",
        guard_rails=GUARD_RAILS,
    )
    run_recommended = DatabricksRunNowOperator(
        task_id="run_recommended",
        job_id=JOB_ID,
        polling_period_seconds=5,
    )

    run_current >> request_recommendation >> wait_for_recommendation >> preview
    approve >> apply >> run_recommended
