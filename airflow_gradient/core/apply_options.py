"""The choices an apply takes: kept apart from :mod:`.apply_plan` so that the operator module
can read them at DAG parse time without loading the decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_gradient.core.guardrails import GuardRails

__all__ = ["ApplyOptions"]

IF_NO_RECOMMENDATION = ("skip", "fail")
ON_REVERT = ("warn", "fail", "reapply")
TERRAFORM_GUIDE = (
    "https://github.com/synccomputingcode/airflow-gradient/blob/main/docs/terraform.md"
)


@dataclass(frozen=True)
class ApplyOptions:
    """The operator's choices, as the decisions need them (``rails`` None: no guard rails)."""

    project_id: str
    cluster_key: str | None = None
    dry_run: bool = False
    rails: GuardRails | None = None
    if_no_recommendation: str = "skip"
    allow_auto_apply_conflict: bool = False
    on_revert: str = "warn"
