"""A Databricks job set up the way Gradient needs it, in a sandbox: the starting point of the
doctor's and the health operator's tests, which then break one thing at a time.

The set-up is written out by hand (dict updates), not with the package's merge rule, so the
tests never share the rule they test.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from airflow_gradient.sandbox import Sandbox


@dataclass
class HealthyJob:
    job_id: int
    project_id: str
    webhook_id: str
    recommendation_id: str
    run_ids: list[int]


def _cluster() -> dict[str, Any]:
    return {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "i3.xlarge",
        "driver_node_type_id": "i3.xlarge",
        "num_workers": 6,
        "custom_tags": {"team": "data"},
        "aws_attributes": {"availability": "ON_DEMAND", "first_on_demand": 1},
    }


def _overlay(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _overlay(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def healthy_job(sb: Sandbox, *, runs: int = 2, name: str = "etl-nightly") -> HealthyJob:
    """A job whose cluster carries the template and a recommendation, whose on_start names
    Gradient's destination, with ``runs`` finished runs (each with a submission).

    Runs started through the sandbox's Python API end at once here
    (``run_ends_after_reads = 0``): the checks read histories, nobody polls these runs."""
    sb.databricks.run_ends_after_reads = 0
    workspace = sb.gradient.get_workspace(sb.databricks.workspace_id) or (
        sb.gradient.create_workspace(sb.databricks.workspace_id)
    )
    job_id = sb.databricks.create_job(
        {
            "name": name,
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": _cluster()}],
            "tasks": [
                {
                    "task_key": "t",
                    "job_cluster_key": "main",
                    "notebook_task": {"notebook_path": "/x"},
                }
            ],
        }
    )
    project = sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")
    project_id = project["id"]
    recommendation_id = sb.gradient.add_recommendation(project_id, state="SUCCESS")
    [rec] = [
        r
        for r in sb.gradient.read_recommendations(project_id, 0, 100)
        if r["id"] == recommendation_id
    ]
    cluster = _cluster()
    cluster.pop("num_workers")
    _overlay(cluster, sb.gradient.cluster_template(project_id))
    _overlay(cluster, rec["recommendation"]["configuration"])
    sb.databricks.update_job(
        job_id,
        {
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": cluster}],
            "webhook_notifications": {"on_start": [{"id": workspace["webhook_id"]}]},
        },
    )
    run_ids = [sb.databricks.run_now(job_id) for _ in range(runs)]
    return HealthyJob(job_id, project_id, workspace["webhook_id"], recommendation_id, run_ids)


def tuned_cluster(sb: Sandbox, job_id: int) -> dict[str, Any]:
    """The ``new_cluster`` of the job's ``main`` job cluster."""
    spec: dict[str, Any] = sb.databricks.get_job(job_id)["settings"]["job_clusters"][0][
        "new_cluster"
    ]
    return spec


def set_tuned_cluster(sb: Sandbox, job_id: int, spec: dict[str, Any]) -> None:
    """Replace the ``main`` job cluster's spec."""
    sb.databricks.update_job(
        job_id, {"job_clusters": [{"job_cluster_key": "main", "new_cluster": spec}]}
    )
