"""example_dags/gradient_health.py end to end with ``airflow dags test``: one healthy job, one
whose webhook was dropped; only the broken one's task fails, and its callback names the fix."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.healthy_job import healthy_job
from tests.scenarios.templates.harness import AirflowHome

DAG_ID = "gradient_health"


@pytest.mark.timeout(240)
def test_daily_health_fails_only_the_broken_job(
    template_sb: Sandbox, airflow_home: Callable[..., AirflowHome]
) -> None:
    good = healthy_job(template_sb, name="etl-good")
    broken = healthy_job(template_sb, name="etl-broken")
    template_sb.databricks.update_job(broken.job_id, {"webhook_notifications": {}})
    home = airflow_home("gradient_health.py")
    env = home.env(
        template_sb.connections(),
        {"gradient_health_jobs": [good.job_id, {"job_id": broken.job_id, "project_id": None}]},
    )

    result = home.dags_test(DAG_ID, env)

    assert result.returncode != 0  # the DAG run failed: one check task failed
    output = result.output
    assert "HealthCheckFailedError" in output
    assert f"Databricks job {broken.job_id}: 1 check(s)" in output
    assert f"Databricks job {good.job_id}: health ok" in output
    # The on_failure_callback read the result from XCom and logged the remedy.
    assert f"Gradient health fail Databricks job {broken.job_id}" in output
    assert broken.webhook_id in output
