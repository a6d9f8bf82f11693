"""Requests per apply and wall time of one apply against the sandbox with injected latency.

Runs ``GradientApplyRecommendationOperator.execute`` (real hooks, real sockets, the sandbox)
on a fresh job each time, so every apply really writes. Prints a Markdown table; paste it into
BENCHMARKS.md. Goal: <= 6 requests cold, <= 5 with a cached token, and with 50 ms on every
request a wall time within 5 x latency + 150 ms.

    .venv/bin/python benchmarks/apply.py [--latency 0.05] [--repeat 7]
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="gradient-bench-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")

_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}|/\d+(?=/|$)")


class _TaskInstance:
    """Just enough of a task instance for the operator's links: XCom pushes are kept here."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def fresh_target(
    sb: Any, job_settings: dict[str, Any], configuration: dict[str, Any]
) -> tuple[int, str]:
    """A new job, project and SUCCESS recommendation, so the next apply has work to do."""
    job_id = sb.databricks.create_job(copy.deepcopy(job_settings))
    project = sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")
    config = copy.deepcopy(configuration)
    tags = config.setdefault("custom_tags", {})
    tags["sync:project-id"] = project["id"]
    tags.pop("sync:recommendation-id", None)  # the operator tags the id it applies
    sb.gradient.add_recommendation(project["id"], configuration=config, state="SUCCESS")
    return job_id, project["id"]


def apply_once(job_id: int, project_id: str) -> dict[str, Any]:
    """One apply, as a task would run it (new operator, new hooks)."""
    from airflow.sdk import DAG

    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    with DAG(dag_id=f"bench_{job_id}", schedule=None):
        op = GradientApplyRecommendationOperator(
            task_id="apply", project_id=project_id, job_id=job_id
        )
    result: dict[str, Any] = op.execute({"ti": _TaskInstance()})  # type: ignore[arg-type]
    op.gradient_hook.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--repeat", type=int, default=7, help="applies per measurement")
    args = parser.parse_args()

    from airflow_gradient.hooks.gradient import TOKEN_CACHE
    from airflow_gradient.sandbox import Sandbox

    with Sandbox() as sb:
        os.environ.update(sb.connections())
        seeded = sb.seed_demo()
        settings = sb.databricks.get_job(seeded["job_id"])["settings"]
        configuration = sb.gradient.get_recommendation(
            seeded["project_id"], seeded["recommendation_id"]
        )["recommendation"]["configuration"]

        def measure(cold: bool, latency: float) -> tuple[list[int], list[float], Counter[str]]:
            sb.faults.set_latency(latency)
            counts, times, kinds = [], [], Counter[str]()
            for _ in range(args.repeat):
                job_id, project_id = fresh_target(sb, settings, configuration)
                if cold:
                    TOKEN_CACHE.clear()
                sb.clear_requests()
                start = time.perf_counter()
                result = apply_once(job_id, project_id)
                times.append(time.perf_counter() - start)
                if not result["applied"]:
                    raise SystemExit(f"benchmark apply did not write: {result}")
                served = sb.requests
                counts.append(len(served))
                kinds.update(f"{r.method} {_ID.sub('/{id}', r.path)}" for r in served)
            sb.faults.set_latency(0.0)
            return counts, times, kinds

        apply_once(*fresh_target(sb, settings, configuration))  # warm imports
        rows = []
        for label, cold in (("cold (no token)", True), ("cached token", False)):
            counts, _, kinds = measure(cold, 0.0)
            _, times, _ = measure(cold, args.latency)
            rows.append((label, max(counts), statistics.median(times), min(times), max(times)))
            print(f"{label}: requests per apply {sorted(set(counts))}")
            for kind, n in sorted(kinds.items()):
                print(f"    {n // args.repeat} x {kind}")

    ms = args.latency * 1000
    budget = 5 * args.latency + 0.150
    print()
    print(f"| apply | requests | wall time median (min-max), {ms:.0f} ms per request | budget |")
    print("|---|---|---|---|")
    for label, n, med, lo, hi in rows:
        print(
            f"| {label} | {n} | {med * 1000:.0f} ms ({lo * 1000:.0f}-{hi * 1000:.0f}) "
            f"| {budget * 1000:.0f} ms |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
