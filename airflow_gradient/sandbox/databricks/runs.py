"""A job run as the emulated workspace stores it, and where it is in its life at a moment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUN_RESULTS = ("SUCCESS", "FAILED")


@dataclass
class Run:
    """A run and what it needs to report its state at any moment."""

    run_id: int
    job_id: int
    run_type: str
    run_name: str
    number_in_job: int
    created: float
    duration: float
    outcome: str
    tasks: list[dict[str, Any]]
    job_clusters: list[dict[str, Any]]
    job_parameters: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    canceled_at: float | None = None
    finished: tuple[float, str] | None = None
    on_start: tuple[str, ...] = ()
    """Ids of the existing notification destinations the job's ``on_start`` named at start."""


def timeline(run: Run, now: float) -> tuple[str, str | None, float | None]:
    """(life cycle state, result state, end time) of ``run`` at ``now``.

    A run is PENDING for the first quarter of its duration, then RUNNING, then TERMINATED
    with its outcome; a cancel or :meth:`finish_run` ends it earlier.
    """
    if run.canceled_at is not None and run.canceled_at <= now:
        return "TERMINATED", "CANCELED", run.canceled_at
    if run.finished is not None:
        return "TERMINATED", run.finished[1], run.finished[0]
    elapsed = now - run.created
    if run.duration <= 0 or elapsed >= run.duration:
        return "TERMINATED", run.outcome, run.created + max(run.duration, 0.0)
    if elapsed < run.duration * 0.25:
        return "PENDING", None, None
    return "RUNNING", None, None
