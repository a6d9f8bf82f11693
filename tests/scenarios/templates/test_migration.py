"""example_dags/gradient_submit_run_migration.py: end to end, the setup DAG creates the saved
job and the daily DAG applies the recommendation and runs the job; and the setup's guard
finds an existing job, so running the setup again would not reset it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.scenarios.templates.harness import AirflowHome, load_template

SETUP_DAG_ID = "gradient_submit_run_migration_setup"
DAILY_DAG_ID = "gradient_submit_run_migration"
JOB_NAME = "daily-sales-etl"


def jobs_named(template_sb: Sandbox, name: str) -> list[dict[str, Any]]:
    return [j for j in template_sb.databricks.jobs if j["settings"].get("name") == name]


def etl_cluster(template_sb: Sandbox, job_id: int) -> dict[str, Any]:
    [entry] = template_sb.databricks.get_job(job_id)["settings"]["job_clusters"]
    assert entry["job_cluster_key"] == "etl"
    cluster: dict[str, Any] = entry["new_cluster"]
    return cluster


def requests_ending(template_sb: Sandbox, suffix: str) -> int:
    return len(
        [r for r in template_sb.requests_to("databricks", "POST") if r.path.endswith(suffix)]
    )


@pytest.mark.timeout(240)
def test_setup_creates_the_job_and_the_daily_dag_applies_then_runs(
    template_sb: Sandbox, airflow_home: Callable[..., AirflowHome]
) -> None:
    home = airflow_home("gradient_submit_run_migration.py")
    assert not jobs_named(template_sb, JOB_NAME)

    # 1. One-time setup: the saved job is created from the DAG's definition.
    home.dags_test(SETUP_DAG_ID, home.env(template_sb.connections())).assert_ok()
    [job] = jobs_named(template_sb, JOB_NAME)
    job_id = job["job_id"]
    before = etl_cluster(template_sb, job_id)
    assert before["autoscale"] == {"min_workers": 2, "max_workers": 10}
    assert [t["task_key"] for t in job["settings"]["tasks"]] == ["load_sales", "aggregate_sales"]
    assert requests_ending(template_sb, "/jobs/create") == 1

    # 2. The Gradient project for the new job (done once, by hand or through the API).
    project = template_sb.gradient.create_project(
        job_id=job_id, cluster_path="job_clusters/etl", auto_apply_recs=False, name=JOB_NAME
    )
    rec_id = template_sb.gradient.add_recommendation(project["id"])

    # 3. The daily DAG: apply by job name, then run-now by job name.
    daily_env = home.env(
        template_sb.connections(), {"daily_sales_etl_gradient_project_id": project["id"]}
    )
    home.dags_test(DAILY_DAG_ID, daily_env).assert_ok()
    after = etl_cluster(template_sb, job_id)
    assert after["custom_tags"]["sync:recommendation-id"] == rec_id
    assert after["custom_tags"]["team"] == "analytics"
    assert after["num_workers"] == 8 and "autoscale" not in after
    [run] = [r for r in template_sb.databricks.runs if r["job_id"] == job_id]
    assert run["job_clusters"][0]["new_cluster"] == after
    assert run["state"]["result_state"] == "SUCCESS"


def test_the_setup_guard_finds_an_existing_job(
    template_sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``job_missing`` (the short circuit before ``create_job``) says False for an existing job,
    so triggering the setup again skips the create-or-reset; the DagBag test checks the wiring."""
    for name, value in template_sb.connections().items():
        monkeypatch.setenv(name, value)
    job_missing = load_template("gradient_submit_run_migration.py").setup_dag.get_task(
        "job_missing"
    )
    assert job_missing.python_callable(JOB_NAME) is True
    template_sb.databricks.create_job({"name": JOB_NAME, "tasks": [{"task_key": "t"}]})
    assert job_missing.python_callable(JOB_NAME) is False
    assert requests_ending(template_sb, "/jobs/reset") == 0
