"""The apply operator refuses, before any API call, the downstream tasks it cannot work with."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_gradient.exceptions import GradientError, UnsupportedPathError
from airflow_gradient.sandbox import Sandbox
from tests.policies import shapes


class FakeTaskInstance:
    def xcom_push(self, key: str, value: Any) -> None:  # pragma: no cover - never reached
        raise AssertionError(f"nothing may be pushed before the refusal ({key}={value!r})")


def execute_apply(dag_id: str) -> dict[str, Any]:
    apply = shapes.load(dag_id).task_dict["apply"]
    result: dict[str, Any] = apply.execute({"ti": FakeTaskInstance(), "params": {}})
    return result


@pytest.mark.parametrize("dag_id", sorted(shapes.BAD))
def test_refused_before_any_request(sb: Sandbox, dag_id: str) -> None:
    with pytest.raises(UnsupportedPathError) as err:
        execute_apply(dag_id)

    message = str(err.value)
    for expected in shapes.EXPECTED[dag_id]:
        assert expected in message, (expected, message)
    assert sb.requests == []


def test_notebook_inside_a_workflow_group_is_refused_as_the_group(sb: Sandbox) -> None:
    """Wired straight to a task inside the group: no one-time run, but the launch resets."""
    from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
    from airflow.providers.databricks.operators.databricks_workflow import (
        DatabricksWorkflowTaskGroup,
    )
    from airflow.sdk import DAG

    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    with DAG(dag_id="inside", schedule=None):
        apply = GradientApplyRecommendationOperator(task_id="apply", project_id="p", job_id=1)
        with DatabricksWorkflowTaskGroup(group_id="wf", databricks_conn_id="databricks_default"):
            notebook = DatabricksNotebookOperator(
                task_id="nb", notebook_path="/a", source="WORKSPACE", job_cluster_key="main"
            )
            apply >> notebook

    with pytest.raises(UnsupportedPathError) as err:
        apply.execute({"ti": FakeTaskInstance(), "params": {}})  # type: ignore[arg-type]

    message = str(err.value)
    assert "Task group 'wf'" in message and "'wf.nb'" in message and "jobs/reset" in message
    assert "one-time run" not in message
    assert sb.requests == []


def test_every_finding_is_reported_at_once(sb: Sandbox) -> None:
    from airflow.providers.databricks.operators.databricks import (
        DatabricksCreateJobsOperator,
        DatabricksSubmitRunOperator,
    )
    from airflow.sdk import DAG

    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    with DAG(dag_id="both", schedule=None):
        apply = GradientApplyRecommendationOperator(task_id="apply", project_id="p", job_id=1)
        apply >> [
            DatabricksSubmitRunOperator(task_id="one_time", json={"run_name": "x"}),
            DatabricksCreateJobsOperator(task_id="create_job", name="etl"),
        ]

    with pytest.raises(UnsupportedPathError) as err:
        apply.execute({"ti": FakeTaskInstance(), "params": {}})  # type: ignore[arg-type]

    assert "'one_time'" in str(err.value) and "'create_job'" in str(err.value)
    assert sb.requests == []


@pytest.mark.parametrize("dag_id", sorted(shapes.GOOD) + sorted(shapes.INDIRECT))
def test_not_refused_at_execute_time(sb: Sandbox, dag_id: str) -> None:
    """Good shapes (and shapes only the DAG-level check sees) get past the check: the operator
    goes on to call the APIs (and fails there, as project p-1 does not exist)."""
    with pytest.raises(GradientError, match="No project with id p-1") as err:
        execute_apply(dag_id)

    assert not isinstance(err.value, UnsupportedPathError)
    assert sb.requests != []
