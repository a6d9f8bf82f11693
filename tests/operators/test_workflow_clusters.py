"""GradientWorkflowClustersOperator.execute with real hooks against the sandbox (the whole DAG
under ``airflow dags test`` is in tests/scenarios/templates/test_workflow_group.py)."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_gradient.exceptions import InvalidArgumentsError, ProjectLinkError
from airflow_gradient.operators.workflow_clusters import (
    EXTRA_JOB_PARAMS_KEY,
    RESULT_KEY,
    GradientWorkflowClustersOperator,
)
from airflow_gradient.sandbox import Sandbox
from tests.operators.conftest import FakeTaskInstance

CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2}
BASELINE = [{"job_cluster_key": "main", "new_cluster": CLUSTER}]


def build(dag_id: str = "wf_dag", *, feed_group: bool = True, **kwargs: Any) -> Any:
    """A DAG with the operator and a real workflow group; returns the operator."""
    from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
    from airflow.providers.databricks.operators.databricks_workflow import (
        DatabricksWorkflowTaskGroup,
    )
    from airflow.sdk import DAG

    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        clusters = GradientWorkflowClustersOperator(
            task_id="clusters", job_clusters=BASELINE, **kwargs
        )
        with DatabricksWorkflowTaskGroup(
            group_id="workflow",
            databricks_conn_id="databricks_default",
            job_clusters=clusters.output if feed_group else BASELINE,
        ):
            DatabricksNotebookOperator(
                task_id="etl",
                notebook_path="/Shared/etl",
                source="WORKSPACE",
                job_cluster_key="main",
            )
    return clusters


def existing_job(sb: Sandbox, name: str = "wf_dag.workflow") -> int:
    return sb.databricks.create_job(
        {
            "name": name,
            "job_clusters": BASELINE,
            "tasks": [
                {
                    "task_key": "etl",
                    "job_cluster_key": "main",
                    "notebook_task": {"notebook_path": "/Shared/etl"},
                }
            ],
        }
    )


def test_job_name_and_project_are_inferred_and_the_webhook_is_handed_on(sb: Sandbox) -> None:
    workspace = sb.gradient.create_workspace(sb.databricks.workspace_id)
    job_id = existing_job(sb)
    project = sb.gradient.create_project(job_id=job_id, workspace_id=workspace["workspace_id"])
    rec_id = sb.gradient.add_recommendation(project["id"], {"num_workers": 5})
    sb.clear_requests()
    ti = FakeTaskInstance()

    clusters = build().execute({"ti": ti})

    assert clusters[0]["new_cluster"]["num_workers"] == 5
    assert clusters[0]["new_cluster"]["custom_tags"]["sync:project-id"] == project["id"]
    assert ti.pushed[RESULT_KEY]["recommendation_id"] == rec_id
    assert ti.pushed[RESULT_KEY]["job_name"] == "wf_dag.workflow"
    assert ti.pushed[EXTRA_JOB_PARAMS_KEY] == {
        "webhook_notifications": {"on_start": [{"id": workspace["webhook_id"]}]}
    }
    assert ti.pushed["databricks_job_url"].endswith(f"jobs/{job_id}")
    assert sb.gradient.get_project(project["id"])["cluster_path"] == "job_clusters/main"
    assert not sb.requests_to("databricks", "POST")  # the launch writes the job, not this task


def test_a_project_of_another_job_fails_fast_naming_both(sb: Sandbox) -> None:
    other = existing_job(sb, "some.other")
    job_id = existing_job(sb, "linked_dag.workflow")
    project = sb.gradient.create_project(job_id=other)
    sb.clear_requests()

    with pytest.raises(ProjectLinkError) as err:
        build("linked_dag", project_id=project["id"]).execute({"ti": FakeTaskInstance()})

    assert isinstance(err.value, AirflowFailException)
    assert str(other) in str(err.value) and str(job_id) in str(err.value)
    assert not sb.requests_to("gradient", "PUT")
    assert sb.gradient.get_project(project["id"])["job_id"] == str(other)


def test_without_a_consuming_group_the_job_name_must_be_given(sb: Sandbox) -> None:
    project = sb.gradient.create_project()
    with pytest.raises(InvalidArgumentsError, match="job_name"):
        build("unfed_dag", feed_group=False, project_id=project["id"]).execute(
            {"ti": FakeTaskInstance()}
        )

    result = build(
        "other_dag", feed_group=False, project_id=project["id"], job_name="named.job"
    ).execute({"ti": FakeTaskInstance()})
    assert result[0]["new_cluster"]["custom_tags"]["sync:project-id"] == project["id"]


def test_project_id_is_needed_before_the_job_exists(sb: Sandbox) -> None:
    with pytest.raises(InvalidArgumentsError, match="project_id"):
        build("fresh_dag").execute({"ti": FakeTaskInstance()})
