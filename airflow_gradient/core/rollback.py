"""Whether and how to put a Databricks job's cluster back the way it was before an apply.

Pure functions over the JSON shapes of the Jobs API (the ``settings`` object of ``jobs/get``)
and of the apply task's XCom: no I/O, no clock, no Airflow. The rollback operator reads the
job, asks :func:`rollback_plan` what to do, writes what it returns, and reports.

Three cluster specs take part, and every message shows them side by side:

- ``previous``: what the cluster was before the apply (the apply's ``previous_cluster``), the
  spec to restore;
- ``applied``: what the apply wrote (its ``new_cluster``);
- ``current``: what the job holds now.

A rollback writes ``previous`` only while the cluster still holds ``applied``: anything else
means someone or something changed the cluster since, and restoring ``previous`` would silently
undo that change too, so it is refused (unless forced) with the three-way difference.

"Holds" compares field by field, with one allowance: a field that only ``current`` has (neither
``previous`` nor ``applied`` mention it) is taken as a default Databricks filled in and does not
count, except for the sizing fields ``num_workers`` and ``autoscale``. This is the allowance the
apply's own read-back makes, so an apply that succeeded can always be rolled back.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_gradient.core.cluster.diff import (
    diff_cluster,
    format_diff,
    format_table,
    read_back_differences,
)
from airflow_gradient.core.cluster.locate import ClusterLocation, locate_cluster
from airflow_gradient.core.cluster.paths import format_path, split_cluster_path
from airflow_gradient.core.cluster.update import update_settings_for
from airflow_gradient.core.errors import (
    ClusterNotFoundError,
    ReadBackMismatchError,
    RollbackRefusedError,
    UnsupportedClusterError,
)
from airflow_gradient.core.recommendation import SIZING_FIELDS
from airflow_gradient.core.rollback_request import (
    RollbackRequest,
    explicit_request,
    request_from_apply_result,
)

__all__ = [
    "RollbackPlan",
    "RollbackRequest",
    "check_read_back",
    "explicit_request",
    "format_three_way",
    "request_from_apply_result",
    "rollback_plan",
    "three_way_differences",
]


@dataclass(frozen=True)
class RollbackPlan:
    """What :func:`rollback_plan` decided.

    :ivar write: whether ``new_settings`` must be sent with ``jobs/update``.
    :ivar reason: one line saying what was decided and why.
    :ivar job_id: the Databricks job (``None`` when there was nothing to roll back).
    :ivar cluster_path: ``job_clusters/<key>`` or ``tasks/<key>`` (``None`` likewise).
    :ivar previous: the spec to restore.
    :ivar applied: what the apply wrote (``None`` for an explicit spec).
    :ivar current: what the job holds now.
    :ivar new_settings: the ``new_settings`` for ``jobs/update`` (only when ``write``).
    :ivar changes: :func:`~airflow_gradient.core.cluster.diff.diff_cluster` from ``current`` to
        ``previous``: what the rollback changes.
    :ivar differences: :func:`three_way_differences` of the three specs (empty for an
        explicit spec).
    :ivar forced: the cluster changed since the apply and ``force`` overrode the refusal.
    """

    write: bool
    reason: str
    job_id: int | None = None
    cluster_path: str | None = None
    previous: dict[str, Any] | None = None
    applied: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    new_settings: dict[str, Any] | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    forced: bool = False


# --- the three-way difference ------------------------------------------------------------

_Keys = tuple[str, ...]


def _same(left: Any, right: Any) -> bool:
    """JSON equality as :func:`~airflow_gradient.core.cluster.diff.diff_cluster` sees it."""
    return not diff_cluster({"v": left}, {"v": right})


def _three_way_into(
    rows: list[tuple[_Keys, Any, Any, Any]],
    prefix: _Keys,
    specs: tuple[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]],
) -> None:
    keys = sorted(set(specs[0]) | set(specs[1]) | set(specs[2]), key=str)
    for key in keys:
        previous, applied, current = (spec.get(key) for spec in specs)
        here = (*prefix, str(key))
        if (
            isinstance(previous, Mapping)
            and isinstance(applied, Mapping)
            and isinstance(current, Mapping)
        ):
            _three_way_into(rows, here, (previous, applied, current))
        elif not (_same(previous, applied) and _same(applied, current)):
            rows.append(
                (here, copy.deepcopy(previous), copy.deepcopy(applied), copy.deepcopy(current))
            )


def _rows(
    previous: Mapping[str, Any], applied: Mapping[str, Any], current: Mapping[str, Any]
) -> list[tuple[_Keys, Any, Any, Any]]:
    rows: list[tuple[_Keys, Any, Any, Any]] = []
    _three_way_into(rows, (), (previous, applied, current))
    rows.sort(key=lambda row: row[0])
    return rows


def three_way_differences(
    previous: Mapping[str, Any], applied: Mapping[str, Any], current: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Every field where the three specs do not all agree, as
    ``{"path", "previous", "applied", "current"}`` (a missing side is ``None``).

    Sorted by path. Objects present in all three are compared key by key; otherwise the whole
    value is one row (as in :func:`~airflow_gradient.core.cluster.diff.diff_cluster`, whose
    path notation is used).
    """
    return _as_dicts(_rows(previous, applied, current))


