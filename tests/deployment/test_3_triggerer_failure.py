"""Scenario 3: the triggerer is SIGKILLed while the sensor is deferred, then restarted."""

from __future__ import annotations

import os
import signal
import time
from types import ModuleType
from typing import Any

from tests.deployment.client import (
    AirflowApi,
    SandboxControl,
    job_updates,
    main_cluster,
    wait_until,
)
from tests.deployment.conftest import seed
from tests.deployment.test_2_copilot import DAG_ID, SENSOR

RECOMMENDATIONS = "/recommendations"


def test_the_wait_survives_a_killed_triggerer_and_applies_once(
    api: AirflowApi, sandbox: SandboxControl, figures: dict[str, Any], script: ModuleType
) -> None:
    ids = seed(api, sandbox)
    first = len(sandbox.requests())
    started = time.monotonic()
    run_id = api.trigger(DAG_ID)
    deferred = api.wait_state(DAG_ID, run_id, SENSOR, "deferred", timeout=180)

    def polls() -> int:
        return sum(
            1
            for r in sandbox.requests()[first:]
            if r["method"] == "GET" and r["path"].endswith(RECOMMENDATIONS)
        )

    # The trigger has polled once in the triggerer (PENDING; the next poll is 60 s away).
    wait_until(lambda: polls() >= 1, timeout=120, what="the trigger's first poll")
    state = script.load_state()
    old_pid = state["pids"]["triggerer"]
    os.killpg(old_pid, signal.SIGKILL)
    wait_until(
        lambda: not script._members(state["sessions"]["triggerer"]),
        timeout=30,
        what="the killed triggerer to be gone",
    )
    assert api.task_instance(DAG_ID, run_id, SENSOR)["state"] == "deferred"

    info = script.restart("triggerer")
    assert info["pids"]["triggerer"] != old_pid
    # The new triggerer takes the trigger over and its poll finds the recommendation.
    api.wait_state(DAG_ID, run_id, "approve", "awaiting_input", timeout=240)
    api.respond(DAG_ID, run_id, "approve", "Approve")
    run = api.wait_run(DAG_ID, run_id, timeout=240)
    figures["trigger_to_success_s"]["3 triggerer killed + restarted"] = round(
        time.monotonic() - started, 1
    )
    states = api.states(DAG_ID, run_id)
    assert run["state"] == "success", states
    assert all(state == "success" for state in states.values()), states
    sensor = api.task_instance(DAG_ID, run_id, SENSOR)
    assert sensor["try_number"] == deferred["try_number"]  # resumed, not retried

    requested = sandbox.call("gradient.recommendations", ids["project_id"])[0]
    cluster = main_cluster(sandbox.job_settings(ids["job_id"]))
    assert cluster["custom_tags"]["sync:recommendation-id"] == requested["id"]
    assert len(job_updates(sandbox.requests()[first:])) == 1  # applied exactly once
    assert len(sandbox.runs_of(ids["job_id"])) == 2  # run_current and run_recommended
