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
    ends_after_reads: int = 0
    reads: int = 0
    canceled_at: float | None = None
    finished: tuple[float, str] | None = None
    on_start: tuple[str, ...] = ()
    """Ids of the existing notification destinations the job's ``on_start`` named at start."""

    @property
    def by_reads(self) -> bool:
        """Whether reads move this run on (no ``duration``, some ``ends_after_reads``)."""
        return self.duration <= 0 and self.ends_after_reads > 0

    def read(self, now: float) -> None:
        """Count one ``runs/get`` of the run (or of one of its task runs): the read after the
        last of ``ends_after_reads`` finds it over."""
        if not self.by_reads or self.finished is not None or self.canceled_at is not None:
            return
        self.reads += 1
        if self.reads > self.ends_after_reads:
            self.finished = (now, self.outcome)


def timeline(run: Run, now: float) -> tuple[str, str | None, float | None]:
    """(life cycle state, result state, end time) of ``run`` at ``now``.

    With a ``duration``, a run is PENDING for the first quarter of it, then RUNNING, then
    TERMINATED with its outcome. Without one, reads move it on (:meth:`Run.read`): PENDING up
    to its first read, RUNNING for the next ones, TERMINATED at the read after
    ``ends_after_reads`` of them (at once when that is 0). A cancel or ``finish_run`` ends it
    earlier.
    """
    if run.canceled_at is not None and run.canceled_at <= now:
        return "TERMINATED", "CANCELED", run.canceled_at
    if run.finished is not None:
        return "TERMINATED", run.finished[1], run.finished[0]
    if run.by_reads:
        return ("PENDING" if run.reads <= 1 else "RUNNING"), None, None
    elapsed = now - run.created
    if run.duration <= 0 or elapsed >= run.duration:
        return "TERMINATED", run.outcome, run.created + max(run.duration, 0.0)
    if elapsed < run.duration * 0.25:
        return "PENDING", None, None
    return "RUNNING", None, None
