"""The chain Gradient depends on: on_start webhook -> run ends -> a submission in the project;
and runs report the cluster spec they used. Plain httpx over real sockets."""

from __future__ import annotations

import time
from typing import Any

import httpx

from airflow_gradient.sandbox import Sandbox
from airflow_gradient.sandbox.gradient.submissions import NO_LOGS_ERROR

LOG_CONF = {"dbfs": {"destination": "dbfs:/cluster-logs/etl"}}


def _job(sb: Sandbox, *, on_start: list[str], log_conf: bool = True) -> int:
    sb.databricks.run_ends_after_reads = 0  # runs end when started: nobody polls them here
    cluster: dict[str, Any] = {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "m5.xlarge",
        "num_workers": 2,
    }
    if log_conf:
        cluster["cluster_log_conf"] = LOG_CONF
    return sb.databricks.create_job(
        {
            "name": "etl",
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": cluster}],
            "tasks": [
                {
                    "task_key": "t",
                    "job_cluster_key": "main",
                    "notebook_task": {"notebook_path": "/etl"},
                }
            ],
            "webhook_notifications": {"on_start": [{"id": i} for i in on_start]},
        }
    )


def _project(sb: Sandbox, job_id: int) -> tuple[str, str]:
    workspace = sb.gradient.get_workspace(sb.databricks.workspace_id) or (
        sb.gradient.create_workspace(sb.databricks.workspace_id)
    )
    project = sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")
    return project["id"], workspace["webhook_id"]


def _submissions(client: httpx.Client, project_id: str, **params: Any) -> dict[str, Any]:
    reply = client.get(f"/v1/projects/{project_id}/paged/submissions", params=params)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def test_a_run_with_the_on_start_webhook_produces_a_submission_once_it_ends(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    sb = fresh_sandbox
    job_id = _job(sb, on_start=[])
    project_id, webhook_id = _project(sb, job_id)
    sb.databricks.update_job(job_id, {"webhook_notifications": {"on_start": [{"id": webhook_id}]}})
    sb.databricks.run_duration = 30.0
    run_id = sb.databricks.run_now(job_id)
    assert _submissions(gradient, project_id)["items"] == []  # still running: nothing yet

    sb.databricks.finish_run(run_id)
    body = _submissions(gradient, project_id)
    assert "result" not in body  # the one endpoint outside the envelope
    [item] = body["items"]
    assert set(item) >= {"id", "project_id", "state", "created_at", "updated_at", "configuration"}
    assert item["project_id"] == project_id
    assert item["state"] == "SUCCESS"
    assert item["run_id"] == str(run_id)
    assert item["configuration"]["node_type_id"] == "m5.xlarge"
    assert item["configuration"]["cluster_log_conf"] == LOG_CONF
    # Read again: the same submission, not a second one.
    assert _submissions(gradient, project_id)["items"] == [item]


def test_a_run_without_the_webhook_produces_none(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    sb = fresh_sandbox
    job_id = _job(sb, on_start=[])
    project_id, _ = _project(sb, job_id)
    sb.databricks.run_now(job_id)
    assert _submissions(gradient, project_id)["items"] == []
    assert _submissions(gradient, project_id)["total"] == 0


def test_a_run_notifying_another_destination_produces_none(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    sb = fresh_sandbox
    other = sb.databricks.create_destination("on-call", "https://hooks.example.com/x")
    job_id = _job(sb, on_start=[other["id"]])
    project_id, _ = _project(sb, job_id)
    sb.databricks.run_now(job_id)
    assert _submissions(gradient, project_id)["items"] == []


def test_a_cluster_without_log_delivery_gives_a_failed_submission(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    sb = fresh_sandbox
    job_id = _job(sb, on_start=[], log_conf=False)
    project_id, webhook_id = _project(sb, job_id)
    sb.databricks.update_job(job_id, {"webhook_notifications": {"on_start": [{"id": webhook_id}]}})
    sb.databricks.run_now(job_id)
    [item] = _submissions(gradient, project_id)["items"]
    assert item["state"] == "FAILED"
    assert item["error"] == NO_LOGS_ERROR
    assert "cluster_log_conf" not in item["configuration"]


def test_submissions_page_newest_first(fresh_sandbox: Sandbox, gradient: httpx.Client) -> None:
    sb = fresh_sandbox
    job_id = _job(sb, on_start=[])
    project_id, webhook_id = _project(sb, job_id)
    sb.databricks.update_job(job_id, {"webhook_notifications": {"on_start": [{"id": webhook_id}]}})
    now = time.time()
    run_ids = [
        sb.databricks.record_run(job_id, started=now - 3600 * (5 - i), duration=60)
        for i in range(5)
    ]
    first = _submissions(gradient, project_id, page=0, size=2)
    second = _submissions(gradient, project_id, page=1, size=2)
    third = _submissions(gradient, project_id, page=2, size=2)
    assert first["total"] == 5
    seen = [i["run_id"] for i in first["items"] + second["items"] + third["items"]]
    assert seen == [str(r) for r in reversed(run_ids)]


def test_submissions_of_an_unknown_project_is_404(gradient: httpx.Client) -> None:
    reply = gradient.get("/v1/projects/nope/paged/submissions")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "Project Not Found"


def test_runs_report_the_cluster_spec_they_used(fresh_sandbox: Sandbox, dbx: httpx.Client) -> None:
    sb = fresh_sandbox
    job_id = _job(sb, on_start=[])
    first = sb.databricks.run_now(job_id)
    job = sb.databricks.get_job(job_id)
    cluster = job["settings"]["job_clusters"][0]
    cluster["new_cluster"]["num_workers"] = 7
    sb.databricks.update_job(job_id, {"job_clusters": [cluster]})
    second = sb.databricks.run_now(job_id)

    def workers(run: dict[str, Any]) -> int:
        value: int = run["job_clusters"][0]["new_cluster"]["num_workers"]
        return value

    got = dbx.get("/api/2.2/jobs/runs/get", params={"run_id": first}).json()
    assert workers(got) == 2
    listed = dbx.get(
        "/api/2.2/jobs/runs/list",
        params={"job_id": job_id, "expand_tasks": "true", "completed_only": "true"},
    ).json()["runs"]
    assert [(r["run_id"], workers(r)) for r in listed] == [(second, 7), (first, 2)]
