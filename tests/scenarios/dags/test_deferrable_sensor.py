"""End to end: a DAG requests a recommendation and waits for it with a deferrable sensor.

``airflow dags test`` runs the trigger inline, so this exercises the real defer → trigger →
``execute_complete`` path, in a separate process, against the sandbox of this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_gradient.sandbox import Sandbox

DAG_ID = "gradient_request_and_wait"
#: The DAG the compat matrix runs too (``compat/cell_check.py``).
DAG_FILE = (Path(__file__).parents[2] / "data" / "request_and_wait_dag.py.tmpl").read_text()


def airflow_env(home: Path, sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(sb.connections())
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        }
    )
    return env


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    binary = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run(
        [binary, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.timeout(180)
def test_dags_test_runs_the_deferrable_sensor_end_to_end(tmp_path: Path) -> None:
    with Sandbox() as sb:
        job_id = sb.databricks.create_job(
            {
                "name": "etl",
                "job_clusters": [
                    {
                        "job_cluster_key": "main",
                        "new_cluster": {"node_type_id": "m5.xlarge", "num_workers": 2},
                    }
                ],
                "tasks": [{"task_key": "t", "job_cluster_key": "main"}],
            }
        )
        project_id = sb.gradient.create_project(job_id=job_id)["id"]
        sb.gradient.recommendation_ready_after_reads = 2
        (tmp_path / "dags").mkdir()
        (tmp_path / "dags" / "request_and_wait.py").write_text(
            DAG_FILE.format(dag_id=DAG_ID, project_id=project_id)
        )
        env = airflow_env(tmp_path, sb)
        migrated = airflow(env, "db", "migrate")
        assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]

        run = airflow(env, "dags", "test", DAG_ID)
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-4000:]

        [rec] = sb.gradient.recommendations(project_id)
        assert rec["state"] == "SUCCESS"
        assert f"AWAITED-RECOMMENDATION {rec['id']}" in output
        assert "running trigger in line" in output and "Poll 2:" in output
        recs = f"/v1/projects/{project_id}/recommendations"
        assert len(sb.requests_to("gradient", "POST", recs)) == 1
        # The reuse check, then the trigger's polls: PENDING twice, then SUCCESS.
        assert len(sb.requests_to("gradient", "GET", recs)) >= 3
