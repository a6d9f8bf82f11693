"""Apply the latest Gradient recommendation, run the Databricks job, and roll the cluster back
if the run fails.

    GradientApplyRecommendationOperator  >>  DatabricksRunNowOperator
        >>  GradientRollbackOperator (trigger_rule="one_failed")  >>  fail_dag_run

The apply task writes the recommendation into the saved job (``jobs/run-now`` has no cluster
override) and returns, in XCom, each field it changed with its old value (``rollback_fields``;
a secret value only as a digest). When the run fails, the rollback task reads that XCom and puts
those fields back with ``jobs/update``, keeping everything else as the job has it, but only if
they still hold what the apply wrote: if someone changed one in between, it refuses, writes
nothing, and logs a ``path | before apply | applied | now`` table (pass ``force=True`` to restore
anyway). A field whose old value was a secret cannot be written back from a digest: the
rollback then refuses and says how to put it back. When the apply wrote nothing (no SUCCESS
recommendation yet, or the job already had it), the rollback has nothing to undo and says so.
The rollback reads ``apply_result=apply_recommendation.output`` (the apply's XCom, by reference
rather than by a task id that could be misspelt).
When the run succeeds, the rollback is skipped and the recommendation stays.

DAG run state: a failed Databricks run fails the DAG run even though the rollback succeeded.
Airflow judges a DAG run by its leaf tasks only, so with the rollback as the last task a failed
run followed by a good rollback would show as *success*. ``fail_dag_run`` (default trigger
rule: it runs only after a rollback task that ran and succeeded, i.e. after a failed run) fails
on purpose to keep the failure visible; the rollback task's log and XCom say what was restored.
A refused rollback fails itself (``fail_dag_run`` is then ``upstream_failed``). A failed apply
holds the run back (``upstream_failed``, which ``one_failed`` counts too): the rollback finds
nothing to undo, and the DAG run fails. After a successful run the rollback and
``fail_dag_run`` are skipped and the DAG run succeeds.

Connections: ``gradient_default`` (type ``gradient``: host = API URL, login = API key ID,
password = API key secret) and ``databricks_default``.

Variables: ``gradient_project_id`` and ``databricks_job_id``, rendered when the tasks run (so
parsing the file reads nothing); put literal ids in the DAG instead if you prefer. DAG-level
``params`` are avoided on purpose: ``DatabricksRunNowOperator`` forwards them to the job as
``job_parameters``.

To adapt it: set ``schedule``; change the guard rails; pass ``force=True`` to the rollback only
if whatever else edits the job's cluster may always be overwritten; drop ``fail_dag_run`` if a
rolled-back failure should count as a successful DAG run.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, AirflowFailException, task
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator
from airflow_gradient.operators.rollback import GradientRollbackOperator

with DAG(
    dag_id="gradient_rollback_on_failure",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
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
    rollback_cluster = GradientRollbackOperator(
        task_id="rollback_cluster",
        # The apply task's own result: it cannot be misnamed, and the rollback runs after it.
        apply_result=apply_recommendation.output,
        # one_failed also runs the rollback after a failed apply, which writes nothing and
        # leaves no result: nothing to undo then. Without this, no result fails the rollback.
        allow_missing_result=True,
        trigger_rule="one_failed",
    )

    @task(retries=0)
    def fail_dag_run() -> None:
        """Fail the DAG run after a rollback: the Databricks run (or the apply) did not succeed."""
        raise AirflowFailException(
            "The Databricks run did not succeed (see run_job and apply_recommendation); "
            "rollback_cluster handled the cluster (see its log and XCom). Failing the DAG run "
            "on purpose so that the failure stays visible."
        )

    apply_recommendation >> run_job >> rollback_cluster >> fail_dag_run()
