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

import ast
import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_gradient.cluster import (
    JOB_CLUSTERS_PREFIX,
    SIZING_FIELDS,
    TASKS_PREFIX,
    ClusterKind,
    ClusterLocation,
    cluster_spec_at,
    diff_cluster,
    format_path,
    update_settings_for,
    validate_cluster_spec,
)
from airflow_gradient.exceptions import (
    AmbiguousClusterError,
    ClusterNotFoundError,
    RollbackRefusedError,
)

__all__ = [
    "RollbackPlan",
    "RollbackRequest",
    "explicit_request",
    "format_three_way",
    "request_from_apply_result",
    "rollback_plan",
    "three_way_differences",
]

#: Fields of the apply operator's XCom that a rollback needs once the apply wrote something.
APPLY_RESULT_FIELDS = ("job_id", "cluster_path", "previous_cluster", "new_cluster")


@dataclass(frozen=True)
class RollbackRequest:
    """What a rollback is asked to do, before the job is read.

    :ivar source: where the request came from, for messages (``"apply task 'apply'"``, ...).
    :ivar job_id: the Databricks job; ``None`` only when there is nothing to roll back.
    :ivar cluster: ``job_clusters/<key>`` or ``tasks/<key>``; for an explicit request also a
        bare key (a job cluster key or the key of a task with its own cluster).
    :ivar restore: the cluster spec to put back.
    :ivar applied: what the apply wrote; ``None`` for an explicit spec (nothing to check the
        current cluster against).
    :ivar nothing_reason: set when there is nothing to roll back (the apply wrote nothing).
    """

    source: str
    job_id: int | None = None
    cluster: str | None = None
    restore: dict[str, Any] | None = None
    applied: dict[str, Any] | None = None
    nothing_reason: str | None = None


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
    :ivar changes: :func:`~airflow_gradient.cluster.diff_cluster` from ``current`` to
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


# --- reading the request ----------------------------------------------------------------


