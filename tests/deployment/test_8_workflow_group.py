"""Scenario 8: ``gradient_workflow_group`` on CeleryExecutor, triggered over REST.

The real ``DatabricksWorkflowTaskGroup`` builds its job from the DAG at every launch. Run 1
creates the job on the DAG's baseline + Gradient's cluster template; after a recommendation,
run 2's launch resets the job with exactly the merged cluster and Gradient's ``on_start``
webhook, and runs it. The sandbox runs on its default run behaviour here (reads move a run
on), which the launch must find started.
"""

from __future__ import annotations

import ast
import copy
import time
from typing import Any

from tests.deployment.client import AirflowApi, SandboxControl, wait_until
from tests.deployment.conftest import ROOT

DAG_ID = "gradient_workflow_group"
JOB_NAME = "gradient_workflow_group.workflow"
WORKER_HOSTNAMES = {"worker-1", "worker-2"}
TASKS = {"gradient_clusters", "workflow.launch", "workflow.etl", "workflow.report"}


def baseline_cluster() -> dict[str, Any]:
    """The ``new_cluster`` of the template's ``BASELINE_JOB_CLUSTERS``, read from the file."""
    tree = ast.parse((ROOT / "example_dags" / f"{DAG_ID}.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "BASELINE_JOB_CLUSTERS"
            and node.value is not None
        ):
            (entry,) = ast.literal_eval(node.value)
            assert entry["job_cluster_key"] == "main"
            cluster: dict[str, Any] = entry["new_cluster"]
            return cluster
    raise AssertionError("BASELINE_JOB_CLUSTERS not found in the template")


def the_job(sandbox: SandboxControl) -> dict[str, Any]:
    jobs = [j for j in sandbox.call("databricks.jobs") if j["settings"]["name"] == JOB_NAME]
    assert len(jobs) == 1, [j["settings"]["name"] for j in sandbox.call("databricks.jobs")]
    job: dict[str, Any] = jobs[0]
    return job


def main_cluster(job: dict[str, Any]) -> dict[str, Any]:
    (entry,) = job["settings"]["job_clusters"]
    assert entry["job_cluster_key"] == "main"
    cluster: dict[str, Any] = entry["new_cluster"]
    return cluster


def posts(requests: list[dict[str, Any]], endpoint: str) -> int:
    return len(
        [
            r
            for r in requests
            if r["method"] == "POST" and r["path"].endswith(endpoint) and r["status"] == 200
        ]
    )


def run_dag(api: AirflowApi, sandbox: SandboxControl) -> tuple[list[dict[str, Any]], float]:
    """Trigger the DAG once and wait: (the sandbox requests it made, seconds to success)."""
    first = len(sandbox.requests())
    started = time.monotonic()
    run_id = api.trigger(DAG_ID)
    run = api.wait_run(DAG_ID, run_id, timeout=300)
    elapsed = round(time.monotonic() - started, 1)
    tis = {ti["task_id"]: ti for ti in api.task_instances(DAG_ID, run_id)}
    assert run["state"] == "success", {k: ti["state"] for k, ti in tis.items()}
    assert set(tis) == TASKS
    for ti in tis.values():
        assert ti["state"] == "success", ti
        assert ti["hostname"] in WORKER_HOSTNAMES, ti["hostname"]  # ran in a Celery worker
    launch_log = api.task_log(tis["workflow.launch"])
    assert "Databricks job started. State: RUNNING" in launch_log, launch_log[-2000:]
    return sandbox.requests()[first:], elapsed


def test_the_launch_resets_the_job_with_the_merged_cluster_and_the_webhook(
    api: AirflowApi, sandbox: SandboxControl, figures: dict[str, Any]
) -> None:
    # The sandbox's default run behaviour (the session fixture times runs by the clock).
    sandbox.set("databricks.run_duration", 0.0)
    try:
        _scenario(api, sandbox, figures)
    finally:
        sandbox.set("databricks.run_duration", 2.0)


def _scenario(api: AirflowApi, sandbox: SandboxControl, figures: dict[str, Any]) -> None:
    workspace_id = sandbox.call("databricks.workspace_id")
    # Another scenario of the session may have made the workspace already.
    workspace = sandbox.call("gradient.get_workspace", workspace_id) or sandbox.call(
        "gradient.create_workspace", workspace_id
    )
    project = sandbox.call(
        "gradient.create_project", name="workflow group", workspace_id=workspace["workspace_id"]
    )
    project_id, webhook_id = project["id"], workspace["webhook_id"]
    api.set_variable("gradient_project_id", project_id)
    wait_until(
        lambda: api.status(f"/api/v2/dags/{DAG_ID}") == 200,
        timeout=180,
        what=f"the dag-processor to parse {DAG_ID}",
    )
    template = sandbox.call("gradient.cluster_template", project_id)
    templated = copy.deepcopy(baseline_cluster())
    templated.update(copy.deepcopy(template))

    # Run 1: no job yet; the launch creates it on baseline + template, with the webhook.
    requests, elapsed = run_dag(api, sandbox)
    figures["trigger_to_success_s"]["8 workflow group, first run (jobs/create)"] = elapsed
    job = the_job(sandbox)
    assert posts(requests, "/jobs/create") == 1 and posts(requests, "/jobs/reset") == 0
    assert main_cluster(job) == templated
    assert {"id": webhook_id} in job["settings"]["webhook_notifications"]["on_start"]

    # Gradient recommends; run 2's launch resets the job with exactly the merged cluster.
    rec_id = sandbox.call(
        "gradient.add_recommendation",
        project_id,
        {"num_workers": 4, "node_type_id": "m5.2xlarge"},
    )
    requests, elapsed = run_dag(api, sandbox)
    figures["trigger_to_success_s"]["8 workflow group, reset on the recommendation"] = elapsed
    assert posts(requests, "/jobs/reset") == 1 and posts(requests, "/jobs/create") == 0
    assert posts(requests, "/jobs/run-now") == 1
    job = the_job(sandbox)
    merged = copy.deepcopy(templated)
    del merged["autoscale"]
    merged.update({"num_workers": 4, "node_type_id": "m5.2xlarge"})
    merged["custom_tags"]["sync:recommendation-id"] = rec_id
    assert main_cluster(job) == merged
    assert {"id": webhook_id} in job["settings"]["webhook_notifications"]["on_start"]
    runs = sandbox.runs_of(job["job_id"])
    assert len(runs) == 2
    assert runs[-1]["job_clusters"][0]["new_cluster"] == merged  # the run used it
    assert runs[-1]["state"]["result_state"] == "SUCCESS"
    linked = sandbox.call("gradient.get_project", project_id)
    assert (linked["job_id"], linked["cluster_path"]) == (str(job["job_id"]), "job_clusters/main")
