"""``Sandbox.reset()``: a clean slate without restarting, with or without the data."""

from __future__ import annotations

from typing import Any

import httpx

from airflow_gradient.sandbox import Sandbox


def _change_everything(sandbox: Sandbox, settings: dict[str, Any]) -> dict[str, Any]:
    """Turn every knob away from its default, inject faults, make data; return what was made."""
    gradient, databricks = sandbox.gradient, sandbox.databricks
    gradient.recommendation_ready_after_reads = 5
    gradient.recommendation_ready_after_seconds = 30.0
    gradient.next_recommendation_outcome = "FAILURE"
    gradient.recommendation_failure_error = "custom failure"
    gradient.recommendation_phase = "LEARNING"
    gradient.token_lifetime = 1.0
    databricks.next_run_result = "FAILED"
    databricks.run_duration = 60.0
    databricks.run_ends_after_reads = 7
    sandbox.faults.inject("gradient", "GET", "/v1/projects", status=503, times=3)
    sandbox.faults.set_latency(0.01, "databricks")
    job_id = databricks.create_job(settings)
    run_id = databricks.run_now(job_id)
    project = gradient.create_project(job_id=job_id, name="reset-me")
    gradient.add_recommendation(project["id"])
    with httpx.Client(base_url=sandbox.gradient_url, timeout=10) as client:
        reply = client.post(
            "/v1/auth/token",
            json={"api_key_id": sandbox.api_key_id, "api_key_secret": sandbox.api_key_secret},
        )
    assert reply.status_code == 200, reply.text
    assert sandbox.requests  # the token request was recorded
    return {
        "job_id": job_id,
        "run_id": run_id,
        "project_id": project["id"],
        "token": reply.json()["result"]["access_token"],
    }


def _assert_default_behaviour(sandbox: Sandbox, token_lifetime: float) -> None:
    gradient, databricks = sandbox.gradient, sandbox.databricks
    assert gradient.recommendation_ready_after_reads == 1
    assert gradient.recommendation_ready_after_seconds is None
    assert gradient.next_recommendation_outcome == "SUCCESS"
    assert gradient.recommendation_failure_error == "No event log found for the latest run"
    assert gradient.recommendation_phase == "OPTIMIZING"
    assert gradient.token_lifetime == token_lifetime
    assert databricks.next_run_result == "SUCCESS"
    assert databricks.run_duration == 0.0
    assert databricks.run_ends_after_reads == 2
    assert sandbox.faults.pending == []
    assert sandbox.faults.latency("databricks") == 0.0
    assert sandbox.faults.latency("gradient") == 0.0
    assert sandbox.requests == []


def test_reset_gives_a_clean_slate_on_the_same_ports(job_settings: Any) -> None:
    with Sandbox(token_lifetime=120.0) as sandbox:
        urls = (sandbox.gradient_url, sandbox.databricks_url)
        made = _change_everything(sandbox, job_settings())

        sandbox.reset()

        _assert_default_behaviour(sandbox, token_lifetime=120.0)
        assert (sandbox.gradient_url, sandbox.databricks_url) == urls
        assert sandbox.databricks.jobs == []
        assert sandbox.databricks.runs == []
        assert sandbox.databricks.destinations == []
        assert sandbox.gradient.projects == []
        assert sandbox.gradient.tokens_issued == 0
        auth = {"Authorization": f"Bearer {made['token']}"}
        stale = httpx.get(f"{sandbox.gradient_url}/v1/projects", headers=auth, timeout=10)
        assert stale.status_code == 401
        # Ids keep counting: nothing new answers to an id handed out before the reset.
        new_job = sandbox.databricks.create_job(job_settings())
        assert new_job > made["job_id"]
        assert sandbox.databricks.run_now(new_job) > made["run_id"]
        # And it still serves, demo seed included.
        ids = sandbox.seed_demo()
        assert sandbox.databricks.get_job(ids["job_id"])["job_id"] == ids["job_id"]


def test_reset_keep_data_keeps_jobs_projects_and_tokens(job_settings: Any) -> None:
    with Sandbox() as sandbox:
        made = _change_everything(sandbox, job_settings())

        sandbox.reset(keep_data=True)

        _assert_default_behaviour(sandbox, token_lifetime=3600.0)
        assert [j["job_id"] for j in sandbox.databricks.jobs] == [made["job_id"]]
        assert [r["run_id"] for r in sandbox.databricks.runs] == [made["run_id"]]
        assert [p["id"] for p in sandbox.gradient.projects] == [made["project_id"]]
        assert len(sandbox.gradient.recommendations(made["project_id"])) == 1
        auth = {"Authorization": f"Bearer {made['token']}"}
        kept = httpx.get(f"{sandbox.gradient_url}/v1/projects", headers=auth, timeout=10)
        assert kept.status_code == 200  # the 503 fault is gone, the token still valid


def test_reset_works_on_a_stopped_sandbox(job_settings: Any) -> None:
    sandbox = Sandbox()
    sandbox.databricks.create_job(job_settings())
    sandbox.databricks.next_run_result = "FAILED"
    sandbox.reset()
    assert sandbox.databricks.jobs == []
    assert sandbox.databricks.next_run_result == "SUCCESS"
    assert not sandbox.running
