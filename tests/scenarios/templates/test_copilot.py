"""example_dags/gradient_copilot.py end to end, with a human answering over the REST API.

``airflow dags test`` parks ``approve`` in ``awaiting_input`` and waits; an ``airflow
api-server`` on the same SQLite database serves the HITL API the UI uses, and the test answers
through it. Approve: the requested recommendation is written and the job runs on it. Reject:
the job is left exactly as it was and is not run again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox
from airflow_gradient.sandbox.airflow_home import stop, tail
from tests.scenarios.templates.harness import AirflowHome, ApiServer

DAG_ID = "gradient_copilot"
AFTER_APPROVAL = ("apply", "run_recommended")


@dataclass
class Parked:
    """A copilot run waiting at ``approve``, and what the sandbox held before it started."""

    server: ApiServer
    proc: subprocess.Popen[Any]
    log: Path
    run_id: str
    job_id: int
    project_id: str
    seeded_recommendation_id: str
    before: dict[str, Any]

    def finish(self, timeout: float = 150) -> str:
        """Wait for ``airflow dags test`` to end; its output (the test fails if it failed)."""
        try:
            returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(self.proc)
            raise AssertionError(
                f"dags test did not finish after the answer:\n{tail(self.log.read_text())}"
            ) from None
        output = self.log.read_text()
        assert returncode == 0, tail(output)
        return output


def job_settings(template_sb: Sandbox, job_id: int) -> dict[str, Any]:
    settings: dict[str, Any] = template_sb.databricks.get_job(job_id)["settings"]
    return settings


def main_cluster(settings: dict[str, Any]) -> dict[str, Any]:
    cluster: dict[str, Any] = settings["job_clusters"][0]["new_cluster"]
    return cluster


def job_updates(template_sb: Sandbox) -> int:
    return len(
        [
            r
            for r in template_sb.requests_to("databricks", "POST")
            if r.path.endswith("/jobs/update")
        ]
    )


def runs_of(template_sb: Sandbox, job_id: int) -> list[dict[str, Any]]:
    return [r for r in template_sb.databricks.runs if r["job_id"] == job_id]


@pytest.fixture
def parked(
    template_sb: Sandbox,
    airflow_home: Callable[..., AirflowHome],
    api_server: Callable[[AirflowHome], ApiServer],
) -> Parked:
    """Run the copilot DAG on the demo job until ``approve`` awaits an answer."""
    seeded = template_sb.seed_demo()  # the job, its project, and an older SUCCESS recommendation
    template_sb.gradient.recommendation_ready_after_reads = (
        1  # PENDING on the first read, then SUCCESS
    )
    job_id, project_id = seeded["job_id"], seeded["project_id"]
    before = job_settings(template_sb, job_id)

    home = airflow_home("gradient_copilot.py")
    server = api_server(home)  # starts while `dags test` gets going
    variables = {"gradient_project_id": project_id, "databricks_job_id": str(job_id)}
    proc, log = home.start_dags_test(DAG_ID, home.env(template_sb.connections(), variables))
    server.wait_ready()
    run_id = server.wait_for_input(DAG_ID, "approve", proc, log, timeout=180)
    return Parked(
        server, proc, log, run_id, job_id, project_id, seeded["recommendation_id"], before
    )


def check_parked(template_sb: Sandbox, parked: Parked) -> str:
    """What must hold while the run waits for a human; the requested recommendation's id."""
    requested = template_sb.gradient.recommendations(parked.project_id)[0]
    assert requested["id"] != parked.seeded_recommendation_id
    assert requested["state"] == "SUCCESS"
    states = parked.server.task_states(DAG_ID, parked.run_id)
    assert states["run_current"] == states["wait_for_recommendation"] == "success"
    assert states["approve"] == "awaiting_input"
    assert all(states[task] is None for task in AFTER_APPROVAL), states

    details = parked.server.hitl_details(DAG_ID, parked.run_id, "approve")
    assert details["options"] == ["Approve", "Reject"]
    assert str(parked.job_id) in details["subject"]
    # The body shows the dry run's diff of the *requested* recommendation.
    body = details["body"]
    assert requested["id"] in body, body
    assert "num_workers" in body and "autoscale" in body, body
    # ... as a Markdown table, which the UI renders as a table.
    assert "| path | before | after |" in body, body
    assert "| `num_workers` | `(absent)` | `6` |" in body, body

    # The dry run wrote nothing; only the first run has happened.
    assert job_settings(template_sb, parked.job_id) == parked.before
    assert job_updates(template_sb) == 0
    assert len(runs_of(template_sb, parked.job_id)) == 1
    rec_id: str = requested["id"]
    return rec_id


@pytest.mark.timeout(300)
def test_approved_recommendation_is_applied_and_the_job_runs_on_it(
    template_sb: Sandbox, parked: Parked
) -> None:
    rec_id = check_parked(template_sb, parked)
    # A newer recommendation arrives while the approval waits: it must not be applied unreviewed.
    unreviewed = template_sb.gradient.add_recommendation(parked.project_id, {"num_workers": 12})

    answer = parked.server.respond(DAG_ID, parked.run_id, "approve", "Approve")
    assert answer["chosen_options"] == ["Approve"]
    parked.finish()

    states = parked.server.task_states(DAG_ID, parked.run_id)
    assert all(states[task] == "success" for task in AFTER_APPROVAL), states
    after = job_settings(template_sb, parked.job_id)
    cluster = main_cluster(after)
    assert cluster["custom_tags"]["sync:recommendation-id"] == rec_id != unreviewed
    assert cluster["num_workers"] == 6 and "autoscale" not in cluster
    assert cluster["init_scripts"] == main_cluster(parked.before)["init_scripts"]
    assert job_updates(template_sb) == 1
    first, second = runs_of(template_sb, parked.job_id)
    assert main_cluster(first) == main_cluster(parked.before)
    assert main_cluster(second) == cluster
    assert second["state"]["result_state"] == "SUCCESS"


@pytest.mark.timeout(300)
def test_rejected_recommendation_leaves_the_job_untouched(
    template_sb: Sandbox, parked: Parked
) -> None:
    check_parked(template_sb, parked)

    answer = parked.server.respond(DAG_ID, parked.run_id, "approve", "Reject")
    assert answer["chosen_options"] == ["Reject"]
    parked.finish()

    states = parked.server.task_states(DAG_ID, parked.run_id)
    assert states["approve"] == "success"
    assert all(states[task] == "skipped" for task in AFTER_APPROVAL), states
    assert job_settings(template_sb, parked.job_id) == parked.before
    assert job_updates(template_sb) == 0
    assert len(runs_of(template_sb, parked.job_id)) == 1