def _as_dicts(rows: Sequence[tuple[_Keys, Any, Any, Any]]) -> list[dict[str, Any]]:
    return [
        {"path": format_path(keys), "previous": p, "applied": a, "current": c}
        for keys, p, a, c in rows
    ]


def _is_default(keys: _Keys, previous: Any, applied: Any) -> bool:
    """A field only the current spec has: a default Databricks filled in (sizing excepted)."""
    return previous is None and applied is None and keys[0] not in SIZING_FIELDS


def _holds(rows: Sequence[tuple[_Keys, Any, Any, Any]], column: int) -> bool:
    """Whether the current spec holds the spec in ``column`` (0 previous, 1 applied)."""
    return all(
        _same(row[3], row[1 + column]) or _is_default(row[0], row[1], row[2]) for row in rows
    )


def format_three_way(differences: Sequence[Mapping[str, Any]]) -> str:
    """A ``path | before apply | applied | now`` table (the one diff table,
    :func:`~airflow_gradient.core.cluster.diff.format_table`) of :func:`three_way_differences`."""
    if not differences:
        return "no differences"
    rows = [
        (row.get("path", ""), row.get("previous"), row.get("applied"), row.get("current"))
        for row in differences
    ]
    return format_table(("path", "before apply", "applied", "now"), rows)


# --- the decision ---------------------------------------------------------------------------


def _locate(
    settings: Mapping[str, Any], request: RollbackRequest, job_id: int
) -> tuple[ClusterLocation, str]:
    """Where the cluster is now (with its current spec), by THE rule of
    :func:`~airflow_gradient.core.cluster.locate.locate_cluster`, and its path."""
    name = request.cluster or ""
    try:
        location = locate_cluster(settings, job_id=job_id, cluster_key=name)
    except (ClusterNotFoundError, UnsupportedClusterError) as error:
        split = split_cluster_path(name)
        what = "cluster " + (name if split else f"{name!r} (a job cluster or a task's cluster)")
        raise ClusterNotFoundError(
            f"Cannot roll back Databricks job {job_id}: it has no {what} now (removed, "
            f"renamed, or moved to other compute since {request.source} was recorded). There "
            "is no entry to restore the spec into; nothing was written. Check the job."
        ) from error
    return location, location.path


