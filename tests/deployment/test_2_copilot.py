"""Scenario 2: ``gradient_copilot`` approved and rejected over REST; the sensor defers."""

from __future__ import annotations

import time
from typing import Any

from tests.deployment.client import AirflowApi, SandboxControl, job_updates, main_cluster
from tests.deployment.conftest import seed

DAG_ID = "gradient_copilot"
SENSOR = "wait_for_recommendation"


def park_at_approval(api: AirflowApi, sandbox: SandboxControl) -> dict[str, Any]:
    """Seed, trigger, see the sensor deferred, and wait until ``approve`` awaits an answer."""
    ids = seed(api, sandbox)
    ids["first_request"] = len(sandbox.requests())
    ids["started"] = time.monotonic()
    ids["run_id"] = run_id = api.trigger(DAG_ID)
    # The requested recommendation is PENDING on the first poll: the sensor waits in the
    # triggerer (state ``deferred``: no worker slot held) until the next poll sees SUCCESS.
    ids["deferred"] = api.wait_state(DAG_ID, run_id, SENSOR, "deferred", timeout=180)
    api.wait_state(DAG_ID, run_id, "approve", "awaiting_input", timeout=240)
    return ids


def test_approved_recommendation_is_applied_and_run(
    api: AirflowApi, sandbox: SandboxControl, figures: dict[str, Any]
) -> None:
    ids = park_at_approval(api, sandbox)
    requested = sandbox.call("gradient.recommendations", ids["project_id"])[0]
    assert requested["id"] != ids["recommendation_id"] and requested["state"] == "SUCCESS"
    assert sandbox.job_settings(ids["job_id"]) == ids["before"]  # the preview wrote nothing

    answer = api.respond(DAG_ID, ids["run_id"], "approve", "Approve")
    assert answer["chosen_options"] == ["Approve"]
    run = api.wait_run(DAG_ID, ids["run_id"], timeout=240)
    figures["trigger_to_success_s"]["2 copilot approve (one 60 s sensor poll)"] = round(
        time.monotonic() - ids["started"], 1
    )
    assert run["state"] == "success", api.states(DAG_ID, ids["run_id"])
    states = api.states(DAG_ID, ids["run_id"])
    assert all(state == "success" for state in states.values()), states

    cluster = main_cluster(sandbox.job_settings(ids["job_id"]))
    assert cluster["custom_tags"]["sync:recommendation-id"] == requested["id"]
    assert len(job_updates(sandbox.requests()[ids["first_request"] :])) == 1
    first, second = sandbox.runs_of(ids["job_id"])
    assert main_cluster(first) == main_cluster(ids["before"])
    assert main_cluster(second) == cluster


def test_rejected_recommendation_leaves_the_job_untouched(
    api: AirflowApi, sandbox: SandboxControl, figures: dict[str, Any]
) -> None:
    ids = park_at_approval(api, sandbox)

    answer = api.respond(DAG_ID, ids["run_id"], "approve", "Reject")
    assert answer["chosen_options"] == ["Reject"]
    run = api.wait_run(DAG_ID, ids["run_id"], timeout=240)
    figures["trigger_to_success_s"]["2 copilot reject (one 60 s sensor poll)"] = round(
        time.monotonic() - ids["started"], 1
    )
    states = api.states(DAG_ID, ids["run_id"])
    assert run["state"] == "success", states
    assert states["apply"] == states["run_recommended"] == "skipped", states
    assert sandbox.job_settings(ids["job_id"]) == ids["before"]
    assert job_updates(sandbox.requests()[ids["first_request"] :]) == []
    assert len(sandbox.runs_of(ids["job_id"])) == 1  # only run_current
