"""The hook methods the doctor and the report read with, over real sockets: pages followed,
nothing read twice, a missing job is ``None``."""

from __future__ import annotations

import time

from airflow_gradient.hooks.databricks import GradientDatabricksHook
from airflow_gradient.hooks.gradient import GradientHook
from airflow_gradient.sandbox import Sandbox
from tests.healthy_job import healthy_job


def test_list_submissions_follows_pages_up_to_the_limit(sb: Sandbox) -> None:
    job = healthy_job(sb, runs=0)
    now = time.time()
    runs = [
        sb.databricks.record_run(job.job_id, started=now - 3600 * (6 - i), duration=60)
        for i in range(5)
    ]
    path = f"/v1/projects/{job.project_id}/paged/submissions"
    hook = GradientHook()
    sb.clear_requests()
    items = hook.list_submissions(job.project_id, limit=10, size=2)
    assert [i["run_id"] for i in items] == [str(r) for r in reversed(runs)]
    assert len(sb.requests_to("gradient", "GET", path)) == 3  # 2 + 2 + 1 (short page: done)
    sb.clear_requests()
    assert len(hook.list_submissions(job.project_id, limit=3, size=2)) == 3
    assert len(sb.requests_to("gradient", "GET", path)) == 2


def test_find_projects_for_job(sb: Sandbox) -> None:
    job = healthy_job(sb, runs=0)
    found = GradientHook().find_projects_for_job(job.job_id)
    assert [p["id"] for p in found] == [job.project_id]
    assert GradientHook().find_projects_for_job(123) == []


def test_find_job_and_list_job_runs(sb: Sandbox) -> None:
    job = healthy_job(sb, runs=0)
    now = time.time()
    runs = [
        sb.databricks.record_run(job.job_id, started=now - 60 * (40 - i), duration=30)
        for i in range(30)
    ]
    hook = GradientDatabricksHook(retry_limit=1)
    assert hook.find_job(424242) is None
    found = hook.find_job(job.job_id)
    assert found is not None
    assert found["settings"]["job_clusters"][0]["job_cluster_key"] == "main"
    sb.clear_requests()
    listed = hook.list_job_runs(job.job_id, limit=28)
    assert [r["run_id"] for r in listed] == list(reversed(runs))[:28]
    assert listed[0]["job_clusters"][0]["new_cluster"]["num_workers"] >= 1  # the spec it used
    assert len(sb.requests_to("databricks", "GET", "/api/2.2/jobs/runs/list")) == 2  # 25 + 3
