"""Every template in example_dags/ loads in a DagBag, and ours have the documented shape."""

from __future__ import annotations

import ast
import itertools
from typing import Any

import pytest

from tests.scenarios.templates.harness import EXAMPLE_DAGS

TEMPLATES = {
    "gradient_bundle_writeback.py": ["gradient_bundle_writeback"],
    "gradient_copilot.py": ["gradient_copilot"],
    "gradient_fleet.py": ["gradient_fleet"],
    "gradient_health.py": ["gradient_health"],
    "gradient_submit_run_migration.py": [
        "gradient_submit_run_migration_setup",
        "gradient_submit_run_migration",
    ],
    "gradient_workflow_group.py": ["gradient_workflow_group"],
}


@pytest.fixture(scope="module")
def bag() -> Any:
    from airflow.models import DagBag

    return DagBag(dag_folder=str(EXAMPLE_DAGS))


def test_every_template_loads_without_import_errors(bag: Any) -> None:
    assert not bag.import_errors, bag.import_errors
    for dag_ids in TEMPLATES.values():
        assert set(dag_ids) <= set(bag.dag_ids)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_is_documented_and_shapes_pass_the_policy(bag: Any, name: str) -> None:
    from airflow_gradient.policies import dag_policy, validate_dag

    doc = ast.get_docstring(ast.parse((EXAMPLE_DAGS / name).read_text())) or ""
    for heading in ("Connections:", "Variables:", "To adapt it:"):
        assert heading in doc, f"{name}: docstring lacks {heading!r}"
    for dag_id in TEMPLATES[name]:
        dag = bag.dags[dag_id]
        assert (dag.doc_md or "").strip() == doc
        assert validate_dag(dag) == []
        dag_policy(dag)  # the opt-in cluster policy accepts it


def test_copilot_asks_before_it_writes(bag: Any) -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    dag = bag.dags["gradient_copilot"]
    order = [
        "run_current",
        "request_recommendation",
        "wait_for_recommendation",
        "preview",
        "describe_changes",
        "approve",
        "apply",
        "run_recommended",
    ]
    for upstream, downstream in itertools.pairwise(order):
        assert upstream in dag.get_task(downstream).upstream_task_ids, downstream
    # Nothing after the approval is reachable except through it.
    assert dag.get_task("apply").upstream_task_ids == {"approve"}
    # The approved (previewed) recommendation is applied, not whatever is newest by then.
    assert "task_ids='preview'" in dag.get_task("apply").recommendation_id
    assert dag.get_task("wait_for_recommendation").deferrable is True
    assert dag.get_task("preview").dry_run_only is True
    assert dag.get_task("apply").dry_run_only is False
    approve = dag.get_task("approve")
    assert isinstance(approve, ApprovalOperator)
    assert approve.defaults == ["Reject"]  # no answer in time: nothing is written


def test_fleet_maps_one_apply_then_run_per_job(bag: Any) -> None:
    dag = bag.dags["gradient_fleet"]
    apply = dag.get_task("optimize_job.apply_recommendation")
    run = dag.get_task("optimize_job.run_job")
    assert apply.task_id in run.upstream_task_ids  # each job's run waits for its own apply
    assert apply.upstream_task_ids == {"read_fleet"}
    group = dag.task_group_dict["optimize_job"]
    assert type(group).__name__ == "MappedTaskGroup"


def test_migration_creates_the_job_only_in_the_guarded_setup(bag: Any) -> None:
    setup = bag.dags["gradient_submit_run_migration_setup"]
    daily = bag.dags["gradient_submit_run_migration"]
    assert type(setup.timetable).__name__ == "OnceTimetable"
    create = setup.get_task("create_job")
    assert type(create).__name__ == "DatabricksCreateJobsOperator"
    assert create.upstream_task_ids == {"job_missing"}
    assert all(type(t).__name__ != "DatabricksCreateJobsOperator" for t in daily.tasks)
    assert daily.get_task("run_job").upstream_task_ids == {"apply_recommendation"}
