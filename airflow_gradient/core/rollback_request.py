"""What a rollback is asked to do: read from the apply task's result (the XCom contract,
:class:`~airflow_gradient.core.results.ApplyResult`) or given explicitly."""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from airflow_gradient.core.cluster.paths import format_path, split_cluster_path
from airflow_gradient.core.cluster.spec import validate_cluster_spec
from airflow_gradient.core.errors import RollbackRefusedError
from airflow_gradient.core.redaction import DIGEST_PREFIX
from airflow_gradient.core.results import ROLLBACK_FIELDS, ApplyResult, FieldChange

__all__ = ["RollbackRequest", "explicit_request", "request_from_apply_result"]


@dataclass(frozen=True)
class RollbackRequest:
    """What a rollback is asked to do, before the job is read.

    :ivar source: where the request came from, for messages (``"apply task 'apply'"``, ...).
    :ivar job_id: the Databricks job; ``None`` only when there is nothing to roll back.
    :ivar cluster: ``job_clusters/<key>`` or ``tasks/<key>``; for an explicit request also a
        bare key (a job cluster key or the key of a task with its own cluster).
    :ivar fields: from an apply: each field it changed (its ``rollback_fields``); only these
        are put back, everything else is taken from the job as it is at rollback time.
    :ivar restore: an explicit spec to put back whole (nothing to check it against).
    :ivar nothing_reason: set when there is nothing to roll back (the apply wrote nothing).
    """

    source: str
    job_id: int | None = None
    cluster: str | None = None
    fields: tuple[FieldChange, ...] | None = None
    restore: dict[str, Any] | None = None
    nothing_reason: str | None = None


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


def request_from_apply_result(
    result: Any, *, source: str, allow_missing: bool = False
) -> RollbackRequest:
    """Read what the apply task returned (its XCom) into a :class:`RollbackRequest`.

    ``applied`` false (nothing was written: no recommendation, or the job already had it) and
    ``dry_run`` give a request with ``nothing_reason`` set; so does ``None`` (no result: the
    apply failed or was skipped before returning, or did not run) when ``allow_missing``. A
    string is read as JSON or as a Python literal (what a Jinja template renders a dict to).

    The fields to put back are the result's ``rollback_fields``; a result that says it
    applied but has none is refused (it is not the apply task's own result).

    :param result: the apply operator's return value.
    :param source: where it came from, for messages (e.g. ``"apply task 'apply'"``).
    :param allow_missing: ``None`` means nothing to roll back; otherwise it is refused (a
        rollback that silently never happens is worse than a failed task).
    :raises RollbackRefusedError: no result (unless ``allow_missing``), the value is not an
        apply result, or it says the apply wrote but lacks what is needed to undo it.
    """
    result = _literal(result)
    if result is None and not allow_missing:
        raise RollbackRefusedError(
            f"{source} returned no result (it failed or was skipped before finishing, did not "
            "run, or does not push its return value to XCom), so what to roll back is unknown. "
            "Nothing was written. Check that the rollback reads the right apply task "
            "(apply_result=<apply task>.output); pass allow_missing_result=True if the apply "
            "may legitimately not have run (e.g. trigger_rule='one_failed' after a failed apply, "
            "which writes nothing)."
        )
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
    # An XCom is untrusted JSON: read it through the contract's keys, checking every value.
    record = cast(ApplyResult, result)
    job_id = _job_id(record.get("job_id"))
    if record.get("dry_run") is True:
        return RollbackRequest(
            source=source,
            job_id=job_id,
            nothing_reason=f"{source} was a dry run: it wrote nothing, so there is nothing to "
            "roll back.",
        )
    if record.get("applied") is not True:
        return RollbackRequest(
            source=source,
            job_id=job_id,
            nothing_reason=f"{source} wrote nothing (applied={record.get('applied')!r}: no "
            "recommendation, or the job already ran it), so there is nothing to roll back.",
        )

    if record.get("rollback_fields") is None:
        raise RollbackRefusedError(
            f"{source} says it applied a recommendation but has no rollback_fields (the "
            "fields it changed, which GradientApplyRecommendationOperator returns): it is not "
            "the apply task's own result, so there is nothing to undo field by field. Nothing "
            "was written. Pass the apply task's return value (apply_result=apply.output), or "
            "restore a spec explicitly with cluster_spec=, job_id= and cluster_key=."
        )
    problems: list[str] = []
    missing = [name for name in ROLLBACK_FIELDS if record.get(name) is None]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if "job_id" not in missing and job_id is None:
        problems.append(f"job_id {record.get('job_id')!r} is not an integer")
    path = record.get("cluster_path")
    if "cluster_path" not in missing and (
        not isinstance(path, str) or split_cluster_path(path) is None
    ):
        problems.append(f"cluster_path {path!r} is not 'job_clusters/<key>' or 'tasks/<key>'")
    fields = _fields(record.get("rollback_fields"), problems)
    if problems:
        raise RollbackRefusedError(
            f"{source} says it applied a recommendation but cannot be rolled back from: "
            f"{'; '.join(problems)}. Nothing was written. Pass the apply task's own return "
            "value (apply_task_id= or apply_result=apply.output), or cluster_spec= with "
            "job_id= and cluster_key=."
        )
    assert job_id is not None  # for the type checker; checked above
    return RollbackRequest(source=source, job_id=job_id, cluster=str(path), fields=tuple(fields))


def _fields(value: Any, problems: list[str]) -> list[FieldChange]:
    """``rollback_fields`` read back from untrusted JSON; what is wrong goes to ``problems``."""
    if not isinstance(value, list):
        problems.append("rollback_fields is not a list")
        return []
    fields: list[FieldChange] = []
    for index, entry in enumerate(value):
        keys = entry.get("keys") if isinstance(entry, Mapping) else None
        if (
            not isinstance(entry, Mapping)
            or not isinstance(keys, list)
            or not keys
            or not all(isinstance(key, str) for key in keys)
        ):
            problems.append(f"rollback_fields[{index}] has no keys (a list of field names)")
            continue
        field = FieldChange(
            keys=list(keys),
            path=format_path(keys),
            before=copy.deepcopy(entry.get("before")),
            after=copy.deepcopy(entry.get("after")),
        )
        for side in ("before_digest", "after_digest"):
            digest = entry.get(side)
            if digest is None:
                continue
            if not isinstance(digest, str) or not digest.startswith(DIGEST_PREFIX):
                problems.append(f"rollback_fields[{index}].{side} is not a {DIGEST_PREFIX} digest")
            elif side == "before_digest":
                field["before_digest"] = digest
            else:
                field["after_digest"] = digest
        fields.append(field)
    return fields


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
    # An explicit spec is checked as a whole: ``existing=spec`` keeps fields the installed
    # databricks-sdk does not know (the caller took the spec from the job), refusing the rest.
    validate_cluster_spec(
        spec, where=f"Databricks job {resolved_id} cluster {cluster_key}", existing=spec
    )
    return RollbackRequest(
        source=source,
        job_id=resolved_id,
        cluster=str(cluster_key),
        restore=copy.deepcopy(dict(spec)),
    )
