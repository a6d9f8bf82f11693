"""`make demo`: run example_dags/gradient_apply_then_run.py end to end against the sandbox.

Starts the local Gradient + Databricks sandbox seeded with a realistic job, a project and a
SUCCESS recommendation; runs the DAG with ``airflow dags test`` on SQLite in a temporary
AIRFLOW_HOME; prints the diff that was applied and the cluster the Databricks run used.
Exits non-zero when anything fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "gradient_apply_then_run"


def airflow_env(home: Path, dags: Path, connections: dict[str, str]) -> dict[str, str]:
    """Environment for the ``airflow`` CLI: isolated home, SQLite, our DAGs, the sandbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(connections)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
    return env


def run_dag(env: dict[str, str], log: Path, dag_id: str = DAG_ID) -> int:
    """``airflow db migrate`` then ``airflow dags test``, output to ``log``; the exit status."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    with log.open("w") as out:
        for argv in ([airflow, "db", "migrate"], [airflow, "dags", "test", dag_id]):
            print(f"$ airflow {' '.join(argv[1:])}", flush=True)
            status = subprocess.run(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
            )
            if status.returncode != 0:
                return status.returncode
    return 0


def show_tail(log: Path, lines: int = 60) -> None:
    """The end of the Airflow output, for a failed run."""
    print("".join(log.read_text().splitlines(keepends=True)[-lines:]), file=sys.stderr)


def cluster_table(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The readable diff between two cluster specs (same table the operator logs)."""
    from airflow_gradient.core.cluster.diff import diff_cluster, format_diff

    return format_diff(diff_cluster(before, after))


def main() -> int:
    from airflow_gradient.sandbox import Sandbox

    with Sandbox() as sb, tempfile.TemporaryDirectory(prefix="gradient-demo-") as tmp:
        sb.databricks.run_duration = 1.0
        seeded = sb.seed_demo()
        job_id, project_id = seeded["job_id"], seeded["project_id"]
        before = sb.databricks.get_job(job_id)["settings"]["job_clusters"][0]["new_cluster"]
        print(f"Sandbox: Gradient at {sb.gradient_url}, Databricks at {sb.databricks_url}")
        print(
            f"Seeded job {job_id}, project {project_id}, "
            f"recommendation {seeded['recommendation_id']}"
        )

        env = airflow_env(Path(tmp), ROOT / "example_dags", sb.connections())
        env["AIRFLOW_VAR_GRADIENT_PROJECT_ID"] = project_id
        env["AIRFLOW_VAR_DATABRICKS_JOB_ID"] = str(job_id)
        log = Path(tmp) / "airflow.log"
        status = run_dag(env, log)
        if status != 0:
            show_tail(log)
            print(f"\nDEMO FAILED: airflow exited {status}", file=sys.stderr)
            return status

        after = sb.databricks.get_job(job_id)["settings"]["job_clusters"][0]["new_cluster"]
        runs = [r for r in sb.databricks.runs if r.get("job_id") == job_id]
        print("\n=== What changed in job cluster 'main' ===")
        print(cluster_table(before, after))
        if not runs:
            print("\nDEMO FAILED: the Databricks job did not run", file=sys.stderr)
            return 1
        used = runs[-1]["job_clusters"][0]["new_cluster"]
        print(f"\n=== Cluster the Databricks run {runs[-1]['run_id']} used ===")
        print(json.dumps(used, indent=2, sort_keys=True))
        if used != after:
            print("\nDEMO FAILED: the run did not use the updated cluster", file=sys.stderr)
            return 1
        print("\nDemo OK: the recommendation was applied and the run used it.")
        return 0


if __name__ == "__main__":
    sys.exit(main())
