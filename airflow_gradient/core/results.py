"""The XCom contract of the apply operator: ONE typed result, built in one place.

:class:`ApplyResult` is what ``GradientApplyRecommendationOperator`` returns (a plain dict, so
it is JSON-safe in XCom); :func:`apply_result` is the only place that builds one. The rollback
and the copilot template read it through this type.

An XCom is shown in the UI, so the result never holds a secret value of the cluster: the
values the redactor hides are ``***`` in ``changes``, ``previous_cluster`` and
``new_cluster``, and ``rollback_fields`` keeps a salted digest of them instead
(:func:`~airflow_gradient.core.redaction.secret_digest`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

from airflow_gradient.core.cluster.diff import changed_fields
from airflow_gradient.core.cluster.paths import format_path
from airflow_gradient.core.cluster.spec import SIZING_FIELDS
from airflow_gradient.core.json_values import json_equal
from airflow_gradient.core.redaction import (
    Redactor,
    redact_changes,
    redact_cluster,
    secret_digest,
    shown_field,
)

if TYPE_CHECKING:
    from airflow_gradient.core.bundles.deployment import BundleFacts
    from airflow_gradient.core.cluster.locate import ClusterLocation
    from airflow_gradient.core.recommendation import Recommendation

__all__ = [
    "ApplyResult",
    "FieldChange",
    "WriteConfirmation",
    "apply_result",
    "digest_salt",
    "field_changes",
]

WriteConfirmation = Literal["reply and read-back", "read-back", "reply"]
"""How a write was confirmed: the reply and the read-back agree; only the read-back (the
update call failed but the change landed); only the reply (another writer replaced it since)."""


class FieldChange(TypedDict):
    """One field of the cluster an apply changed: what a rollback puts back, and checks.

    ``keys`` address the field (``["spark_conf", "spark.a.b"]``), ``path`` shows it.
    ``before``/``after`` are the values before and after the apply (``None``: absent). A value
    the redactor hides is ``***`` there, and ``before_digest``/``after_digest`` hold its
    :func:`~airflow_gradient.core.redaction.secret_digest` (salted by :func:`digest_salt`): a
    rollback can then recognise the value in the live job, but cannot write it back.
    """

    keys: list[str]
    path: str
    before: Any
    after: Any
    before_digest: NotRequired[str]
    after_digest: NotRequired[str]


class ApplyResult(TypedDict):
    """What an apply did, as its XCom.

    ``applied`` says whether ``jobs/update`` was sent; ``previous_cluster`` / ``new_cluster``
    are the cluster before and after, secret values hidden (``new_cluster`` is the current spec
    when nothing was written because the cluster was reverted and ``on_revert='warn'``);
    ``rollback_fields`` lists each field the write changed, for the rollback (empty when
    nothing was written); ``superseded_by`` is present only when another writer replaced the
    whole cluster after this write; ``bundle`` (set by the operator) holds the facts of the
    Asset Bundle that deploys the job (``None`` when none does).
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
    rollback_fields: list[FieldChange]
    metrics: dict[str, Any]
    reverted_since_last_apply: bool
    write_confirmed_by: WriteConfirmation | None
    update_error: str | None
    superseded_by: NotRequired[str]
    bundle: NotRequired[BundleFacts | None]


ROLLBACK_FIELDS: tuple[Literal["job_id", "cluster_path", "rollback_fields"], ...]
ROLLBACK_FIELDS = ("job_id", "cluster_path", "rollback_fields")
"""The fields of an :class:`ApplyResult` a rollback needs once the apply wrote something."""


def digest_salt(job_id: int, cluster_path: str, path: str) -> str:
    """The salt of a field's digest: the job, the cluster and the field."""
    return f"databricks job {job_id} cluster {cluster_path} field {path}"


def field_changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    job_id: int,
    cluster_path: str,
    redactor: Redactor,
) -> list[FieldChange]:
    """Each field that differs between two cluster specs, as a :class:`FieldChange` (fields as
    :func:`~airflow_gradient.core.cluster.diff.diff_cluster` splits them), sorted by keys.

    Sizing is one choice (``num_workers`` or ``autoscale``): when either changed, the other is
    listed too, unchanged, so a rollback checks that no second sizing form appeared since."""
    found = changed_fields(before, after)
    sizing = {keys[0] for keys, _, _ in found if keys[0] in SIZING_FIELDS}
    if sizing:
        found.extend(
            ((name,), before.get(name), after.get(name))
            for name in SIZING_FIELDS
            if name not in sizing
        )
        found.sort(key=lambda change: change[0])
    rows: list[FieldChange] = []
    for keys, old, new in found:
        path = format_path(keys)
        salt = digest_salt(job_id, cluster_path, path)
        row = FieldChange(keys=list(keys), path=path, before=old, after=new)
        shown_old, shown_new = shown_field(keys, old, redactor), shown_field(keys, new, redactor)
        if not json_equal(shown_old, old):
            row["before"], row["before_digest"] = shown_old, secret_digest(old, salt=salt)
        if not json_equal(shown_new, new):
            row["after"], row["after_digest"] = shown_new, secret_digest(new, salt=salt)
        rows.append(row)
    return rows


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
    redactor: Redactor | None = None,
) -> ApplyResult:
    """Build the apply's result; fields that do not apply are ``None`` / empty.

    :param redactor: hides secret values (see the module docstring); needed with a
        ``location`` (a result without one holds no cluster).
    :raises TypeError: a cluster is given without a redactor.
    """
    if redactor is None:
        if location is not None or new_cluster is not None or changes:
            raise TypeError("apply_result needs a redactor to report a cluster")
        redactor = _unused
    written: list[FieldChange] = []
    if applied and location is not None and new_cluster is not None:
        written = field_changes(
            location.spec,
            new_cluster,
            job_id=job_id,
            cluster_path=location.path,
            redactor=redactor,
        )
    result = ApplyResult(
        applied=applied,
        dry_run=dry_run,
        job_id=job_id,
        cluster_key=location.key if location else None,
        cluster_path=location.path if location else None,
        recommendation_id=recommendation.id if recommendation else None,
        phase=recommendation.phase if recommendation else None,
        changes=redact_changes(changes, redactor),
        previous_cluster=redact_cluster(location.spec, redactor) if location else None,
        new_cluster=redact_cluster(new_cluster, redactor) if new_cluster is not None else None,
        rollback_fields=written,
        metrics=dict(recommendation.metrics) if recommendation else {},
        reverted_since_last_apply=reverted,
        write_confirmed_by=write_confirmed_by,
        update_error=update_error,
    )
    if superseded_by is not None:
        result["superseded_by"] = superseded_by
    return result


def _unused(key: str, value: Any) -> Any:
    return value
