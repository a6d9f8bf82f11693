"""The doctor's checks on N jobs against the sandbox with added latency.

Builds N healthy jobs (cluster template, ``on_start`` webhook, a recommendation in force, two
finished runs each with a submission) in one sandbox, then runs ``airflow_gradient.doctor
.examine`` for every job in one process, with a thread pool, in two modes:

- ``doctor``: reads shared between jobs (``SharedReads``: the project list, the Gradient
  workspace and its notification destination fetched once), as a multi-job run of the doctor;
- ``operator``: no sharing, as ``GradientHealthCheckOperator`` mapped over the jobs does (each
  mapped task reads what it needs).

Prints the wall time, requests per job by endpoint, requests repeated within one job's checks
(must be 0) and token requests (one per process).

    .venv/bin/python benchmarks/doctor.py [--n 200] [--latency 0.05] [--workers 8]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}|/\d+(?=/|$)")
TOKEN = "/v1/auth/token"


def endpoint(method: str, path: str) -> str:
    return f"{method} {_ID.sub('/{id}', path)}"


def run(n: int, latency: float, workers: int, mode: str) -> dict[str, Any]:
    import tempfile

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="gradient-doctor-bench-"))
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
    from airflow_gradient.doctor import SharedReads, examine
    from airflow_gradient.hooks.databricks import GradientDatabricksHook
    from airflow_gradient.hooks.gradient import TOKEN_CACHE, GradientHook
    from airflow_gradient.sandbox import Sandbox
    from tests.healthy_job import healthy_job

    with Sandbox() as sb:
        os.environ.update(sb.connections())
        jobs = [healthy_job(sb, name=f"bench-{i}") for i in range(n)]
        TOKEN_CACHE.clear()
        sb.clear_requests()
        sb.faults.set_latency(latency)
        shared = SharedReads() if mode == "doctor" else None

        def check(job_id: int) -> str:
            gradient = GradientHook()
            databricks = GradientDatabricksHook()
            try:
                found = examine(
                    job_id=job_id,
                    project_id=None,
                    gradient=gradient,
                    databricks=databricks,
                    runs=10,
                    now=datetime.now(UTC),
                    shared=shared,
                )
            finally:
                gradient.close()
            return found.status

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            statuses = list(pool.map(check, [j.job_id for j in jobs]))
        wall = time.perf_counter() - start
        sb.faults.set_latency(0.0)
        requests = sb.requests
    per_endpoint = Counter(endpoint(r.method, r.path) for r in requests)
    return {
        "mode": mode,
        "jobs": n,
        "latency_s": latency,
        "workers": workers,
        "wall_s": round(wall, 2),
        "statuses": Counter(statuses),
        "requests": len(requests),
        "requests_per_job": round(len(requests) / n, 2),
        "token_requests": per_endpoint.get(f"POST {TOKEN}", 0),
        "per_endpoint": {k: round(v / n, 2) for k, v in sorted(per_endpoint.items())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    for mode in ("doctor", "operator"):
        result = run(args.n, args.latency, args.workers, mode)
        print(
            f"{result['mode']:>8}: {result['jobs']} jobs, {result['latency_s'] * 1000:.0f} ms "
            f"latency, {result['workers']} threads: {result['wall_s']} s wall, "
            f"{result['requests_per_job']} requests/job, {result['token_requests']} token "
            f"request(s), statuses {dict(result['statuses'])}"
        )
        for name, per_job in result["per_endpoint"].items():
            print(f"          {per_job:>6} x {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
