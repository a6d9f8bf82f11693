"""``validate_dag`` and the opt-in cluster policy ``dag_policy``: same findings, parse time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.exceptions import AirflowClusterPolicyViolation

from airflow_gradient.exceptions import UnsupportedPathError
from airflow_gradient.policies import dag_policy, validate_dag
from tests.policies import shapes

REPO = Path(__file__).resolve().parents[2]

#: What docs/policies.md tells users to put in ``$AIRFLOW_HOME/config/airflow_local_settings.py``.
ENABLE_POLICY = (
    "# Refuse DAGs that combine GradientApplyRecommendationOperator with unsupported tasks.\n"
    "from airflow_gradient.policies import dag_policy  # noqa: F401\n"
)

REFUSED = sorted({**shapes.BAD, **shapes.INDIRECT})


@pytest.mark.parametrize("dag_id", REFUSED)
def test_validate_dag_returns_the_findings(dag_id: str) -> None:
    findings = validate_dag(shapes.load(dag_id))

    assert len(findings) == 1
    for expected in shapes.EXPECTED[dag_id]:
        assert expected in findings[0], (expected, findings[0])


@pytest.mark.parametrize("dag_id", REFUSED)
def test_validate_dag_raises_when_asked(dag_id: str) -> None:
    dag = shapes.load(dag_id)

    with pytest.raises(UnsupportedPathError) as err:
        validate_dag(dag, raise_on_findings=True)

    assert f"DAG {dag_id!r}" in str(err.value)
    assert validate_dag(dag)[0] in str(err.value)


@pytest.mark.parametrize("dag_id", REFUSED)
def test_dag_policy_raises_a_cluster_policy_violation(dag_id: str) -> None:
    dag = shapes.load(dag_id)

    with pytest.raises(AirflowClusterPolicyViolation) as err:
        dag_policy(dag)

    assert f"DAG {dag_id!r}" in str(err.value)
    assert validate_dag(dag)[0] in str(err.value)


@pytest.mark.parametrize("dag_id", sorted(shapes.GOOD))
def test_good_dags_pass(dag_id: str) -> None:
    dag = shapes.load(dag_id)

    assert validate_dag(dag, raise_on_findings=True) == []
    dag_policy(dag)


def test_the_example_dags_pass() -> None:
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(REPO / "example_dags"))

    assert "gradient_apply_then_run" in bag.dags
    findings = {dag_id: validate_dag(dag) for dag_id, dag in bag.dags.items()}
    assert {dag_id: found for dag_id, found in findings.items() if found} == {}


def test_workflow_group_is_reported_once_naming_its_tasks() -> None:
    (finding,) = validate_dag(shapes.load("workflow_group"))

    assert "through 'wf.first', 'wf.launch', 'wf.second'" in finding
    assert "'workflow_group.wf'" in finding


def test_every_apply_task_and_every_finding_is_listed() -> None:
    from airflow.providers.databricks.operators.databricks import (
        DatabricksCreateJobsOperator,
        DatabricksSubmitRunOperator,
    )
    from airflow.sdk import DAG

    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    with DAG(dag_id="two_applies", schedule=None) as dag:
        first = GradientApplyRecommendationOperator(task_id="first", project_id="p", job_id=1)
        second = GradientApplyRecommendationOperator(task_id="second", project_id="q", job_id=2)
        first >> DatabricksSubmitRunOperator(task_id="one_time", json={"run_name": "x"})
        second >> DatabricksCreateJobsOperator(task_id="create_job", name="etl")

    with pytest.raises(AirflowClusterPolicyViolation) as err:
        dag_policy(dag)

    lines = str(err.value).splitlines()
    assert lines[0].startswith("DAG 'two_applies' has Gradient tasks that cannot work as written")
    assert len(lines) == 3
    assert "'one_time'" in lines[1] and "'first'" in lines[1]
    assert "'create_job'" in lines[2] and "'second'" in lines[2]


def test_mapped_submit_run_is_refused() -> None:
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
    from airflow.sdk import DAG

    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    with DAG(dag_id="mapped", schedule=None) as dag:
        apply = GradientApplyRecommendationOperator(task_id="apply", project_id="p", job_id=1)
        apply >> DatabricksSubmitRunOperator.partial(task_id="runs").expand(
            json=[{"run_name": "a"}, {"run_name": "b"}]
        )

    (finding,) = validate_dag(dag)
    assert "Task 'runs' is a DatabricksSubmitRunOperator" in finding


def test_task_in_a_group_nested_in_a_workflow_group_counts_as_the_workflow() -> None:
    from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
    from airflow.providers.databricks.operators.databricks_workflow import (
        DatabricksWorkflowTaskGroup,
    )
    from airflow.sdk import DAG, TaskGroup

    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    with DAG(dag_id="nested", schedule=None) as dag:
        apply = GradientApplyRecommendationOperator(task_id="apply", project_id="p", job_id=1)
        with (
            DatabricksWorkflowTaskGroup(group_id="wf", databricks_conn_id="databricks_default"),
            TaskGroup(group_id="inner"),
        ):
            notebook = DatabricksNotebookOperator(
                task_id="nb", notebook_path="/a", source="WORKSPACE", job_cluster_key="main"
            )
        apply >> notebook

    (finding,) = validate_dag(dag)
    assert finding.startswith("Task group 'wf' is a DatabricksWorkflowTaskGroup")
    assert "'wf.inner.nb'" in finding


def test_cluster_policy_from_airflow_local_settings_rejects_bad_dags_in_a_dagbag(
    tmp_path: Path,
) -> None:
    """The real thing: a fresh AIRFLOW_HOME whose config/airflow_local_settings.py holds the
    two lines of docs/policies.md, and a DagBag over a folder of good and bad DAGs."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "airflow_local_settings.py").write_text(ENABLE_POLICY, encoding="utf-8")
    dags = tmp_path / "dags"
    shapes.write_all(dags)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
    )
    script = (
        "import json, sys\n"
        "from airflow.models import DagBag\n"
        "bag = DagBag(dag_folder=sys.argv[1])\n"
        "print('RESULT' + json.dumps({'dags': sorted(bag.dag_ids), "
        "'errors': bag.import_errors}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(dags)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.rsplit("RESULT", 1)[1])
    errors = {Path(path).stem: message for path, message in result["errors"].items()}

    assert sorted(errors) == REFUSED
    for dag_id, message in errors.items():
        assert message.startswith(
            f"AirflowClusterPolicyViolation: DAG {dag_id!r} has Gradient tasks"
        )
        for expected in shapes.EXPECTED[dag_id]:
            assert expected in message, (expected, message)
    assert result["dags"] == sorted(shapes.GOOD)


def test_a_group_fed_by_the_workflow_operator_is_accepted() -> None:
    from airflow_gradient.policies import dag_warnings

    dag = shapes.load("workflow_clusters")
    assert dag.get_task("wf.launch") in dag.get_task("clusters").get_direct_relatives(False)
    dag.max_active_runs = 1
    assert validate_dag(dag) == [] and dag_warnings(dag) == []
    dag_policy(dag)


def test_overlapping_runs_of_a_fed_group_warn_at_parse_time() -> None:
    import warnings

    from airflow_gradient.policies import dag_warnings

    dag = shapes.load("workflow_clusters")  # Airflow's default: 16 active runs
    (warning,) = dag_warnings(dag)
    assert "allows 16 active runs" in warning
    assert "'clusters'" in warning and "'wf'" in warning
    assert "'workflow_clusters.wf'" in warning and "max_active_runs=1" in warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dag_policy(dag)  # warns, does not refuse
    assert [str(w.message) for w in caught if issubclass(w.category, UserWarning)] == [warning]
    dag.max_active_runs = 1
    assert dag_warnings(dag) == []


@pytest.mark.parametrize(("notebooks", "more"), [(2, ""), (3, " and 1 more"), (4, " and 2 more")])
def test_a_workflow_group_names_three_tasks_then_counts_the_rest(notebooks: int, more: str) -> None:
    """The group's launch task plus ``notebooks`` tasks: three are named, the rest counted (at
    exactly three nothing is counted)."""
    import re

    from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
    from airflow.providers.databricks.operators.databricks_workflow import (
        DatabricksWorkflowTaskGroup,
    )
    from airflow.sdk import DAG

    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    cluster = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2}
    with DAG(dag_id="counted", schedule=None) as dag:
        apply = GradientApplyRecommendationOperator(task_id="apply", project_id="p", job_id=1)
        with DatabricksWorkflowTaskGroup(
            group_id="wf",
            databricks_conn_id="databricks_default",
            job_clusters=[{"job_cluster_key": "main", "new_cluster": cluster}],
        ) as wf:
            for number in range(notebooks):
                DatabricksNotebookOperator(
                    task_id=f"n{number}",
                    notebook_path="/Shared/a",
                    source="WORKSPACE",
                    job_cluster_key="main",
                )
        apply >> wf

    (finding,) = validate_dag(dag)

    through = re.search(r"\(through (.*?)\): its launch task", finding)
    assert through is not None, finding
    named = re.findall(r"'wf\.[a-z0-9]+'", through.group(1))
    assert len(named) == 3
    assert through.group(1) == ", ".join(named) + more
