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
ON_BUNDLE = ("warn", "fail", "apply")
"""What a write does to a job an Asset Bundle owns (see :mod:`.bundles.deployment`)."""
TERRAFORM_GUIDE = "docs/terraform.md in the airflow-gradient documentation"


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
