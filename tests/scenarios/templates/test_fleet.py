"""example_dags/gradient_fleet.py end to end: three jobs, one project without a recommendation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox
from airflow_gradient.sandbox.seeds import demo_job_settings
from tests.scenarios.templates.harness import AirflowHome

DAG_ID = "gradient_fleet"


def make_job(template_sb: Sandbox, name: str, *, recommended: bool) -> dict[str, Any]:
    """A demo-shaped job, its project, and (if ``recommended``) a SUCCESS recommendation."""
    settings = demo_job_settings()
    settings["name"] = name
    job_id = template_sb.databricks.create_job(settings)
    project = template_sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")
    rec_id = template_sb.gradient.add_recommendation(project["id"]) if recommended else None
    return {
        "job_id": job_id,
        "project_id": project["id"],
        "recommendation_id": rec_id,
        "before": main_cluster(template_sb, job_id),
    }


def main_cluster(template_sb: Sandbox, job_id: int) -> dict[str, Any]:
    cluster: dict[str, Any] = template_sb.databricks.get_job(job_id)["settings"]["job_clusters"][0][
        "new_cluster"
    ]
    return cluster


def job_updates(template_sb: Sandbox) -> list[Any]:
    return [
        r for r in template_sb.requests_to("databricks", "POST") if r.path.endswith("/jobs/update")
    ]


@pytest.mark.timeout(240)
def test_fleet_applies_where_there_is_a_recommendation_and_runs_every_job(
    template_sb: Sandbox, airflow_home: Callable[..., AirflowHome]
) -> None:
    jobs = [
        make_job(template_sb, "etl-orders", recommended=True),
        make_job(template_sb, "etl-new", recommended=False),
        make_job(template_sb, "etl-clicks", recommended=True),
    ]
    home = airflow_home("gradient_fleet.py")
    fleet = [{"project_id": j["project_id"], "job_id": j["job_id"]} for j in jobs]
    env = home.env(template_sb.connections(), {"gradient_fleet": fleet})

    home.dags_test(DAG_ID, env).assert_ok()

    for job in (jobs[0], jobs[2]):
        after = main_cluster(template_sb, job["job_id"])
        assert after != job["before"]
        assert after["custom_tags"]["sync:recommendation-id"] == job["recommendation_id"]
        assert after["num_workers"] == 6 and "autoscale" not in after
        assert after["init_scripts"] == job["before"]["init_scripts"]
    # No recommendation: left exactly as it was, and run anyway.
    assert main_cluster(template_sb, jobs[1]["job_id"]) == jobs[1]["before"]
    assert len(job_updates(template_sb)) == 2

    runs = template_sb.databricks.runs
    assert sorted(r["job_id"] for r in runs) == sorted(j["job_id"] for j in jobs)
    for run in runs:
        # Each job ran after its own apply, on the cluster the job holds now.
        assert run["job_clusters"][0]["new_cluster"] == main_cluster(template_sb, run["job_id"])
        assert run["state"]["result_state"] == "SUCCESS"
