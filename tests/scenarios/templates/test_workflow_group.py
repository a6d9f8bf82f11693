"""example_dags/gradient_workflow_group.py end to end under ``airflow dags test``: the real
``DatabricksWorkflowTaskGroup`` and ``DatabricksNotebookOperator`` against the sandbox.

One Databricks job lives through four DAG runs: the first creates it on baseline + template,
a dry run leaves it there, the next runs it on the recommendation, and a recommendation that
breaks a guard rail stops the DAG before the launch touches the job.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.scenarios.templates.harness import AirflowHome, tail

DAG_ID = "gradient_workflow_group"
JOB_NAME = "gradient_workflow_group.workflow"
BASELINE = {
    "spark_version": "15.4.x-scala2.12",
    "node_type_id": "m5.xlarge",
    "autoscale": {"min_workers": 2, "max_workers": 8},
    "spark_env_vars": {"ENVIRONMENT": "production"},
    "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1},
}


def posts(sb: Sandbox, endpoint: str) -> int:
    return len([r for r in sb.requests_to("databricks", "POST") if r.path.endswith(endpoint)])


def the_job(sb: Sandbox) -> dict[str, Any]:
    jobs = [j for j in sb.databricks.jobs if j["settings"]["name"] == JOB_NAME]
    assert len(jobs) == 1, [j["settings"]["name"] for j in sb.databricks.jobs]
    return jobs[0]


def main_cluster(job: dict[str, Any]) -> dict[str, Any]:
    (entry,) = job["settings"]["job_clusters"]
    assert entry["job_cluster_key"] == "main"
    cluster: dict[str, Any] = entry["new_cluster"]
    return cluster


def notebook_tasks(job: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(notebook, job cluster, upstream notebooks) of each task, keys resolved to notebooks."""
    tasks = job["settings"]["tasks"]
    by_key = {t["task_key"]: t["notebook_task"]["notebook_path"] for t in tasks}
    return sorted(
        (
            t["notebook_task"]["notebook_path"],
            t["job_cluster_key"],
            [by_key[d["task_key"]] for d in t.get("depends_on", [])],
        )
        for t in tasks
    )


