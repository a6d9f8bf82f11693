"""Scenario 5: ``gradient_fleet`` with 20 jobs spread over both Celery workers."""

from __future__ import annotations

import json
import time
from collections import Counter
from types import ModuleType
from typing import Any

from tests.deployment.client import AirflowApi, SandboxControl, job_updates, main_cluster

DAG_ID = "gradient_fleet"
JOBS = 20
TOKEN_PATH = "/v1/auth/token"


def test_fleet_applies_and_runs_each_job_once_over_both_workers(
    api: AirflowApi, sandbox: SandboxControl, figures: dict[str, Any], script: ModuleType
) -> None:
    seeded = [sandbox.call("seed_demo") for _ in range(JOBS)]
    fleet = [{"project_id": s["project_id"], "job_id": s["job_id"]} for s in seeded]
    api.set_variable("gradient_fleet", json.dumps(fleet))
    before = {s["job_id"]: sandbox.job_settings(s["job_id"]) for s in seeded}
    first = len(sandbox.requests())
    window_start = time.time()

    started = time.monotonic()
    run_id = api.trigger(DAG_ID)
    run = api.wait_run(DAG_ID, run_id, timeout=600)
    figures["trigger_to_success_s"][f"5 fleet ({JOBS} jobs)"] = round(time.monotonic() - started, 1)
    tis = api.task_instances(DAG_ID, run_id)
    assert run["state"] == "success", api.states(DAG_ID, run_id)
    requests = sandbox.requests()[first:]

    # Each job: its own recommendation written once, then exactly one run on it.
    assert len(job_updates(requests)) == JOBS
    for s in seeded:
        settings = sandbox.job_settings(s["job_id"])
        cluster = main_cluster(settings)
        assert cluster["custom_tags"]["sync:recommendation-id"] == s["recommendation_id"]
        assert cluster != main_cluster(before[s["job_id"]])
        runs = sandbox.runs_of(s["job_id"])
        assert len(runs) == 1, (s["job_id"], runs)
        assert main_cluster(runs[0]) == cluster
        assert runs[0]["state"]["result_state"] == "SUCCESS"

    applies = [ti for ti in tis if ti["task_id"] == "optimize_job.apply_recommendation"]
    runs_tis = [ti for ti in tis if ti["task_id"] == "optimize_job.run_job"]
    assert len(applies) == len(runs_tis) == JOBS
    assert all(ti["state"] == "success" and ti["try_number"] == 1 for ti in applies + runs_tis)
    by_worker = Counter(ti["hostname"] for ti in applies + runs_tis)
    assert set(by_worker) == {"worker-1", "worker-2"}, by_worker

    # Token requests per worker: the sandbox saw which process asked (its session is the
    # worker's); they come from the apply task processes only and add up to what it served.
    sessions = {session[0]: name for name, session in script.load_state()["sessions"].items()}
    clients = [c for c in sandbox.token_clients() if c["at"] >= window_start]
    served = [r for r in requests if r["method"] == "POST" and r["path"] == TOKEN_PATH]
    assert len(clients) == len(served) > 0
    workers = Counter(sessions.get(c["sid"], f"session {c['sid']}") for c in clients)
    assert set(workers) <= {"worker_1", "worker_2"}, workers
    apply_pids = {ti["pid"] for ti in applies}
    assert {c["pid"] for c in clients} <= apply_pids  # the apply task processes, nothing else
    figures["fleet_token_requests"] = {
        worker: {
            "apply_tasks": sum(1 for ti in applies if ti["hostname"] == worker.replace("_", "-")),
            "token_requests": workers[worker],
            "requesting_processes": len(
                {c["pid"] for c in clients if sessions.get(c["sid"]) == worker}
            ),
        }
        for worker in ("worker_1", "worker_2")
    }
    figures["fleet_token_requests"]["requesting_pids_that_are_apply_ti_pids"] = len(
        {c["pid"] for c in clients} & apply_pids
    )
