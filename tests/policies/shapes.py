"""DAG files, as source text, for every combination the policy judges.

The same text is executed in the test process (execute-time refusals, ``validate_dag``) and
written into a DAG folder for a real ``DagBag`` with the cluster policy enabled, so both
paths judge exactly the same DAGs. Every DAG has an apply task ``apply``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

HEADER = '''\
"""Test DAG {dag_id} (airflow-gradient policy tests)."""
from __future__ import annotations

import pendulum
from airflow.providers.databricks.operators.databricks import (
    DatabricksCreateJobsOperator,
    DatabricksNotebookOperator,
    DatabricksRunNowOperator,
    DatabricksSubmitRunOperator,
    DatabricksTaskOperator,
)
from airflow.providers.databricks.operators.databricks_workflow import (
    DatabricksWorkflowTaskGroup,
)
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator
from airflow_gradient.operators.workflow_clusters import GradientWorkflowClustersOperator
from airflow_gradient.operators.rollback import GradientRollbackOperator

CLUSTER = {{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2}}

with DAG(
    dag_id="{dag_id}",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    apply = GradientApplyRecommendationOperator(task_id="apply", project_id="p-1", job_id=1)
'''

#: DAG id -> body of the ``with DAG`` block (after the apply task).
BAD: dict[str, str] = {
    "submit_run": """
        one_time = DatabricksSubmitRunOperator(
            task_id="one_time", json={"run_name": "etl", "tasks": []}
        )
        apply >> one_time
    """,
    "notebook_alone": """
        notebook = DatabricksNotebookOperator(
            task_id="notebook", notebook_path="/Shared/etl", source="WORKSPACE",
            new_cluster=CLUSTER,
        )
        apply >> notebook
    """,
    "task_alone": """
        task = DatabricksTaskOperator(
            task_id="task", task_config={"notebook_task": {"notebook_path": "/Shared/etl"}},
            new_cluster=CLUSTER,
        )
        apply >> task
    """,
    "workflow_group": """
        with DatabricksWorkflowTaskGroup(
            group_id="wf",
            databricks_conn_id="databricks_default",
            job_clusters=[{"job_cluster_key": "main", "new_cluster": CLUSTER}],
        ) as wf:
            first = DatabricksNotebookOperator(
                task_id="first", notebook_path="/Shared/a", source="WORKSPACE",
                job_cluster_key="main",
            )
            second = DatabricksTaskOperator(
                task_id="second", task_config={"notebook_task": {"notebook_path": "/Shared/b"}},
                job_cluster_key="main",
            )
            first >> second
        apply >> wf
    """,
    "create_jobs": """
        create = DatabricksCreateJobsOperator(task_id="create_job", name="etl", tasks=[])
        run = DatabricksRunNowOperator(task_id="run", job_id=create.output)
        apply >> create >> run
    """,
}

#: Refused by the DAG-level check (every path down to the run) but not at execute time
#: (direct downstream only).
INDIRECT: dict[str, str] = {
    "create_jobs_indirect": """
        wait = EmptyOperator(task_id="wait")
        create = DatabricksCreateJobsOperator(task_id="create_job", name="etl", tasks=[])
        run = DatabricksRunNowOperator(task_id="run", job_id=create.output)
        apply >> wait >> create >> run
    """,
    # The rollback names the apply by the old default id; the apply is called "apply". It
    # would never find a result (before, it succeeded saying "nothing to roll back").
    "rollback_misnamed": """
        run = DatabricksRunNowOperator(task_id="run", job_id=1)
        rollback = GradientRollbackOperator(
            task_id="rollback", apply_task_id="apply_recommendation", trigger_rule="one_failed"
        )
        apply >> run >> rollback
    """,
}

GOOD: dict[str, str] = {
    "workflow_clusters": """
        clusters = GradientWorkflowClustersOperator(
            task_id="clusters",
            project_id="p-1",
            job_clusters=[{"job_cluster_key": "main", "new_cluster": CLUSTER}],
        )
        with DatabricksWorkflowTaskGroup(
            group_id="wf",
            databricks_conn_id="databricks_default",
            job_clusters=clusters.output,
        ) as wf:
            DatabricksNotebookOperator(
                task_id="first", notebook_path="/Shared/a", source="WORKSPACE",
                job_cluster_key="main",
            )
    """,
    "run_now": """
        run = DatabricksRunNowOperator(task_id="run", job_id=1)
        apply >> run
    """,
    "create_upstream": """
        create = DatabricksCreateJobsOperator(task_id="create_job", name="etl", tasks=[])
        run = DatabricksRunNowOperator(task_id="run", job_id=create.output)
        create >> apply >> run
    """,
    "one_time_after_run": """
        run = DatabricksRunNowOperator(task_id="run", job_id=1)
        report = DatabricksSubmitRunOperator(
            task_id="report", json={"run_name": "report", "tasks": []}
        )
        apply >> run >> report
    """,
    "rollback_by_output": """
        run = DatabricksRunNowOperator(task_id="run", job_id=1)
        rollback = GradientRollbackOperator(
            task_id="rollback", apply_result=apply.output, trigger_rule="one_failed"
        )
        named = GradientRollbackOperator(task_id="named", apply_task_id="apply")
        apply >> run >> [rollback, named]
    """,
}

#: What each refusal must say: the offending task (or group), and the way out.
EXPECTED: dict[str, tuple[str, ...]] = {
    "submit_run": (
        "'one_time'",
        "DatabricksSubmitRunOperator",
        "jobs/runs/submit",
        "DatabricksRunNowOperator after 'apply'",
    ),
    "notebook_alone": (
        "'notebook'",
        "DatabricksNotebookOperator",
        "outside any DatabricksWorkflowTaskGroup",
        "jobs/runs/submit",
        "DatabricksRunNowOperator after 'apply'",
    ),
    "task_alone": (
        "'task'",
        "DatabricksTaskOperator",
        "jobs/runs/submit",
        "DatabricksRunNowOperator after 'apply'",
    ),
    "workflow_group": (
        "'wf'",
        "'wf.launch'",
        "jobs/reset",
        "'workflow_group.wf'",
        "job_clusters",
        "GradientWorkflowClustersOperator",
        "DatabricksRunNowOperator",
    ),
    "create_jobs": (
        "'create_job'",
        "DatabricksCreateJobsOperator",
        "jobs/reset",
        "Create the job once",
    ),
    "create_jobs_indirect": ("'create_job'", "DatabricksCreateJobsOperator", "jobs/reset"),
    "rollback_misnamed": (
        "Task 'rollback' (GradientRollbackOperator)",
        "apply_task_id='apply_recommendation', which is no task of DAG 'rollback_misnamed'",
        "apply tasks of the DAG: apply",
        "apply_result=<apply task>.output",
    ),
}


def source(dag_id: str) -> str:
    """The whole DAG file for ``dag_id``."""
    body = {**BAD, **INDIRECT, **GOOD}[dag_id]
    return HEADER.format(dag_id=dag_id) + textwrap.indent(textwrap.dedent(body), "    ")


def load(dag_id: str) -> Any:
    """Execute the DAG file for ``dag_id`` in this process and return its DAG."""
    namespace: dict[str, Any] = {"__name__": f"policy_shape_{dag_id}"}
    exec(compile(source(dag_id), f"<dag {dag_id}>", "exec"), namespace)
    return namespace["dag"]


def write_all(folder: Path) -> None:
    """Write every DAG file into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for dag_id in {**BAD, **INDIRECT, **GOOD}:
        (folder / f"{dag_id}.py").write_text(source(dag_id), encoding="utf-8")