@pytest.mark.timeout(1500)
def test_the_group_runs_on_template_then_recommendation_and_refusals_stop_the_launch(
    template_sb: Sandbox, airflow_home: Callable[..., AirflowHome]
) -> None:
    sb = template_sb
    workspace = sb.gradient.create_workspace(sb.databricks.workspace_id)
    project = sb.gradient.create_project(name="workflow", workspace_id=workspace["workspace_id"])
    project_id, webhook_id = project["id"], workspace["webhook_id"]
    home = airflow_home("gradient_workflow_group.py")
    connections = sb.connections()

    def dags_test(**variables: str) -> Any:
        env = home.env(connections, {"gradient_project_id": project_id, **variables})
        return home.dags_test(DAG_ID, env, timeout=400)

    # Run 1: no job yet. It is created on baseline + Gradient's template, with the webhook.
    # On the sandbox's default run behaviour, the launch finds the run started (not over).
    first = dags_test()
    first.assert_ok()
    launch = first.output + _task_logs(home)
    assert "Databricks job started. State: RUNNING" in launch, tail(first.output)
    job = the_job(sb)
    template = {
        "custom_tags": {"sync:project-id": project_id, "sync:tenant-id": sb.gradient.tenant_id},
        "cluster_log_conf": {
            "s3": {
                "destination": f"s3://sync-gradient-logs/{project_id}",
                "region": "us-east-1",
                "enable_encryption": True,
                "canned_acl": "bucket-owner-full-control",
            }
        },
    }
    assert main_cluster(job) == {**BASELINE, **template}
    assert job["settings"]["webhook_notifications"]["on_start"] == [{"id": webhook_id}]
    assert notebook_tasks(job) == [
        ("/Shared/etl", "main", []),
        ("/Shared/report", "main", ["/Shared/etl"]),
    ]
    assert [r["job_id"] for r in sb.databricks.runs] == [job["job_id"]]
    assert posts(sb, "/jobs/create") == 1
    assert sb.gradient.get_project(project_id)["job_id"] is None  # no job to link to yet

    # Gradient recommends from that run.
    rec_id = sb.gradient.add_recommendation(
        project_id,
        {
            "num_workers": 4,
            "node_type_id": "m5.2xlarge",
            "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 2},
            "custom_tags": {"sync:project-id": project_id, "sync:run-id": "run-1"},
        },
    )

    # Run 2, a dry run: the job is reset to baseline + template again, nothing is linked.
    sb.clear_requests()
    output = dags_test(gradient_dry_run="true")
    output.assert_ok()
    assert "Dry run" in output.output or "Dry run" in _task_logs(home), tail(output.output)
    assert main_cluster(the_job(sb)) == {**BASELINE, **template}
    assert sb.gradient.get_project(project_id)["job_id"] is None
    assert posts(sb, "/jobs/reset") == 1 and posts(sb, "/jobs/run-now") == 1

    # Run 3: the job is reset with exactly the merged cluster and runs on it.
    sb.clear_requests()
    dags_test().assert_ok()
    job = the_job(sb)
    merged = copy.deepcopy({**BASELINE, **template})
    del merged["autoscale"]
    merged.update({"num_workers": 4, "node_type_id": "m5.2xlarge"})
    merged["aws_attributes"]["first_on_demand"] = 2
    merged["custom_tags"].update({"sync:run-id": "run-1", "sync:recommendation-id": rec_id})
    assert main_cluster(job) == merged
    assert posts(sb, "/jobs/reset") == 1 and posts(sb, "/jobs/create") == 0
    run = sb.databricks.runs[-1]
    assert run["job_id"] == job["job_id"] and len(sb.databricks.runs) == 3
    assert run["job_clusters"][0]["new_cluster"] == merged  # the run itself used it
    assert notebook_tasks(job) == [
        ("/Shared/etl", "main", []),
        ("/Shared/report", "main", ["/Shared/etl"]),
    ]
    assert job["settings"]["webhook_notifications"]["on_start"] == [{"id": webhook_id}]
    linked = sb.gradient.get_project(project_id)
    assert linked["job_id"] == str(job["job_id"])
    assert linked["cluster_path"] == "job_clusters/main"

    # Run 4: a recommendation beyond the guard rails fails fast; the launch never runs.
    sb.gradient.add_recommendation(project_id, {"num_workers": 40})
    sb.clear_requests()
    before = the_job(sb)
    failed = dags_test()
    assert failed.returncode != 0
    logs = failed.output + _task_logs(home)
    assert "GuardRailViolationError" in logs and "max_workers" in logs, tail(failed.output)
    assert posts(sb, "/jobs/reset") == 0 and posts(sb, "/jobs/run-now") == 0
    assert the_job(sb) == before
    assert len(sb.databricks.runs) == 3


def _task_logs(home: AirflowHome) -> str:
    return "\n".join(
        p.read_text(errors="replace") for p in (home.home / "logs").rglob("*.log") if p.is_file()
    )


def test_the_compat_cell_writes_the_webhook_id_where_the_template_expects_it() -> None:
    """On provider 7.9 the compat check replaces the template's placeholder with a real id."""
    import ast

    from tests.scenarios.templates.harness import EXAMPLE_DAGS, ROOT

    template = (EXAMPLE_DAGS / "gradient_workflow_group.py").read_text()
    check = ast.parse((ROOT / "compat" / "cell_check.py").read_text())
    constants = {
        node.targets[0].id: node.value.value
        for node in check.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    placeholder = constants["WORKFLOW_WEBHOOK_PLACEHOLDER"]
    assert f'GRADIENT_WEBHOOK_ID = "{placeholder}"' in template
    assert constants["WORKFLOW_JOB"] == JOB_NAME
