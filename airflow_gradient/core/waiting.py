"""Waiting for a Gradient recommendation: what the reference is, and what one list page says.

The sensor, the trigger and the request operator decide here, on plain data: one page of
``GET /v1/projects/{id}/recommendations`` (newest first), a :class:`Reference`, and (for
reuse) the current time. Pure: no I/O, no clock, no Airflow.

How "newer" is decided: by the list's order when the reference is a recommendation id (every
recommendation listed before it is newer; timestamps have one-second resolution and cannot
order two recommendations of the same second), by ``created_at`` when it is a timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from airflow_gradient.core.json_values import show
from airflow_gradient.core.recommendation import STATES, state_name

__all__ = [
    "Outcome",
    "Reference",
    "decide",
    "explicit_reference",
    "find_reusable_pending",
    "parse_reference",
    "parse_timestamp",
]

PER_PAGE = 20
"""Recommendations read per poll: one page, newest first."""

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_DONE, _FAILED = "SUCCESS", "FAILURE"


def parse_timestamp(value: Any) -> datetime | None:
    """An aware UTC ``datetime`` from an ISO-8601 string or a ``datetime``; ``None`` if unreadable.

    Accepts ``2024-02-14T21:26:37Z``, offsets, fractions, a space instead of ``T`` and a bare
    date (midnight). A value without a zone is read as UTC, as Gradient's timestamps are.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _TIMESTAMP.match(value.strip()):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --- the reference -------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """What a recommendation must be newer than to count.

    Exactly one of three kinds: nothing (every recommendation counts), a recommendation id, or
    a time. With an id, ``include_reference`` says whether that recommendation counts itself
    (``True`` when a user names it: it may be the one just requested and awaited; ``False``
    for the recommendation already in force on the job, which is not news).

    :param recommendation_id: id of the reference recommendation.
    :param after: recommendations created strictly after this (aware) time count.
    :param include_reference: with ``recommendation_id``: that recommendation counts too.
    :param source: where the reference came from, for messages (e.g. ``newer_than='...'``).
    """

    recommendation_id: str | None = None
    after: datetime | None = None
    include_reference: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if self.recommendation_id is not None and self.after is not None:
            raise ValueError("A reference is a recommendation id or a time, not both.")
        if self.after is not None and self.after.tzinfo is None:
            raise ValueError("A reference time must carry a time zone.")

    @property
    def kind(self) -> Literal["none", "id", "time"]:
        """``"none"``, ``"id"`` or ``"time"``."""
        if self.recommendation_id is not None:
            return "id"
        if self.after is not None:
            return "time"
        return "none"

    def describe(self) -> str:
        """A short phrase for log lines and messages."""
        if self.recommendation_id is not None:
            what = f"recommendation {self.recommendation_id}"
            if self.include_reference:
                what = f"{what} (itself included)"
        elif self.after is not None:
            what = f"created after {self.after.isoformat()}"
        else:
            what = "no reference: any recommendation counts"
        return f"{what} [{self.source}]" if self.source else what

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (for a trigger's kwargs); :meth:`from_dict` rebuilds it."""
        return {
            "recommendation_id": self.recommendation_id,
            "after": self.after.isoformat() if self.after is not None else None,
            "include_reference": self.include_reference,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reference:
        """Inverse of :meth:`to_dict`."""
        after_text = data.get("after")
        after = parse_timestamp(after_text) if after_text is not None else None
        if after_text is not None and after is None:
            raise ValueError(f"Unreadable reference time {after_text!r}.")
        return cls(
            recommendation_id=data.get("recommendation_id"),
            after=after,
            include_reference=bool(data.get("include_reference", False)),
            source=str(data.get("source") or ""),
        )


def reference_in_force(
    job: Mapping[str, Any],
    project: Mapping[str, Any],
    *,
    project_id: str,
    cluster_key: str | None,
) -> Reference:
    """The default reference: the recommendation the project's cluster is tagged with.

    :param job: the whole ``jobs/get`` reply.
    :param project: the Gradient project (its ``cluster_path`` helps locate the cluster).
    """
    from airflow_gradient.core.cluster.locate import locate_cluster
    from airflow_gradient.core.cluster.merge import applied_recommendation_id

    job_id = int(job["job_id"])
    location = locate_cluster(
        job["settings"],
        job_id=job_id,
        project_id=project_id,
        cluster_path=project.get("cluster_path") or None,
        cluster_key=cluster_key,
    )
    in_force = applied_recommendation_id(location.spec)
    where = f"cluster {location.path} of Databricks job {job_id}"
    if in_force is None:
        return Reference(source=f"{where} carries no sync:recommendation-id tag")
    return Reference(
        recommendation_id=in_force,
        include_reference=False,
        source=f"the recommendation in force on {where}",
    )


def parse_reference(value: Any, *, source: str = "newer_than") -> Reference:
    """Read a user's reference: ``None``/empty, a recommendation id, or a timestamp.

    A ``datetime`` or a string that starts like an ISO date (``2026-10-02``, ``2026-10-02T08:11
    :00Z``, ``2026-10-02 08:11:00+00:00``) is a time: recommendations created strictly after it
    count. Any other string is a recommendation id, which counts itself: the sensor is done when
    that recommendation *or a newer one* succeeds, so the XCom of
    ``GradientRequestRecommendationOperator`` waits for the recommendation it requested.

    :param value: the rendered argument.
    :param source: how the argument is called, for messages.
    :raises ValueError: a date-like string that is not a valid time, or a value of another type.
    """
    if value is None:
        return Reference(source=source)
    if isinstance(value, datetime):
        moment = parse_timestamp(value)
        assert moment is not None
        return Reference(after=moment, source=source)
    if not isinstance(value, str):
        hint = (
            " (for the apply operator's XCom, pass its ['recommendation_id'])"
            if isinstance(value, Mapping)
            else ""
        )
        raise ValueError(
            f"{source} must be a recommendation id or an ISO-8601 timestamp, not "
            f"{type(value).__name__} {show(value, 200)}{hint}."
        )
    text = value.strip()
    if not text or text.lower() == "none":
        return Reference(source=source)
    if _TIMESTAMP.match(text):
        moment = parse_timestamp(text)
        if moment is None:
            raise ValueError(
                f"{source}={value!r} looks like a timestamp but is not valid ISO-8601; use e.g. "
                "'2026-10-02T08:11:00Z'."
            )
        return Reference(after=moment, source=source)
    return Reference(recommendation_id=text, include_reference=True, source=source)


def explicit_reference(recommendation_id: Any = None, after: Any = None) -> Reference | None:
    """The reference from the two explicit arguments (``newer_than_recommendation_id``,
    ``newer_than_time``), rendered; ``None`` when neither is given (empty or ``"None"``).

    Nothing is guessed: an id is an id (it counts itself, as with :func:`parse_reference`), a
    time is a ``datetime`` or an ISO-8601 string.

    :raises ValueError: both given, an id that is not text, or a time that is not ISO-8601.
    """
    rec_id = None if _blank(recommendation_id) else recommendation_id
    moment = None if _blank(after) else after
    if rec_id is not None and moment is not None:
        raise ValueError(
            "give newer_than_recommendation_id or newer_than_time, not both (a recommendation "
            "counts when it is newer than one reference)."
        )
    if rec_id is not None:
        if not isinstance(rec_id, str):
            raise ValueError(
                "newer_than_recommendation_id must be a recommendation id (text), not "
                f"{type(rec_id).__name__} {show(rec_id, 200)}."
            )
        return Reference(
            recommendation_id=rec_id.strip(),
            include_reference=True,
            source="newer_than_recommendation_id",
        )
    if moment is not None:
        parsed = parse_timestamp(moment)
        if parsed is None:
            raise ValueError(
                f"newer_than_time={show(moment, 200)} is not a datetime or an ISO-8601 "
                "timestamp; use e.g. '2026-10-02T08:11:00Z' or '{{ data_interval_end }}'."
            )
        return Reference(after=parsed, source="newer_than_time")
    return None


def _blank(value: Any) -> bool:
    """A templated optional argument that rendered to nothing."""
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none"))


# --- one page → an outcome -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one page of recommendations says.

    ``status``: ``"done"`` (``recommendation_id`` is the newest SUCCESS that counts),
    ``"failed"`` (every recommendation that counts is a FAILURE; ``recommendation_id`` and
    ``error`` are the newest one's), ``"waiting"`` (``message`` says what is awaited) or ``"error"``
    (the reply or the reference cannot be used; ``message`` says why and what to do;
    ``permanent`` when reading again would meet the same error: the reference is wrong).
    """

    status: Literal["done", "failed", "waiting", "error"]
    message: str
    recommendation_id: str | None = None
    error: str | None = None
    permanent: bool = False


@dataclass(frozen=True)
class _Item:
    id: str
    state: str
    created_at: Any
    error: str | None


def _read_items(items: Sequence[Any], project_id: str) -> list[_Item] | Outcome:
    read: list[_Item] = []
    for position, raw in enumerate(items):
        rec_id = raw.get("id") if isinstance(raw, Mapping) else None
        if not isinstance(raw, Mapping) or not isinstance(rec_id, str) or not rec_id:
            return Outcome(
                "error",
                f"Gradient listed an unreadable recommendation for project {project_id} "
                f"(entry {position}: {show(raw, 200)}). Check the connection's host, or report it "
                "to Sync Computing.",
            )
        state = raw.get("state")
        error = raw.get("error")
        read.append(
            _Item(
                id=rec_id,
                state=state_name(state) or str(state),
                created_at=raw.get("created_at"),
                error=error if error is None or isinstance(error, str) else show(error, 500),
            )
        )
    return read


def _counting(
    items: list[_Item], reference: Reference, *, project_id: str, page_full: bool
) -> list[_Item] | Outcome:
    """The recommendations of the page that count, newest first."""
    if reference.recommendation_id is not None:
        for index, item in enumerate(items):
            if item.id == reference.recommendation_id:
                return items[: index + 1] if reference.include_reference else items[:index]
        if page_full:
            # Listed newest first: a reference that is not on the first page is older than
            # every recommendation on it.
            return items
        return Outcome(
            "error",
            f"Recommendation {reference.recommendation_id} ({reference.source or 'reference'}) "
            f"is not a recommendation of Gradient project {project_id}. Check the project id "
            "and the reference.",
            permanent=True,
        )
    if reference.after is not None:
        counting = []
        for item in items:
            created = parse_timestamp(item.created_at)
            if created is None:
                return Outcome(
                    "error",
                    f"Recommendation {item.id} of Gradient project {project_id} has no readable "
                    f"created_at ({show(item.created_at, 200)}), so it cannot be compared with "
                    f"{reference.after.isoformat()}. Use a recommendation id as the reference.",
                    permanent=True,
                )
            if created > reference.after:
                counting.append(item)
        return counting
    return items


def decide(
    items: Sequence[Any], reference: Reference, *, project_id: str, per_page: int = PER_PAGE
) -> Outcome:
    """Decide from the first page of a project's recommendations (newest first).

    Of the recommendations that count (newer than ``reference``): the newest ``SUCCESS`` one
    means done; else, while one is still ``PENDING`` (or in a state this code does not know),
    or none counts yet, keep waiting; else all of them are ``FAILURE``: failed, with the newest
    one's error text. So a failure ends the wait only when nothing awaited can still succeed.

    :param items: the ``result`` list of the page, as Gradient sent it.
    :param reference: what counting recommendations must be newer than.
    :param project_id: the Gradient project (for messages).
    :param per_page: the page size asked for; a full page means older ones may exist.
    """
    read = _read_items(items, project_id)
    if isinstance(read, Outcome):
        return read
    counting = _counting(read, reference, project_id=project_id, page_full=len(read) >= per_page)
    if isinstance(counting, Outcome):
        return counting
    for item in counting:
        if item.state == _DONE:
            return Outcome(
                "done",
                f"Recommendation {item.id} of Gradient project {project_id} is SUCCESS "
                f"({reference.describe()}).",
                recommendation_id=item.id,
            )
    if not counting:
        return Outcome(
            "waiting",
            f"Gradient project {project_id} has no recommendation that counts yet "
            f"({reference.describe()}).",
        )
    unfinished = [item for item in counting if item.state != _FAILED]
    if unfinished:
        item = unfinished[0]
        state = item.state if item.state in STATES else f"{item.state} (unknown state)"
        return Outcome(
            "waiting",
            f"Recommendation {item.id} of Gradient project {project_id} is {state}.",
            recommendation_id=item.id,
        )
    newest = counting[0]
    return Outcome(
        "failed",
        f"Recommendation {newest.id} of Gradient project {project_id} is FAILURE: "
        f"{newest.error or 'Gradient gave no error text'}. Check the job's last run (did its "
        "cluster logs reach Gradient?), then request a new recommendation.",
        recommendation_id=newest.id,
        error=newest.error,
    )


# --- reusing a pending request -------------------------------------------------------------


def find_reusable_pending(
    items: Sequence[Any], *, now: datetime, within: timedelta
) -> dict[str, Any] | None:
    """The newest ``PENDING`` recommendation created within ``within`` before ``now``, if any.

    One whose ``created_at`` is missing or unreadable is never reused (its age is unknown); one
    dated slightly in the future (clock skew) counts as recent.

    :param items: one page of recommendations, newest first.
    :param now: the current time (aware).
    :param within: how old a pending recommendation may be to be reused.
    """
    oldest = now - within
    for raw in items:
        if not isinstance(raw, Mapping):
            continue
        if state_name(raw.get("state")) != "PENDING":
            continue
        rec_id = raw.get("id")
        created = parse_timestamp(raw.get("created_at"))
        if isinstance(rec_id, str) and rec_id and created is not None and created >= oldest:
            return dict(raw)
    return None
