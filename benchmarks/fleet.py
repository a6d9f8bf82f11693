"""``gradient_fleet`` with N jobs under ``airflow dags test`` against the sandbox.

Builds N demo-shaped Databricks jobs, each with a Gradient project and a SUCCESS
recommendation, in one sandbox (runs finish at once), sets the ``gradient_fleet`` Variable to
the N pairs and runs ``airflow dags test gradient_fleet`` in a fresh Airflow home (SQLite, the
dags folder holding only that template; the same harness as the template tests). Then prints
the total wall time of ``dags test``, the requests per job from the sandbox's request log
(apply: Gradient and ``jobs/get``/``jobs/update``; run: ``run-now`` and ``runs/get``), and the
token requests: ``dags test`` runs every task in its one process, so that is the token
requests per process.

    .venv/bin/python benchmarks/fleet.py [--n 50 200] [--latency 0.05] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from airflow_gradient.sandbox.airflow_home import AirflowHome, migrate

FLEET_DAG = Path(__file__).resolve().parents[1] / "example_dags" / "gradient_fleet.py"

_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}|/\d+(?=/|$)")
TOKEN = "/v1/auth/token"


def make_fleet(sb: Any, n: int) -> list[dict[str, Any]]:
    """N jobs, each with a project and a SUCCESS recommendation (so every apply writes)."""
    from airflow_gradient.sandbox.seeds import demo_job_settings

    fleet = []
    for number in range(n):
        settings = demo_job_settings()
        settings["name"] = f"fleet-{number}"
        job_id = sb.databricks.create_job(settings)
        project = sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")
        sb.gradient.add_recommendation(project["id"])
        fleet.append({"project_id": project["id"], "job_id": job_id})
    return fleet


def run(n: int, latency: float, timeout: float, database: Path) -> dict[str, Any]:
    from airflow_gradient.sandbox import Sandbox

    with Sandbox() as sb, tempfile.TemporaryDirectory(prefix="gradient-fleet-") as tmp:
        sb.databricks.run_duration = 0.0
        sb.databricks.run_ends_after_reads = 0  # runs over at once, as in the numbers recorded
        fleet = make_fleet(sb, n)
        home = AirflowHome.create(Path(tmp), database, [FLEET_DAG])
        env = home.env(sb.connections(), {"gradient_fleet": fleet})
        sb.clear_requests()
        sb.faults.set_latency(latency)
        start = time.perf_counter()
        try:
            result = home.dags_test("gradient_fleet", env, timeout=timeout)
        finally:
            home.stop_all()
        wall = time.perf_counter() - start
        sb.faults.set_latency(0.0)
        result.assert_ok()
        records = sb.requests
        updated = sum(1 for r in records if r.path.endswith("/jobs/update") and r.status == 200)
        runs = [r for r in sb.databricks.runs if r["state"].get("result_state") == "SUCCESS"]
    kinds = Counter(f"{r.service} {r.method} {_ID.sub('/{id}', r.path)}" for r in records)
    return {
        "n": n,
        "wall": wall,
        "requests": len(records),
        "kinds": kinds,
        "tokens": kinds.get(f"gradient POST {TOKEN}", 0),
        "updated": updated,
        "runs": len(runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per dags test")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gradient-fleet-db-") as tmp:
        database = migrate(Path(tmp))
        results = [run(n, args.latency, args.timeout, database) for n in args.n]

    for r in results:
        print(f"N={r['n']}: requests by kind, per job")
        for kind, count in sorted(r["kinds"].items()):
            print(f"    {count / r['n']:6.2f}  {kind}  ({count})")
    print()
    print(f"{args.latency * 1000:.0f} ms added to every request")
    print()
    print(
        "| jobs | `dags test` wall time | per job | requests per job | jobs updated "
        "| runs succeeded | token requests (one process) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['n']} | {r['wall']:.0f} s | {r['wall'] / r['n']:.2f} s "
            f"| {r['requests'] / r['n']:.2f} | {r['updated']} | {r['runs']} | {r['tokens']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
