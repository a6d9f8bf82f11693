"""Whether and how to put a Databricks job's cluster back the way it was before an apply.

Pure functions over the JSON shapes of the Jobs API (the ``settings`` object of ``jobs/get``)
and of the apply task's XCom: no I/O, no clock, no Airflow. The rollback operator reads the
job, asks :func:`rollback_plan` what to do, writes what it returns, and reports.

The apply's result lists each field it changed (``rollback_fields``: the value before and the
value written). A rollback puts back ONLY those fields and takes everything else from the job
as it is at rollback time, so what else changed since (a default Databricks filled in, a tag
someone added) stays. Per changed field three values take part, shown side by side in every
message: ``before apply``, ``applied`` and ``now``.

- every changed field already holds its old value: nothing to write;
- each holds what the apply wrote (or already its old value): the old values are written;
- one holds something else: someone or something changed that field since, and putting the
  old value back would silently undo that change too, so it is refused (unless forced);
- a field whose old value was a secret is known only by its digest: it cannot be written back,
  so the rollback is refused unless the job already holds that value again.

Secret values are hidden in every message and table by the redactor the caller passes.
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
from airflow_gradient.core.cluster.paths import split_cluster_path
from airflow_gradient.core.cluster.update import update_settings_for
from airflow_gradient.core.errors import (
    ClusterNotFoundError,
    ReadBackMismatchError,
    RollbackRefusedError,
    UnsupportedClusterError,
)
from airflow_gradient.core.json_values import json_equal
from airflow_gradient.core.redaction import (
    Redactor,
    redact_changes,
    secret_digest,
    shown_field,
)
from airflow_gradient.core.results import FieldChange, digest_salt
from airflow_gradient.core.rollback_request import RollbackRequest

__all__ = ["RollbackPlan", "check_read_back", "format_three_way", "rollback_plan"]


@dataclass(frozen=True)
class RollbackPlan:
    """What :func:`rollback_plan` decided.

    :ivar write: whether ``new_settings`` must be sent with ``jobs/update``.
    :ivar reason: one line saying what was decided and why (secret values hidden).
    :ivar job_id: the Databricks job (``None`` when there was nothing to roll back).
    :ivar cluster_path: ``job_clusters/<key>`` or ``tasks/<key>`` (``None`` likewise).
    :ivar restored: the whole cluster spec to write: the current one with the apply's fields
        put back (or the explicit spec).
    :ivar current: what the job holds now.
    :ivar new_settings: the ``new_settings`` for ``jobs/update`` (only when ``write``).
    :ivar changes: :func:`~airflow_gradient.core.cluster.diff.diff_cluster` from ``current`` to
        ``restored``: what the rollback changes (plain values: redact before showing).
    :ivar differences: per field the apply changed, ``{"path", "previous", "applied",
        "current"}`` with secret values hidden (empty for an explicit spec).
    :ivar forced: a field changed since the apply and ``force`` overrode the refusal.
    """

    write: bool
    reason: str
    job_id: int | None = None
    cluster_path: str | None = None
    restored: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    new_settings: dict[str, Any] | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    forced: bool = False


# --- one field at a time -----------------------------------------------------------------


def _value_at(spec: Mapping[str, Any], keys: Sequence[str]) -> Any:
    """The value at ``keys`` of ``spec``; ``None`` when it is absent."""
    node: Any = spec
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return copy.deepcopy(node)


def _put(spec: dict[str, Any], keys: Sequence[str], value: Any) -> None:
    """Set the field at ``keys`` of ``spec`` to ``value``; ``None`` removes it."""
    node = spec
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            if value is None:
                return
            child = {}
            node[key] = child
        node = child
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = copy.deepcopy(value)


@dataclass(frozen=True)
class _Field:
    """A field the apply changed, and what the job holds there now."""

    change: FieldChange
    now: Any
    at_before: bool
    at_after: bool

    @property
    def secret_before(self) -> bool:
        return "before_digest" in self.change


def _holds(now: Any, value: Any, digest: str | None, salt: str) -> bool:
    if digest is not None:
        return now is not None and secret_digest(now, salt=salt) == digest
    return json_equal(now, value)


def _fields(request: RollbackRequest, current: Mapping[str, Any], job_id: int) -> list[_Field]:
    found: list[_Field] = []
    for change in request.fields or ():
        now = _value_at(current, change["keys"])
        salt = digest_salt(job_id, str(request.cluster), change["path"])
        found.append(
            _Field(
                change,
                now,
                _holds(now, change["before"], change.get("before_digest"), salt),
                _holds(now, change["after"], change.get("after_digest"), salt),
            )
        )
    return found


def _three_way(fields: Sequence[_Field], redactor: Redactor) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item in fields:
        keys = item.change["keys"]
        rows.append(
            {
                "path": item.change["path"],
                "previous": shown_field(keys, item.change["before"], redactor),
                "applied": shown_field(keys, item.change["after"], redactor),
                "current": shown_field(keys, item.now, redactor),
            }
        )
    return rows


def format_three_way(differences: Sequence[Mapping[str, Any]]) -> str:
    """A ``path | before apply | applied | now`` table (the one diff table,
    :func:`~airflow_gradient.core.cluster.diff.format_table`) of
    :attr:`RollbackPlan.differences`."""
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
    settings: Mapping[str, Any],
    request: RollbackRequest,
    *,
    redactor: Redactor,
    force: bool = False,
) -> RollbackPlan:
    """Decide what a rollback does with the job whose ``settings`` (``jobs/get``) are given.

    - nothing to roll back (``request.nothing_reason``): no write (``settings`` unused);
    - an explicit spec: write it whole unless the cluster already holds it;
    - from an apply: see the module docstring (only the fields the apply changed).

    A write is the whole job cluster entry or the whole task (via
    :func:`~airflow_gradient.core.cluster.update.update_settings_for`), for ``jobs/update``.

    :param redactor: hides secret values in the reason, the messages and ``differences``.
    :raises RollbackRefusedError: a changed field holds something else now and ``force`` is
        false (the message holds the three-way table, ``differences`` the rows); or a field
        whose old value was a secret must be written back.
    :raises ClusterNotFoundError: the cluster is no longer in the job.
    :raises AmbiguousClusterError: a bare explicit key names a job cluster and a task.
    """
    if request.nothing_reason is not None:
        return RollbackPlan(write=False, reason=request.nothing_reason, job_id=request.job_id)
    if request.job_id is None or (request.fields is None and request.restore is None):
        raise RollbackRefusedError(f"{request.source}: no job or no spec to restore.")
    job_id = request.job_id
    location, path = _locate(settings, request, job_id)
    where = f"Databricks job {job_id} cluster {path}"
    current = copy.deepcopy(location.spec)
    plan = RollbackPlan(write=False, reason="", job_id=job_id, cluster_path=path, current=current)

    def decided(
        reason: str, restored: dict[str, Any], *, write: bool = True, forced: bool = False
    ) -> RollbackPlan:
        new_settings = update_settings_for(settings, location, restored) if write else None
        return replace(
            plan,
            write=write,
            reason=reason,
            restored=restored,
            new_settings=new_settings,
            changes=diff_cluster(current, restored),
            forced=forced,
        )

    if request.fields is None:
        spec = copy.deepcopy(dict(request.restore or {}))
        if not diff_cluster(current, spec):
            return decided(
                f"{where} already holds {request.source}: nothing to write.", spec, write=False
            )
        return decided(
            f"Restoring {request.source} to {where} "
            f"({len(diff_cluster(current, spec))} field(s) change); there is no apply record to "
            "check the current cluster against.",
            spec,
        )

    fields = _fields(request, current, job_id)
    plan = replace(plan, differences=_three_way(fields, redactor))
    if all(item.at_before for item in fields):
        return decided(
            f"{where} already holds the spec from before the apply in every field "
            f"{request.source} changed: nothing to write.",
            copy.deepcopy(current),
            write=False,
        )
    table = format_three_way(plan.differences)
    drifted = [item for item in fields if not (item.at_before or item.at_after)]
    if drifted and not force:
        raise RollbackRefusedError(
            f"Refusing to roll back {where}: {len(drifted)} field(s) that {request.source} "
            f"wrote hold something else now ({', '.join(i.change['path'] for i in drifted)}: "
            "changed since, by someone or something else). Putting the old values back would "
            "silently undo those changes too. Nothing was written. Fields the apply changed:\n"
            f"{table}\nCheck the job; to restore the 'before apply' column anyway, pass "
            "force=True to GradientRollbackOperator.",
            differences=plan.differences,
        )
    secrets = [item for item in fields if not item.at_before and item.secret_before]
    if secrets:
        paths = ", ".join(item.change["path"] for item in secrets)
        raise RollbackRefusedError(
            f"Cannot roll back {where}: before {request.source}, field(s) {paths} held a "
            "secret value, and the apply's XCom keeps only a digest of it, never the value, "
            "so it cannot be written back. Nothing was written. Put the old value back in the "
            "job yourself (better: a {{secrets/<scope>/<key>}} reference), then run the "
            "rollback again to restore the other fields; or restore the whole cluster with "
            "cluster_spec=, job_id= and cluster_key=. Fields the apply changed:\n"
            f"{table}",
            differences=plan.differences,
        )
    restored = copy.deepcopy(current)
    for item in fields:
        if not item.at_before:
            _put(restored, item.change["keys"], item.change["before"])
    count = sum(1 for item in fields if not item.at_before)
    if drifted:
        return decided(
            f"{where}: {len(drifted)} field(s) that {request.source} wrote changed since; "
            "force=True: restoring their values from before the apply anyway, which also "
            f"undoes those changes. Fields the apply changed:\n{table}",
            restored,
            forced=True,
        )
    return decided(
        f"{where} still holds what {request.source} wrote: restoring the {count} field(s) it "
        "changed to their values from before the apply; everything else stays as the job "
        "has it now.",
        restored,
    )


def check_read_back(
    job_id: int,
    path: str,
    restored: Mapping[str, Any],
    found: Mapping[str, Any] | None,
    *,
    redactor: Redactor,
) -> None:
    """Judge the read-back after a rollback's ``jobs/update``: ``found`` must hold ``restored``
    (fields only Databricks added do not count, as for the apply's read-back).

    :raises ReadBackMismatchError: listing what differs (secret values hidden).
    """
    differences = read_back_differences(restored, found or {})
    if differences:
        raise ReadBackMismatchError(
            f"After jobs/update, Databricks job {job_id} cluster {path} does not hold the "
            "restored spec (another writer, or Databricks changed it). Check the job before "
            f"the next run. Written → found:\n{format_diff(redact_changes(differences, redactor))}"
        )
