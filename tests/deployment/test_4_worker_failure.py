"""Scenario 4: the worker running an apply is SIGKILLed mid-apply; Airflow retries it."""

from __future__ import annotations

import os
import signal
import time
from types import ModuleType
from typing import Any
from urllib.parse import quote

from tests.deployment.client import (
    AirflowApi,
    SandboxControl,
    job_updates,
    main_cluster,
    wait_until,
)
from tests.deployment.conftest import APPLY_THEN_RUN, seed

LATENCY = 4.0  # seconds added to each Databricks call: an apply takes three of them


def without_ids(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with the per-project ``sync:*`` tag values blanked (they name the seed)."""
    copy = {**settings, "job_clusters": [dict(c) for c in settings["job_clusters"]]}
    for cluster in copy["job_clusters"]:
        new = dict(cluster["new_cluster"])
        new["custom_tags"] = {
            k: ("<id>" if k.startswith("sync:") else v) for k, v in new["custom_tags"].items()
        }
        cluster["new_cluster"] = new
    return copy


def test_killed_worker_mid_apply_is_retried_and_the_job_ends_exactly_merged(
    api: AirflowApi,
    sandbox: SandboxControl,
    figures: dict[str, Any],
    script: ModuleType,
    reference_apply: dict[str, Any],
) -> None:
    ids = seed(api, sandbox)
    first = len(sandbox.requests())
    sandbox.call("faults.set_latency", LATENCY, service="databricks")
    try:
        started = time.monotonic()
        run_id = api.trigger(APPLY_THEN_RUN)
        ti = api.wait_state(APPLY_THEN_RUN, run_id, "apply_recommendation", "running", 180)
        # The apply has read the job (the reply came back) and is writing or about to.
        wait_until(
            lambda: any(r["service"] == "databricks" for r in sandbox.requests()[first:]),
            timeout=120,
            what="the apply's first Databricks call",
            interval=0.2,
        )
        victim = ti["hostname"].replace("-", "_")
        state = script.load_state()
        os.killpg(state["pids"][victim], signal.SIGKILL)
    finally:
        sandbox.call("faults.set_latency", 0.0, service="databricks")
    script.restart(victim)

    run = api.wait_run(APPLY_THEN_RUN, run_id, timeout=300)
    figures["trigger_to_success_s"]["4 worker killed mid-apply, retried"] = round(
        time.monotonic() - started, 1
    )
    states = api.states(APPLY_THEN_RUN, run_id)
    assert run["state"] == "success", states
    apply = api.task_instance(APPLY_THEN_RUN, run_id, "apply_recommendation")
    assert apply["state"] == "success" and apply["try_number"] == 2, apply
    tries = api.request(
        "GET",
        f"/api/v2/dags/{APPLY_THEN_RUN}/dagRuns/{quote(run_id, safe='')}"
        "/taskInstances/apply_recommendation/tries",
    )["task_instances"]
    killed = next(t for t in tries if t["try_number"] == 1)
    assert killed["state"] == "failed" and killed["hostname"] == ti["hostname"], killed

    after = sandbox.job_settings(ids["job_id"])
    tags = main_cluster(after)["custom_tags"]
    assert tags["sync:project-id"] == ids["project_id"]
    assert tags["sync:recommendation-id"] == ids["recommendation_id"]
    # Exactly what an undisturbed apply writes: no mix of old and new, no lost write.
    assert without_ids(after) == without_ids(reference_apply["after"])
    assert len(job_updates(sandbox.requests()[first:])) == 1
    runs = sandbox.runs_of(ids["job_id"])
    assert len(runs) == 1 and main_cluster(runs[0]) == main_cluster(after)
