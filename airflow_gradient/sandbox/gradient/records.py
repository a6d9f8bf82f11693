"""What the emulated Gradient API stores: project fields, recommendations, and their views."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_gradient.sandbox.errors import ValidationError

PRODUCTS = ("aws-databricks", "azure-databricks")
STATES = ("PENDING", "SUCCESS", "FAILURE")
DEFAULT_PREDICTION_PARAMS: dict[str, Any] = {
    "sla_minutes": 60,
    "fix_worker_family": True,
    "fix_driver_type": True,
    "fix_scaling_type": False,
    "force_ondemand_workers": False,
    "force_ondemand_basis": False,
}
DEFAULT_FAILURE_ERROR = "No event log found for the latest run"
PROJECT_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "app_id": (str,),
    "description": (str,),
    "product_code": (str,),
    "job_id": (str, int),
    "cluster_path": (str,),
    "workspace_id": (str, int),
    "cluster_log_url": (str,),
    "auto_apply_recs": (bool,),
    "prediction_params": (dict,),
    "optimize_instance_size": (bool,),
    "project_model_id": (str,),
}
_CLUSTER_PATH = re.compile(r"^(job_clusters|tasks)/.+$")

NOT_GIVEN: Any = object()
"""``Recommendation.raw`` when the recommendation is served from its fields."""


def iso(moment: datetime) -> str:
    """``2024-02-14T21:26:37Z``: the timestamp format of the Gradient API."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | datetime | None) -> datetime:
    """A timezone-aware moment from an ISO text, a datetime (naive means UTC) or now."""
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def checked_project_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` of a project, type-checked and normalised (ids as text), or raise
    :class:`ValidationError` naming the field."""
    out: dict[str, Any] = {}
    for name, given in fields.items():
        if name not in PROJECT_FIELDS:
            raise ValidationError(f"Unknown or read-only project field {name!r}")
        allowed = PROJECT_FIELDS[name]
        if given is not None and (
            not isinstance(given, allowed) or (isinstance(given, bool) and bool not in allowed)
        ):
            raise ValidationError(f"Invalid value for project field {name!r}: {given!r}")
        value = str(given) if name in ("job_id", "workspace_id") and given is not None else given
        if name == "product_code" and value not in PRODUCTS:
            raise ValidationError(f"product_code must be one of {', '.join(PRODUCTS)}")
        if name == "cluster_path" and value is not None and not _CLUSTER_PATH.match(str(value)):
            raise ValidationError(
                "cluster_path must look like job_clusters/<job_cluster_key> or tasks/<task_key>"
            )
        out[name] = copy.deepcopy(value)
    return out


@dataclass
class Recommendation:
    """A stored recommendation and how (if ever) it completes."""

    id: str
    seq: int
    created_at: datetime
    created_text: str
    updated_at: datetime
    state: str
    configuration: dict[str, Any] | None
    metrics: dict[str, Any] | None
    prediction_params: dict[str, Any]
    phase: str
    error: str | None
    raw: Any = NOT_GIVEN
    requested: bool = False
    reads: int = 0
    ready_after_reads: int | None = None
    ready_at: float | None = None
    outcome: str = "SUCCESS"
    context: dict[str, Any] = field(default_factory=dict)


def recommendation_view(rec: Recommendation) -> Any:
    """A recommendation as the API returns it (``raw`` verbatim when one was given)."""
    if rec.raw is not NOT_GIVEN:
        return copy.deepcopy(rec.raw)
    body: dict[str, Any] | None = None
    if rec.state == "SUCCESS":
        body = {
            "configuration": copy.deepcopy(rec.configuration),
            "metrics": copy.deepcopy(rec.metrics),
            "prediction_params": copy.deepcopy(rec.prediction_params),
        }
    return {
        "id": rec.id,
        "state": rec.state,
        "created_at": rec.created_text,
        "updated_at": iso(rec.updated_at),
        "error": rec.error,
        "recommendation": body,
        "context": {"phase": rec.phase, **copy.deepcopy(rec.context)},
    }