def rollback_plan(
    settings: Mapping[str, Any], request: RollbackRequest, *, force: bool = False
) -> RollbackPlan:
    """Decide what a rollback does with the job whose ``settings`` (``jobs/get``) are given.

    - nothing to roll back (``request.nothing_reason``): no write (``settings`` unused);
    - the cluster already holds ``previous``: no write;
    - an explicit spec: write it (there is no apply record to check against);
    - the cluster still holds what the apply wrote: write ``previous``;
    - it holds something else: refuse, or with ``force`` write ``previous`` anyway.

    A write is the whole job cluster entry or the whole task (via
    :func:`~airflow_gradient.core.cluster.update.update_settings_for`), for ``jobs/update``.

    :raises RollbackRefusedError: the cluster changed since the apply and ``force`` is false;
        the message holds the three-way table and ``differences`` the rows.
    :raises ClusterNotFoundError: the cluster is no longer in the job.
    :raises AmbiguousClusterError: a bare explicit key names a job cluster and a task.
    """
    if request.nothing_reason is not None:
        return RollbackPlan(write=False, reason=request.nothing_reason, job_id=request.job_id)
    if request.job_id is None or request.restore is None:
        raise RollbackRefusedError(f"{request.source}: no job or no spec to restore.")
    job_id = request.job_id
    location, path = _locate(settings, request, job_id)
    where = f"Databricks job {job_id} cluster {path}"
    previous, current = copy.deepcopy(request.restore), location.spec
    applied = copy.deepcopy(request.applied)
    changes = diff_cluster(current, previous)
    rows = _rows(previous, applied, current) if applied is not None else []
    plan = RollbackPlan(
        write=False,
        reason="",
        job_id=job_id,
        cluster_path=path,
        previous=previous,
        applied=applied,
        current=current,
        changes=changes,
        differences=_as_dicts(rows),
    )

    def decided(reason: str, *, write: bool = True, forced: bool = False) -> RollbackPlan:
        new_settings = update_settings_for(settings, location, previous) if write else None
        return replace(plan, write=write, reason=reason, new_settings=new_settings, forced=forced)

    if not changes or (applied is not None and _holds(rows, 0)):
        wanted = "the spec from before the apply" if applied is not None else request.source
        return decided(f"{where} already holds {wanted}: nothing to write.", write=False)
    if applied is None:
        return decided(
            f"Restoring {request.source} to {where} ({len(changes)} field(s) change); there is "
            "no apply record to check the current cluster against."
        )
    if _holds(rows, 1):
        return decided(
            f"{where} still holds what {request.source} wrote: restoring the spec from before "
            f"the apply ({len(changes)} field(s) change)."
        )
    changed_since = sum(1 for keys, p, a, c in rows if not (_same(c, a) or _is_default(keys, p, a)))
    table = format_three_way(plan.differences)
    if force:
        return decided(
            f"{where} changed since {request.source} wrote it ({changed_since} field(s)); "
            "force=True: restoring the spec from before the apply anyway, which also undoes "
            f"those changes. Three-way difference:\n{table}",
            forced=True,
        )
    raise RollbackRefusedError(
        f"Refusing to roll back {where}: it no longer holds what {request.source} wrote "
        f"({changed_since} field(s) changed since, by someone or something else). Restoring "
        "the spec from before the apply would silently undo those changes too. Nothing was "
        f"written. Three-way difference:\n{table}\n"
        "Check the job; to restore the 'before apply' column anyway, pass force=True to "
        "GradientRollbackOperator.",
        differences=plan.differences,
    )


def check_read_back(
    job_id: int, path: str, restored: Mapping[str, Any], found: Mapping[str, Any] | None
) -> None:
    """Judge the read-back after a rollback's ``jobs/update``: ``found`` must hold ``restored``
    (fields only Databricks added do not count, as for the apply's read-back).

    :raises ReadBackMismatchError: listing what differs.
    """
    differences = read_back_differences(restored, found or {})
    if differences:
        raise ReadBackMismatchError(
            f"After jobs/update, Databricks job {job_id} cluster {path} does not hold the "
            "restored spec (another writer, or Databricks changed it). Check the job before "
            f"the next run. Written → found:\n{format_diff(differences)}"
        )