def _literal(value: Any) -> Any:
    """A value rendered from a Jinja template arrives as text: read it back as JSON or as a
    Python literal (``str(dict)``); anything else is returned unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def _job_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _split(path: str) -> tuple[str, str] | None:
    """``job_clusters/<k>`` / ``tasks/<k>`` → (prefix, key); anything else → None."""
    for prefix in (JOB_CLUSTERS_PREFIX, TASKS_PREFIX):
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix, path[len(prefix) :]
    return None


def request_from_apply_result(result: Any, *, source: str) -> RollbackRequest:
    """Read what the apply task returned (its XCom) into a :class:`RollbackRequest`.

    ``None`` (the apply failed or was skipped before returning), ``applied`` false (nothing
    was written: no recommendation, or the job already had it) and ``dry_run`` give a request
    with ``nothing_reason`` set. A string is read as JSON or as a Python literal (what a Jinja
    template renders a dict to).

    :param result: the apply operator's return value.
    :param source: where it came from, for messages (e.g. ``"apply task 'apply'"``).
    :raises RollbackRefusedError: the value is not an apply result, or it says the apply wrote
        but lacks what is needed to undo it.
    """
    result = _literal(result)
    if result is None:
        return RollbackRequest(
            source=source,
            nothing_reason=(
                f"{source} returned no result (it failed or was skipped before finishing, or "
                "did not run): no record of a write to roll back. If it failed after writing, "
                "check the job and pass cluster_spec= to restore a spec explicitly."
            ),
        )
    if not isinstance(result, Mapping):
        raise RollbackRefusedError(
            f"{source} is not an apply result (the dict GradientApplyRecommendationOperator "
            f"returns); got {type(result).__name__}: {str(result)[:200]!r}. Nothing was written."
        )
    job_id = _job_id(result.get("job_id"))
    if result.get("dry_run") is True:
        return RollbackRequest(
            source=source,
            job_id=job_id,
            nothing_reason=f"{source} was a dry run: it wrote nothing, so there is nothing to "
            "roll back.",
        )
    if result.get("applied") is not True:
        return RollbackRequest(
            source=source,
            job_id=job_id,
            nothing_reason=f"{source} wrote nothing (applied={result.get('applied')!r}: no "
            "recommendation, or the job already ran it), so there is nothing to roll back.",
        )

    problems: list[str] = []
    missing = [name for name in APPLY_RESULT_FIELDS if result.get(name) is None]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if "job_id" not in missing and job_id is None:
        problems.append(f"job_id {result.get('job_id')!r} is not an integer")
    path = result.get("cluster_path")
    if "cluster_path" not in missing and (not isinstance(path, str) or _split(path) is None):
        problems.append(f"cluster_path {path!r} is not 'job_clusters/<key>' or 'tasks/<key>'")
    for name in ("previous_cluster", "new_cluster"):
        if name not in missing and not isinstance(result.get(name), Mapping):
            problems.append(f"{name} is not an object")
    if problems:
        raise RollbackRefusedError(
            f"{source} says it applied a recommendation but cannot be rolled back from: "
            f"{'; '.join(problems)}. Nothing was written. Pass the apply task's own return "
            "value (apply_task_id= or apply_result=apply.output), or cluster_spec= with "
            "job_id= and cluster_key=."
        )
    return RollbackRequest(
        source=source,
        job_id=job_id,
        cluster=str(path),
        restore=copy.deepcopy(dict(result["previous_cluster"])),
        applied=copy.deepcopy(dict(result["new_cluster"])),
    )


def explicit_request(job_id: Any, cluster_key: Any, cluster_spec: Any) -> RollbackRequest:
    """A request to put ``cluster_spec`` at ``cluster_key`` of job ``job_id``, unconditionally.

    There is no record of what an apply wrote, so nothing is checked against the current
    cluster; the spec itself is validated (as Databricks would) before anything is read.

    :param job_id: the Databricks job id.
    :param cluster_key: ``job_clusters/<key>``, ``tasks/<key>``, a job cluster key, or the key
        of a task with its own cluster.
    :param cluster_spec: the ``new_cluster`` to restore (a dict, or its JSON text).
    :raises RollbackRefusedError: an argument is missing or has the wrong type.
    :raises InvalidClusterSpecError: Databricks would reject ``cluster_spec``.
    """
    source = "the explicit cluster_spec"
    resolved_id = _job_id(job_id)
    spec = _literal(cluster_spec)
    problems: list[str] = []
    if resolved_id is None:
        problems.append(f"job_id {job_id!r} is not a Databricks job id (an integer)")
    if not isinstance(cluster_key, str) or not cluster_key:
        problems.append(f"cluster_key {cluster_key!r} is not a cluster key")
    if not isinstance(spec, Mapping):
        problems.append(f"cluster_spec is not an object (got {type(spec).__name__})")
    if problems:
        raise RollbackRefusedError(
            f"Cannot roll back to {source}: {'; '.join(problems)}. Nothing was written."
        )
    assert isinstance(spec, Mapping)  # for the type checker; checked above
    validate_cluster_spec(
        spec, where=f"Databricks job {resolved_id} cluster {cluster_key}", existing=spec
    )
    return RollbackRequest(
        source=source,
        job_id=resolved_id,
        cluster=str(cluster_key),
        restore=copy.deepcopy(dict(spec)),
    )


# --- the three-way difference ------------------------------------------------------------

_Keys = tuple[str, ...]


def _same(left: Any, right: Any) -> bool:
    """JSON equality as :func:`~airflow_gradient.cluster.diff_cluster` sees it."""
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
    value is one row (as in :func:`~airflow_gradient.cluster.diff_cluster`, whose path notation
    is used).
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


_ABSENT = "(absent)"
_MAX_COLUMN = 40


def _show(value: Any) -> str:
    if value is None:
        return _ABSENT
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        return repr(value)


def format_three_way(differences: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width ``path | before apply | applied | now`` table of
    :func:`three_way_differences` output (values as JSON, a missing side as ``(absent)``)."""
    if not differences:
        return "no differences"
    header = ("path", "before apply", "applied", "now")
    rows = [
        (
            str(row.get("path", "")),
            _show(row.get("previous")),
            _show(row.get("applied")),
            _show(row.get("current")),
        )
        for row in differences
    ]
    widths = [
        min(_MAX_COLUMN, max(len(row[column]) for row in [header, *rows])) for column in range(4)
    ]

    def line(row: tuple[str, str, str, str]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=False)]
        return " | ".join([*cells, row[3]]).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


# --- the decision ---------------------------------------------------------------------------


def _locate(
    settings: Mapping[str, Any], request: RollbackRequest, job_id: int
) -> tuple[ClusterLocation, str]:
    """Where the cluster is now: its location (with the current spec) and its path."""
    name = request.cluster or ""
    split = _split(name)
    if split is not None:
        candidates = [split]
    else:  # a bare key (explicit requests only): a job cluster or a task's own cluster
        candidates = [(JOB_CLUSTERS_PREFIX, name), (TASKS_PREFIX, name)]
    found = [
        (prefix, key, spec)
        for prefix, key in candidates
        if (spec := cluster_spec_at(settings, prefix + key)) is not None
    ]
    if len(found) > 1:
        raise AmbiguousClusterError(
            f"Databricks job {job_id}: cluster_key={name!r} names both the job cluster "
            f"{name!r} and the cluster of task {name!r}. Use the path form: "
            f"cluster_key={JOB_CLUSTERS_PREFIX + name!r} or cluster_key={TASKS_PREFIX + name!r}."
        )
    if not found:
        what = "cluster " + (name if split else f"{name!r} (a job cluster or a task's cluster)")
        raise ClusterNotFoundError(
            f"Cannot roll back Databricks job {job_id}: it has no {what} now (removed, "
            f"renamed, or moved to other compute since {request.source} was recorded). There "
            "is no entry to restore the spec into; nothing was written. Check the job."
        )
    prefix, key, spec = found[0]
    kind: ClusterKind = "job_cluster" if prefix == JOB_CLUSTERS_PREFIX else "task"
    location = ClusterLocation(kind, key, spec, f"rollback of {request.source}")
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
    :func:`~airflow_gradient.cluster.update_settings_for`), for ``jobs/update``.

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
