"""The XCom contract of the apply operator: ONE typed result, built in one place.

:class:`ApplyResult` is what ``GradientApplyRecommendationOperator`` returns (a plain dict, so
it is JSON-safe in XCom); :func:`apply_result` is the only place that builds one. The rollback
and the copilot template read it through this type.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

if TYPE_CHECKING:
    from airflow_gradient.core.cluster.locate import ClusterLocation
    from airflow_gradient.core.recommendation import Recommendation

__all__ = ["ROLLBACK_FIELDS", "ApplyResult", "WriteConfirmation", "apply_result"]

WriteConfirmation = Literal["reply and read-back", "read-back", "reply"]
"""How a write was confirmed: the reply and the read-back agree; only the read-back (the
update call failed but the change landed); only the reply (another writer replaced it since)."""


class ApplyResult(TypedDict):
    """What an apply did, as its XCom.

    ``applied`` says whether ``jobs/update`` was sent; ``previous_cluster`` / ``new_cluster``
    are the cluster before and after (``new_cluster`` is the current spec when nothing was
    written because the cluster was reverted and ``on_revert='warn'``); ``superseded_by`` is
    present only when another writer replaced the whole cluster after this write.
    """

    applied: bool
    dry_run: bool
    job_id: int
    cluster_key: str | None
    cluster_path: str | None
    recommendation_id: str | None
    phase: str | None
    changes: list[dict[str, Any]]
    previous_cluster: dict[str, Any] | None
    new_cluster: dict[str, Any] | None
    metrics: dict[str, Any]
    reverted_since_last_apply: bool
    write_confirmed_by: WriteConfirmation | None
    update_error: str | None
    superseded_by: NotRequired[str]


ROLLBACK_FIELDS: tuple[Literal["job_id", "cluster_path", "previous_cluster", "new_cluster"], ...]
ROLLBACK_FIELDS = ("job_id", "cluster_path", "previous_cluster", "new_cluster")
"""The fields of an :class:`ApplyResult` a rollback needs once the apply wrote something."""


def apply_result(
    *,
    job_id: int,
    dry_run: bool,
    applied: bool = False,
    location: ClusterLocation | None = None,
    recommendation: Recommendation | None = None,
    changes: Sequence[Mapping[str, Any]] = (),
    new_cluster: Mapping[str, Any] | None = None,
    reverted: bool = False,
    write_confirmed_by: WriteConfirmation | None = None,
    update_error: str | None = None,
    superseded_by: str | None = None,
) -> ApplyResult:
    """Build the apply's result; fields that do not apply are ``None`` / empty."""
    result = ApplyResult(
        applied=applied,
        dry_run=dry_run,
        job_id=job_id,
        cluster_key=location.key if location else None,
        cluster_path=location.path if location else None,
        recommendation_id=recommendation.id if recommendation else None,
        phase=recommendation.phase if recommendation else None,
        changes=[dict(change) for change in changes],
        previous_cluster=location.spec if location else None,
        new_cluster=copy.deepcopy(dict(new_cluster)) if new_cluster is not None else None,
        metrics=dict(recommendation.metrics) if recommendation else {},
        reverted_since_last_apply=reverted,
        write_confirmed_by=write_confirmed_by,
        update_error=update_error,
    )
    if superseded_by is not None:
        result["superseded_by"] = superseded_by
    return result
