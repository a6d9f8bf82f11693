"""How the emulated Gradient makes up a recommendation for a project's job cluster.

The sandbox decides on its own which cluster a project tunes (:func:`find_tuned_cluster`):
tests of the provider must never share the production rule they test.
"""

from __future__ import annotations

import uuid
from typing import Any

_AWS_KEYS = (
    "availability",
    "first_on_demand",
    "spot_bid_price_percent",
    "ebs_volume_type",
    "ebs_volume_count",
    "ebs_volume_size",
)
_AZURE_KEYS = ("availability", "first_on_demand", "spot_bid_max_price")


def find_tuned_cluster(
    settings: dict[str, Any], project_id: str, cluster_path: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The ``(path, new_cluster)`` of a job a project tunes, or ``None`` when unclear.

    Tried in order: the cluster tagged ``sync:project-id``, the one at ``cluster_path``, the
    only one. Deliberately independent of ``airflow_gradient``'s production rule
    (``locate_cluster``), so the sandbox checks that rule instead of repeating it.
    """
    candidates: list[tuple[str, dict[str, Any]]] = []
    for cluster in settings.get("job_clusters") or []:
        if isinstance(cluster.get("new_cluster"), dict):
            candidates.append(
                (f"job_clusters/{cluster['job_cluster_key']}", cluster["new_cluster"])
            )
    for task in settings.get("tasks") or []:
        if isinstance(task.get("new_cluster"), dict):
            candidates.append((f"tasks/{task['task_key']}", task["new_cluster"]))
    for path, spec in candidates:
        if (spec.get("custom_tags") or {}).get("sync:project-id") == project_id:
            return path, spec
    for path, spec in candidates:
        if path == cluster_path:
            return path, spec
    if len(candidates) == 1:
        return candidates[0]
    return None


def generate_configuration(
    project: dict[str, Any],
    settings: dict[str, Any],
    *,
    recommendation_id: str,
    run_id: int | None,
    tenant_id: str,
) -> dict[str, Any]:
    """A plausible configuration for the project's cluster in ``settings`` (its job's), or
    raise ``LookupError`` when the sandbox cannot tell which cluster that is."""
    job_id = project.get("job_id")
    located = find_tuned_cluster(settings, project["id"], project.get("cluster_path"))
    if located is None:
        raise LookupError(
            f"Could not tell which cluster of job {job_id} project {project['id']} tunes"
        )
    _path, spec = located
    autoscale = spec.get("autoscale") or {}
    current_max = int(autoscale.get("max_workers") or spec.get("num_workers") or 2)
    workers = max(1, round(current_max * 0.75))
    node_type = spec.get("node_type_id") or "m5.xlarge"
    configuration: dict[str, Any] = {
        "node_type_id": node_type,
        "driver_node_type_id": spec.get("driver_node_type_id") or node_type,
        "num_workers": workers,
        "spark_version": spec.get("spark_version") or "15.4.x-scala2.12",
        "runtime_engine": spec.get("runtime_engine") or "STANDARD",
        "spark_conf": {"spark.databricks.isv.product": "sync-gradient"},
        "custom_tags": {
            "sync:project-id": project["id"],
            "sync:run-id": str(run_id) if run_id is not None else str(uuid.uuid4()),
            "sync:recommendation-id": recommendation_id,
            "sync:tenant-id": tenant_id,
        },
    }
    if project.get("product_code") == "azure-databricks":
        current = spec.get("azure_attributes") or {}
        configuration["azure_attributes"] = {
            "availability": "SPOT_WITH_FALLBACK_AZURE",
            "first_on_demand": 1,
            "spot_bid_max_price": -1,
            **{k: current[k] for k in _AZURE_KEYS if k in current},
        }
    else:
        current = spec.get("aws_attributes") or {}
        configuration["aws_attributes"] = {
            "availability": "SPOT_WITH_FALLBACK",
            "first_on_demand": 1,
            **{k: current[k] for k in _AWS_KEYS if k in current},
        }
    return configuration


def fallback_configuration(
    project_id: str, recommendation_id: str, tenant_id: str
) -> dict[str, Any]:
    """The configuration of an added SUCCESS recommendation whose job cluster is unknown."""
    return {
        "node_type_id": "m5.xlarge",
        "driver_node_type_id": "m5.large",
        "num_workers": 4,
        "spark_conf": {"spark.databricks.isv.product": "sync-gradient"},
        "custom_tags": {
            "sync:project-id": project_id,
            "sync:recommendation-id": recommendation_id,
            "sync:tenant-id": tenant_id,
        },
    }


def default_metrics(configuration: dict[str, Any] | None) -> dict[str, Any]:
    """Cost and duration estimates that grow with the number of workers."""
    workers = 4
    if configuration:
        autoscale = configuration.get("autoscale") or {}
        workers = int(configuration.get("num_workers") or autoscale.get("max_workers") or 4)
    cost = round(1.5 + 2.2 * workers, 2)
    return {
        "spark_duration_minutes": round(20.0 + 90.0 / max(workers, 1), 1),
        "spark_cost_requested_usd": cost,
        "spark_cost_lower_usd": round(cost * 0.88, 2),
        "spark_cost_midpoint_usd": cost,
        "spark_cost_upper_usd": round(cost * 1.13, 2),
    }


def cluster_template(project: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """The partial cluster spec Gradient wants merged into the project's cluster."""
    project_id = project["id"]
    log_url = project.get("cluster_log_url")
    if project.get("product_code") == "azure-databricks":
        log_conf = {"dbfs": {"destination": log_url or f"dbfs:/cluster-logs/{project_id}"}}
    else:
        log_conf = {
            "s3": {
                "destination": log_url or f"s3://sync-gradient-logs/{project_id}",
                "region": "us-east-1",
                "enable_encryption": True,
                "canned_acl": "bucket-owner-full-control",
            }
        }
    return {
        "custom_tags": {"sync:project-id": project_id, "sync:tenant-id": tenant_id},
        "cluster_log_conf": log_conf,
    }
