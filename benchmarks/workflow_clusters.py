"""Requests and wall time of GradientWorkflowClustersOperator next to a plain workflow launch.

A ``DatabricksWorkflowTaskGroup`` of two notebook tasks, its job existing already (the steady
state: every run but the first), the project linked, one SUCCESS recommendation. Measured, with
``--latency`` seconds added to every request by the sandbox (in a child process):

* the plain launch: the group's real ``launch`` task (``jobs/list``, ``jobs/reset``,
  ``jobs/run-now``) with static ``job_clusters``;
* the operator: ``GradientWorkflowClustersOperator.execute`` (real hooks, real sockets);
* the operator, then the launch on its output (what a DAG run does before the tasks start).

The launch's wait for the run to leave PENDING is left out of all three (replaced by a no-op):
it lasts as long as the cluster takes to start, with or without the operator. Prints a Markdown
table; paste it into BENCHMARKS.md.

    .venv/bin/python benchmarks/workflow_clusters.py [--latency 0.05] [--repeat 7]
"""

from __future__ import annotations

import argparse
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
DAG_ID = "bench_workflow"
JOB_NAME = f"{DAG_ID}.workflow"
BASELINE = [
    {
        "job_cluster_key": "main",
        "new_cluster": {
            "spark_version": "15.4.x-scala2.12",
            "node_type_id": "m5.xlarge",
            "autoscale": {"min_workers": 2, "max_workers": 8},
        },
    }
]


class _TaskInstance:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def build(project_id: str) -> tuple[Any, Any]:
    """A fresh DAG: (the operator, the group's launch task); new hooks each time."""
    from airflow.providers.databricks.operators.databricks import DatabricksNotebookOperator
    from airflow.providers.databricks.operators.databricks_workflow import (
        DatabricksWorkflowTaskGroup,
    )
    from airflow.sdk import DAG

    from airflow_gradient.operators.workflow_clusters import GradientWorkflowClustersOperator

    with DAG(DAG_ID, schedule=None) as dag:
        clusters = GradientWorkflowClustersOperator(
            task_id="clusters", project_id=project_id, job_clusters=BASELINE
        )
        with DatabricksWorkflowTaskGroup(
            group_id="workflow",
            databricks_conn_id="databricks_default",
            job_clusters=clusters.output,
            extra_job_params=clusters.extra_job_params_output,
        ):
            etl = DatabricksNotebookOperator(
                task_id="etl",
                notebook_path="/Shared/etl",
                source="WORKSPACE",
                job_cluster_key="main",
            )
            report = DatabricksNotebookOperator(
                task_id="report",
                notebook_path="/Shared/report",
                source="WORKSPACE",
                job_cluster_key="main",
            )
            etl >> report
    launch = dag.get_task("workflow.launch")
    launch._wait_for_job_to_start = lambda run_id: None  # see the module docstring
    return clusters, launch


def run_launch(launch: Any, job_clusters: Any, extra: Any) -> None:
    launch.job_clusters, launch.extra_job_params = job_clusters, extra
    launch.execute({"ti": _TaskInstance()})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--repeat", type=int, default=7, help="measurements of each")
    args = parser.parse_args()

    from airflow_gradient.hooks.gradient import TOKEN_CACHE

    with RemoteSandbox() as sb:
        os.environ.update(sb.connections)
        workspace = sb.call("gradient.create_workspace", "1234567890123456")
        job_id = sb.call("databricks.create_job", {"name": JOB_NAME, "job_clusters": BASELINE})
        project = sb.call(
            "gradient.create_project",
            job_id=job_id,
            cluster_path="job_clusters/main",
            workspace_id=workspace["workspace_id"],
        )
        sb.call("gradient.add_recommendation", project["id"], {"num_workers": 4})
        project_id = project["id"]

        def once(what: str, cold: bool) -> tuple[float, list[str]]:
            clusters, launch = build(project_id)
            if cold:
                TOKEN_CACHE.clear()
            sb.call("clear_requests")
            start = time.perf_counter()
            if what == "launch":
                run_launch(launch, BASELINE, {})
            else:
                ti = _TaskInstance()
                result = clusters.execute({"ti": ti})
                if what == "operator + launch":
                    run_launch(launch, result, ti.pushed["extra_job_params"])
            elapsed = time.perf_counter() - start
            clusters.gradient_hook.close()
            kinds = [f"{r.method} {_ID.sub('/{id}', r.path)}" for r in sb.call("requests")]
            return elapsed, kinds

        for what in ("launch", "operator", "operator + launch"):
            once(what, cold=False)  # warm imports
        sb.call("faults.set_latency", args.latency)
        rows = []
        plain = 0.0
        for what, cold in (
            ("launch", False),
            ("operator", True),
            ("operator", False),
            ("operator + launch", False),
        ):
            times, kinds = [], Counter[str]()
            counts = []
            for _ in range(args.repeat):
                elapsed, served = once(what, cold)
                times.append(elapsed)
                counts.append(len(served))
                kinds.update(served)
            median = statistics.median(times)
            plain = median if what == "launch" else plain
            label = f"{what}{', cold (no token)' if cold else ''}"
            rows.append((label, max(counts), median, times, median / plain))
            print(f"{label}: requests {sorted(set(counts))}")
            for kind, n in sorted(kinds.items()):
                print(f"    {n // args.repeat} x {kind}")
        sb.call("faults.set_latency", 0.0)

    ms = args.latency * 1000
    print()
    print(f"| step | requests | wall time median (min-max), {ms:.0f} ms per request | vs launch |")
    print("|---|---|---|---|")
    for label, n, med, times, ratio in rows:
        print(
            f"| {label} | {n} | {med * 1000:.0f} ms ({min(times) * 1000:.0f}-"
            f"{max(times) * 1000:.0f}) | {ratio:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
