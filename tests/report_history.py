"""A sandbox history of several recommendations and runs for ``airflow-gradient report``:
shared by the report's CLI test and its browser check (tests/browser/test_report.py).

The clusters after an apply are written out by hand, not with the package's merge rule.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from airflow_gradient.sandbox import Sandbox
from tests.healthy_job import set_tuned_cluster, tuned_cluster

DAY = 86400.0


def original_cluster() -> dict[str, Any]:
    return {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "i3.xlarge",
        "driver_node_type_id": "i3.xlarge",
        "num_workers": 8,
        "cluster_log_conf": {"dbfs": {"destination": "dbfs:/logs"}},
    }


def applied(spec: dict[str, Any], configuration: dict[str, Any]) -> dict[str, Any]:
    """The cluster after an apply, written out by hand (not the package's merge rule)."""
    out = {k: v for k, v in spec.items() if k not in ("num_workers", "autoscale")}
    for key, value in configuration.items():
        if isinstance(value, dict):
            out[key] = {**(out.get(key) or {}), **value}
        else:
            out[key] = value
    return out


def iso_days_ago(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * DAY))


def audited_history(sb: Sandbox) -> dict[str, Any]:
    """A job audited over 30 days: a run before any recommendation, rec1 applied, then
    overridden by hand, rec2 applied (its runs fail), then reverted (tag removed)."""
    db = sb.databricks
    job_id = db.create_job(
        {
            "name": "audited",
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": original_cluster()}],
            "tasks": [
                {
                    "task_key": "t",
                    "job_cluster_key": "main",
                    "notebook_task": {"notebook_path": "/x"},
                }
            ],
        }
    )
    project_id = sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")["id"]
    now = time.time()

    def ran(days_ago: float, minutes: float, result: str = "SUCCESS") -> int:
        return db.record_run(
            job_id, started=now - days_ago * DAY, duration=minutes * 60, result_state=result
        )

    sb.gradient.add_recommendation(project_id, created_at=iso_days_ago(35))  # before the period
    old_run = ran(40, 70)
    first_run = ran(28, 50)

    def recommendation(rec_id: str, workers: int, node: str, cost: float, minutes: float) -> str:
        config = {
            "num_workers": workers,
            "node_type_id": node,
            "driver_node_type_id": node,
            "custom_tags": {"sync:project-id": project_id, "sync:recommendation-id": rec_id},
        }
        return sb.gradient.add_recommendation(
            project_id,
            config,
            metrics={"spark_duration_minutes": minutes, "spark_cost_requested_usd": cost},
            created_at=iso_days_ago(25 if rec_id.startswith("a") else 12),
            recommendation_id=rec_id,
            phase="OPTIMIZING",
        )

    rec1 = recommendation("a" + str(uuid.uuid4())[1:], 5, "m5.2xlarge", 9.5, 41.0)
    [item] = [r for r in sb.gradient.read_recommendations(project_id, 0, 100) if r["id"] == rec1]
    set_tuned_cluster(
        sb, job_id, applied(original_cluster(), item["recommendation"]["configuration"])
    )
    rec1_runs = [ran(20, 40), ran(18, 42)]
    overridden = tuned_cluster(sb, job_id)
    overridden["num_workers"] = 12
    set_tuned_cluster(sb, job_id, overridden)
    override_run = ran(15, 30)

    rec2 = recommendation("b" + str(uuid.uuid4())[1:], 3, "m5.xlarge", 6.0, 45.0)
    [item] = [r for r in sb.gradient.read_recommendations(project_id, 0, 100) if r["id"] == rec2]
    set_tuned_cluster(
        sb, job_id, applied(original_cluster(), item["recommendation"]["configuration"])
    )
    rec2_runs = [ran(10, 47, "FAILED"), ran(8, 44)]
    set_tuned_cluster(sb, job_id, original_cluster())  # Terraform puts the old cluster back
    revert_run = ran(5, 52)
    return {
        "job_id": job_id,
        "project_id": project_id,
        "rec1": rec1,
        "rec2": rec2,
        "old_run": old_run,
        "runs": [first_run, *rec1_runs, override_run, *rec2_runs, revert_run],
    }
