"""What Gradient did to a job over time: the audit report's data, from data already fetched.

From a project's recommendations and the job's finished runs (each with the cluster specs it
used, as ``runs/list`` reports them), work out which recommendation each run ran with (the
``sync:recommendation-id`` tag on the tuned cluster), whether the cluster still held it, when
each recommendation went into force and when it was replaced, reverted or overridden, and the
prediction next to each run's actual duration. Pure: the CLI fetches, this decides, the
report renders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_gradient.core.cluster.locate import locate_cluster
from airflow_gradient.core.cluster.merge import applied_recommendation_id, reverted_fields
from airflow_gradient.core.errors import CoreError, InvalidRecommendationError
from airflow_gradient.core.recommendation import Recommendation, parse_recommendation
from airflow_gradient.core.waiting import parse_timestamp

#: Fields of the tuned cluster the report follows run by run.
TRACKED_FIELDS = ("num_workers", "autoscale", "node_type_id", "driver_node_type_id")


def _metric(rec: Recommendation | None, key: str) -> float | None:
    value = rec.metrics.get(key) if rec is not None else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RunRecord:
    """One finished run, what it ran with, and what that recommendation predicted."""

    run_id: int
    started_at: str
    ended_at: str | None
    duration_minutes: float | None
    result: str
    recommendation_id: str | None
    holds_recommendation: bool
    overridden_fields: list[str]
    cluster: dict[str, Any]
    predicted_duration_minutes: float | None
    predicted_cost_usd: float | None


@dataclass
class RecommendationRecord:
    """One recommendation in the period and when it was in force on the job."""

    id: str
    state: str
    created_at: str | None
    phase: str | None
    predicted_duration_minutes: float | None
    predicted_cost_usd: float | None
    in_force_from: str | None = None
    in_force_until: str | None = None
    ended_by: str | None = None
    runs: int = 0


@dataclass(frozen=True)
class Change:
    """A change of what the job ran with, seen between two consecutive runs."""

    at: str
    kind: str  # applied | replaced | reverted | overridden | restored
    recommendation_id: str | None
    detail: str


@dataclass
class History:
    """The report's data: recommendations, runs (oldest first) and the changes between runs."""

    project_id: str
    job_id: int
    since: str
    recommendations: list[RecommendationRecord] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return asdict(self)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ms(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def _tracked(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {name: spec[name] for name in TRACKED_FIELDS if name in spec}


def build_history(
    *,
    project: Mapping[str, Any],
    job_id: int,
    recommendations: Sequence[Any],
    runs: Sequence[Mapping[str, Any]],
    since: datetime,
) -> History:
    """The history of ``job_id`` under ``project`` from ``since`` on.

    :param recommendations: the project's recommendations as Gradient lists them (any order).
    :param runs: the job's finished runs (``runs/list`` with ``expand_tasks``), any order.
    :param since: the start of the period (aware).
    """
    project_id = str(project.get("id"))
    history = History(project_id, job_id, _iso(since))
    parsed: dict[str, Recommendation] = {}
    for item in recommendations:
        try:
            rec = parse_recommendation(item, project_id=project_id)
        except InvalidRecommendationError as err:
            history.notes.append(f"skipped an unreadable recommendation: {err}")
            continue
        parsed[rec.id] = rec
    records: dict[str, RecommendationRecord] = {}
    for rec in sorted(parsed.values(), key=lambda r: r.created_at or ""):
        created = parse_timestamp(rec.created_at)
        if created is not None and created < since:
            continue
        records[rec.id] = RecommendationRecord(
            rec.id,
            rec.state,
            rec.created_at,
            rec.phase,
            _metric(rec, "spark_duration_minutes"),
            _metric(rec, "spark_cost_requested_usd"),
        )

    def record_of(rec_id: str) -> RecommendationRecord:
        if rec_id not in records:  # created before the period, in force during it
            rec = parsed.get(rec_id)
            records[rec_id] = RecommendationRecord(
                rec_id,
                rec.state if rec else "UNKNOWN",
                rec.created_at if rec else None,
                rec.phase if rec else None,
                _metric(rec, "spark_duration_minutes"),
                _metric(rec, "spark_cost_requested_usd"),
            )
        return records[rec_id]

    ordered = sorted(runs, key=lambda r: (r.get("start_time") or 0, r.get("run_id") or 0))
    previous: RunRecord | None = None
    for run in ordered:
        started, ended = _ms(run.get("start_time")), _ms(run.get("end_time"))
        if started is None or started < since:
            continue
        settings = {"job_clusters": run.get("job_clusters") or [], "tasks": run.get("tasks") or []}
        try:
            location = locate_cluster(
                settings,
                job_id=job_id,
                project_id=project_id,
                cluster_path=project.get("cluster_path") or None,
            )
        except CoreError as err:
            history.notes.append(f"run {run.get('run_id')}: {err}")
            continue
        rec_id = applied_recommendation_id(location.spec)
        in_force = parsed.get(rec_id) if rec_id else None
        lost = (
            [
                str(c["path"])
                for c in reverted_fields(location.spec, in_force.configuration, in_force.id)
            ]
            if in_force is not None and in_force.configuration
            else []
        )
        state = (run.get("state") or {}).get("result_state") or "UNKNOWN"
        duration = (ended - started).total_seconds() / 60 if ended else None
        record = RunRecord(
            run_id=int(run.get("run_id") or 0),
            started_at=_iso(started),
            ended_at=_iso(ended) if ended else None,
            duration_minutes=round(duration, 2) if duration is not None else None,
            result=str(state),
            recommendation_id=rec_id,
            holds_recommendation=rec_id is not None and not lost,
            overridden_fields=lost,
            cluster=_tracked(location.spec),
            predicted_duration_minutes=_metric(in_force, "spark_duration_minutes"),
            predicted_cost_usd=_metric(in_force, "spark_cost_requested_usd"),
        )
        history.runs.append(record)
        _note_change(history, previous, record, record_of)
        if rec_id is not None:
            record_of(rec_id).runs += 1
        previous = record
    history.recommendations = sorted(records.values(), key=lambda r: r.created_at or "")
    return history


def _note_change(
    history: History,
    before: RunRecord | None,
    now: RunRecord,
    record_of: Callable[[str], RecommendationRecord],
) -> None:
    """Record what changed from run ``before`` to run ``now`` (and the in-force periods)."""
    old = before.recommendation_id if before else None
    new = now.recommendation_id
    at = now.started_at

    def end(rec_id: str, how: str) -> None:
        record = record_of(rec_id)
        if record.in_force_until is None:
            record.in_force_until, record.ended_by = at, how

    if new != old:
        if old is not None:
            end(old, f"replaced by {new}" if new else "reverted (tag removed)")
        if new is not None:
            record = record_of(new)
            record.in_force_from, record.in_force_until, record.ended_by = at, None, None
            kind = "replaced" if old is not None else "applied"
            history.changes.append(Change(at, kind, new, f"{old} -> {new}" if old else new))
        else:
            history.changes.append(Change(at, "reverted", old, "sync:recommendation-id removed"))
        if new is not None and not now.holds_recommendation:
            history.changes.append(Change(at, "overridden", new, ", ".join(now.overridden_fields)))
        return
    if new is None or before is None:
        return
    if before.holds_recommendation and not now.holds_recommendation:
        end(new, f"overridden ({', '.join(now.overridden_fields)})")
        history.changes.append(Change(at, "overridden", new, ", ".join(now.overridden_fields)))
    elif not before.holds_recommendation and now.holds_recommendation:
        record = record_of(new)
        record.in_force_until, record.ended_by = None, None
        history.changes.append(Change(at, "restored", new, "the cluster holds it again"))
