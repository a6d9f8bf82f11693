"""Requests per apply and wall time of one apply against the sandbox with injected latency.

Runs ``GradientApplyRecommendationOperator.execute`` (real hooks, real sockets, the sandbox)
on a fresh job each time, so every apply really writes, and, in the same run and interleaved
with it, a baseline: Gradient's published apply (token -> newest recommendation -> jobs/get ->
jobs/update, one after the other, no project read, no read-back) written with a few lines of
httpx. The sandbox runs in a child process, so that its server threads do not compete with the
applies for this process's CPU and GIL. Prints a Markdown table; paste it into BENCHMARKS.md.
Goal: cold <= 0.90 x the baseline's wall time, cached token <= 1.00 x.

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="gradient-bench-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")

from sandbox_process import RemoteSandbox

_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}|/\d+(?=/|$)")


class _TaskInstance:
    """Just enough of a task instance for the operator's links: XCom pushes are kept here."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def fresh_target(
    sb: RemoteSandbox, job_settings: dict[str, Any], configuration: dict[str, Any]
) -> tuple[int, str]:
    """A new job, project and SUCCESS recommendation, so the next apply has work to do."""
    job_id = sb.call("databricks.create_job", copy.deepcopy(job_settings))
    project = sb.call("gradient.create_project", job_id=job_id, cluster_path="job_clusters/main")
    config = copy.deepcopy(configuration)
    tags = config.setdefault("custom_tags", {})
    tags["sync:project-id"] = project["id"]
    tags.pop("sync:recommendation-id", None)  # the operator tags the id it applies
    sb.call("gradient.add_recommendation", project["id"], configuration=config, state="SUCCESS")
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


class Baseline:
    """Gradient's published sequential apply, with one httpx client kept across applies."""

    def __init__(self, connections: dict[str, str]) -> None:
        import json

        import httpx

        gradient = json.loads(connections["AIRFLOW_CONN_GRADIENT_DEFAULT"])
        databricks = json.loads(connections["AIRFLOW_CONN_DATABRICKS_DEFAULT"])
        self.gradient_url = gradient["host"]
        self.key = {"api_key_id": gradient["login"], "api_key_secret": gradient["password"]}
        self.databricks_url = f"http://{databricks['host']}:{databricks['port']}"
        self.databricks_auth = {"Authorization": f"Bearer {databricks['password']}"}
        self.client = httpx.Client(timeout=30)
        self.token: str | None = None

    def apply(self, job_id: int, project_id: str) -> int:
        """One apply; returns the number of requests sent."""
        sent = 0
        if self.token is None:
            reply = self.client.post(f"{self.gradient_url}/v1/auth/token", json=self.key)
            self.token = reply.raise_for_status().json()["result"]["access_token"]
            sent += 1
        auth = {"Authorization": f"Bearer {self.token}"}
        recs = (
            self.client.get(
                f"{self.gradient_url}/v1/projects/{project_id}/recommendations",
                params={"page": 0, "per_page": 20},
                headers=auth,
            )
            .raise_for_status()
            .json()["result"]
        )
        config = next(r for r in recs if r["state"] == "SUCCESS")["recommendation"]["configuration"]
        job = (
            self.client.get(
                f"{self.databricks_url}/api/2.2/jobs/get",
                params={"job_id": job_id},
                headers=self.databricks_auth,
            )
            .raise_for_status()
            .json()
        )
        clusters = job["settings"]["job_clusters"]
        cluster = {**clusters[0]["new_cluster"], **config}
        if "num_workers" in config:  # one sizing mode: the recommendation's
            cluster.pop("autoscale", None)
        elif "autoscale" in config:
            cluster.pop("num_workers", None)
        clusters[0]["new_cluster"] = cluster
        reply = self.client.post(
            f"{self.databricks_url}/api/2.2/jobs/update",
            json={"job_id": job_id, "new_settings": {"job_clusters": clusters}},
            headers=self.databricks_auth,
        )
        if reply.status_code != 200:
            raise SystemExit(f"baseline jobs/update failed: {reply.text}")
        return sent + 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--repeat", type=int, default=7, help="applies per measurement")
    args = parser.parse_args()

    from airflow_gradient.hooks.gradient import TOKEN_CACHE

    with RemoteSandbox() as sb:
        os.environ.update(sb.connections)
        seeded = sb.call("seed_demo")
        settings = sb.call("databricks.get_job", seeded["job_id"])["settings"]
        configuration = sb.call(
            "gradient.get_recommendation", seeded["project_id"], seeded["recommendation_id"]
        )["recommendation"]["configuration"]

        baseline = Baseline(sb.connections)

        def measure(cold: bool, latency: float) -> dict[str, Any]:
            """Ours and the baseline, alternating, ``args.repeat`` times each."""
            sb.call("faults.set_latency", latency)
            got: dict[str, Any] = {"counts": [], "times": [], "kinds": Counter[str]()}
            got.update({"base_counts": [], "base_times": []})
            for _ in range(args.repeat):
                job_id, project_id = fresh_target(sb, settings, configuration)
                if cold:
                    TOKEN_CACHE.clear()
                sb.call("clear_requests")
                start = time.perf_counter()
                result = apply_once(job_id, project_id)
                got["times"].append(time.perf_counter() - start)
                if not result["applied"]:
                    raise SystemExit(f"benchmark apply did not write: {result}")
                served = sb.call("requests")
                got["counts"].append(len(served))
                got["kinds"].update(f"{r.method} {_ID.sub('/{id}', r.path)}" for r in served)

                job_id, project_id = fresh_target(sb, settings, configuration)
                if cold:
                    baseline.token = None
                start = time.perf_counter()
                got["base_counts"].append(baseline.apply(job_id, project_id))
                got["base_times"].append(time.perf_counter() - start)
            sb.call("faults.set_latency", 0.0)
            return got

        apply_once(*fresh_target(sb, settings, configuration))  # warm imports
        baseline.apply(*fresh_target(sb, settings, configuration))
        rows = []
        for label, cold in (("cold (no token)", True), ("cached token", False)):
            got = measure(cold, args.latency)
            ours, base = statistics.median(got["times"]), statistics.median(got["base_times"])
            rows.append((f"ours, {label}", max(got["counts"]), ours, got["times"], ours / base))
            rows.append(
                (f"baseline, {label}", max(got["base_counts"]), base, got["base_times"], 1.0)
            )
            print(f"{label}: requests per apply {sorted(set(got['counts']))}")
            for kind, n in sorted(got["kinds"].items()):
                print(f"    {n // args.repeat} x {kind}")
        baseline.client.close()

    ms = args.latency * 1000
    print()
    print(
        f"| apply | requests | wall time median (min-max), {ms:.0f} ms per request "
        "| against the baseline |"
    )
    print("|---|---|---|---|")
    for label, n, med, times, ratio in rows:
        print(
            f"| {label} | {n} | {med * 1000:.0f} ms ({min(times) * 1000:.0f}-"
            f"{max(times) * 1000:.0f}) | {ratio:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
