"""core.workflow: the job_clusters a DatabricksWorkflowTaskGroup runs on (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_gradient.core.cluster.merge import merge_recommendation
from airflow_gradient.core.errors import (
    AmbiguousClusterError,
    GuardRailViolationError,
    InvalidClusterSpecError,
    ProjectLinkError,
    UnsupportedClusterError,
)
from airflow_gradient.core.guardrails import GuardRails
from airflow_gradient.core.workflow import (
    GroupTask,
    plan_workflow_clusters,
    project_link_update,
    workflow_job_name,
)

PROJECT = "p-1"
JOB_NAME = "dag.workflow"
MAIN = {
    "spark_version": "15.4.x-scala2.12",
    "node_type_id": "m5.xlarge",
    "autoscale": {"min_workers": 2, "max_workers": 8},
    "init_scripts": [{"workspace": {"destination": "/init.sh"}}],
    "spark_env_vars": {"TOKEN": "{{secrets/scope/token}}"},
}
OTHER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.large", "num_workers": 1}
BASELINE = [{"job_cluster_key": "main", "new_cluster": MAIN}]
TASKS = [GroupTask("etl", job_cluster_key="main"), GroupTask("report", job_cluster_key="main")]
TEMPLATE = {
    "custom_tags": {"sync:project-id": PROJECT, "sync:tenant-id": "t-1"},
    "cluster_log_conf": {"s3": {"destination": "s3://logs/p-1", "region": "us-east-1"}},
}
JOB = {"job_id": 42, "created_time": 1_700_000_000_000, "settings": {}}
CONFIG = {"num_workers": 4, "node_type_id": "m5.2xlarge", "custom_tags": {"sync:run-id": "r"}}


def redactor(key: str, value: Any) -> Any:
    return "***" if "secret" in key.lower() or "password" in key.lower() else value


def success(config: dict[str, Any] = CONFIG, created: str = "2027-01-15T00:00:00Z") -> Any:
    return {
        "id": "rec-1",
        "state": "SUCCESS",
        "created_at": created,
        "updated_at": created,
        "error": None,
        "recommendation": {"configuration": config, "metrics": {"spark_cost_requested_usd": 3}},
        "context": {"phase": "OPTIMIZING"},
    }


def plan(**overrides: Any) -> Any:
    args: dict[str, Any] = {
        "template": TEMPLATE,
        "project": {"id": PROJECT},
        "project_id": PROJECT,
        "latest": success(),
        "job": JOB,
        "job_name": JOB_NAME,
        "redactor": redactor,
    }
    args.update(overrides)
    baseline = args.pop("baseline", BASELINE)
    tasks = args.pop("tasks", TASKS)
    return plan_workflow_clusters(baseline, tasks, **args)


def test_job_name_is_the_providers() -> None:
    assert workflow_job_name("etl_daily", "workflow") == "etl_daily.workflow"


def test_template_then_recommendation_by_the_apply_merge() -> None:
    before = copy.deepcopy(BASELINE)
    result = plan()
    expected = merge_recommendation(
        merge_recommendation(MAIN, TEMPLATE), CONFIG, recommendation_id="rec-1"
    )
    assert result.job_clusters == [{"job_cluster_key": "main", "new_cluster": expected}]
    cluster = result.job_clusters[0]["new_cluster"]
    assert cluster["num_workers"] == 4 and "autoscale" not in cluster
    assert cluster["custom_tags"] == {
        "sync:project-id": PROJECT,
        "sync:tenant-id": "t-1",
        "sync:run-id": "r",
        "sync:recommendation-id": "rec-1",
    }
    assert cluster["cluster_log_conf"] == TEMPLATE["cluster_log_conf"]
    assert cluster["init_scripts"] == MAIN["init_scripts"]
    assert result.recommendation is not None and result.recommendation.id == "rec-1"
    assert before == BASELINE  # the DAG's list is not changed in place
    record = result.result(job_name=JOB_NAME, job_id=42, dry_run=False, redactor=redactor)
    assert record["recommendation_id"] == "rec-1" and record["cluster_path"] == "job_clusters/main"
    assert {c["path"] for c in record["changes"]} >= {"num_workers", "node_type_id"}


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"job": None}, "First run"),
        ({"latest": None}, "no SUCCESS recommendation"),
        ({"latest": success(created="2020-01-01T00:00:00Z")}, "learned from another job"),
    ],
)
def test_baseline_and_template_only_with_the_reason(overrides: dict[str, Any], why: str) -> None:
    result = plan(**overrides)
    assert result.job_clusters == [
        {"job_cluster_key": "main", "new_cluster": merge_recommendation(MAIN, TEMPLATE)}
    ]
    assert result.recommendation is None
    assert why in result.reason


def test_a_recommendation_of_the_jobs_own_second_is_not_older() -> None:
    job = {**JOB, "created_time": 1_700_000_000_900}  # 2023-11-14T22:13:20.900Z
    assert plan(job=job, latest=success(created="2023-11-14T22:13:20Z")).recommendation
    assert not plan(job=job, latest=success(created="2023-11-14T22:13:19Z")).recommendation


def test_dry_run_returns_baseline_and_template_and_says_what_would_change() -> None:
    result = plan(dry_run=True)
    assert result.job_clusters[0]["new_cluster"] == merge_recommendation(MAIN, TEMPLATE)
    assert result.recommendation is None
    assert {c["path"] for c in result.would_change} >= {"num_workers", "node_type_id"}
    assert "Dry run" in result.reason


def test_guard_rails_are_checked_against_the_baseline() -> None:
    with pytest.raises(GuardRailViolationError, match="max_workers"):
        plan(rails=GuardRails(max_workers=2))
    with pytest.raises(GuardRailViolationError):
        plan(
            latest=success({"spark_version": "16.0.x-scala2.12"}),
            rails=GuardRails(allow_spark_version_change=False),
        )


def test_a_learning_recommendation_held_back_by_the_rail_still_lets_the_job_run() -> None:
    learning = success()
    learning["context"]["phase"] = "learning"
    result = plan(latest=learning, rails=GuardRails(apply_during_learning=False))
    assert result.job_clusters[0]["new_cluster"] == merge_recommendation(MAIN, TEMPLATE)
    assert result.recommendation is None and "apply_during_learning" in result.reason
    assert plan(latest=learning).recommendation is not None  # the rail is off by default


def test_other_job_clusters_are_kept_and_the_locate_rule_chooses() -> None:
    baseline = [*BASELINE, {"job_cluster_key": "small", "new_cluster": OTHER}]
    with pytest.raises(AmbiguousClusterError, match="cluster_key"):
        plan(baseline=baseline)
    result = plan(baseline=baseline, project={"id": PROJECT, "cluster_path": "job_clusters/main"})
    assert result.job_clusters[1] == {"job_cluster_key": "small", "new_cluster": OTHER}
    result = plan(baseline=baseline, cluster_key="small")
    assert result.job_clusters[0] == BASELINE[0]
    assert result.job_clusters[1]["new_cluster"]["num_workers"] == 4


def test_a_task_level_cluster_is_refused_with_the_reason() -> None:
    tasks = [GroupTask("etl", new_cluster=OTHER, dropped=True)]
    with pytest.raises(UnsupportedClusterError, match="drops a DatabricksNotebookOperator"):
        plan(baseline=[], tasks=tasks)
    with pytest.raises(UnsupportedClusterError, match="task-level new_cluster"):
        plan(baseline=[], tasks=[GroupTask("etl", new_cluster=OTHER)])


@pytest.mark.parametrize(
    "task",
    [GroupTask("etl", existing_cluster_id="0101-abc"), GroupTask("etl")],
    ids=["all-purpose", "serverless"],
)
def test_all_purpose_and_serverless_are_refused(task: GroupTask) -> None:
    with pytest.raises(UnsupportedClusterError):
        plan(baseline=[], tasks=[task])
    with pytest.raises(UnsupportedClusterError):
        plan(tasks=[task], cluster_key="etl")


def test_plaintext_secrets_never_travel_through_xcom() -> None:
    leaky = copy.deepcopy(MAIN)
    leaky["spark_env_vars"]["DB_PASSWORD"] = "hunter2"
    with pytest.raises(InvalidClusterSpecError, match="secrets/") as err:
        plan(baseline=[{"job_cluster_key": "main", "new_cluster": leaky}])
    assert "hunter2" not in str(err.value)


def test_project_link() -> None:
    args = {"project_id": PROJECT, "job_id": 42, "job_name": JOB_NAME}
    assert project_link_update({}, cluster_path="job_clusters/main", **args) == {
        "job_id": "42",
        "cluster_path": "job_clusters/main",
    }
    linked = {"job_id": "42", "cluster_path": "job_clusters/main"}
    assert project_link_update(linked, cluster_path="job_clusters/main", **args) == {}
    with pytest.raises(ProjectLinkError, match=r"job 7.*job 42"):
        project_link_update({"job_id": "7"}, cluster_path="job_clusters/main", **args)
