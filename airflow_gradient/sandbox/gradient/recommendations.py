"""Recommendations of the emulated Gradient service: stored, requested, completed, read.

A recommendation requested with :meth:`RecommendationsBackend.request_recommendation` starts
``PENDING`` and is completed after ``recommendation_ready_after_reads`` reads of it (or of the
list) and/or ``recommendation_ready_after_seconds``; its configuration is derived from the
project's job as it is *then* in the Databricks backend of the same sandbox.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from airflow_gradient.sandbox.databricks import DatabricksBackend
from airflow_gradient.sandbox.errors import NotFoundError, ValidationError
from airflow_gradient.sandbox.gradient import generation
from airflow_gradient.sandbox.gradient.records import (
    DEFAULT_FAILURE_ERROR,
    NOT_GIVEN,
    STATES,
    Recommendation,
    iso,
    parse_time,
    recommendation_view,
)


class RecommendationsBackend:
    """The recommendations half of :class:`~.backend.GradientBackend`, which provides
    ``databricks``, ``tenant_id`` and ``_project``.

    :param lock: the sandbox-wide lock guarding all state.
    """

    databricks: DatabricksBackend
    tenant_id: str

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.recommendation_ready_after_reads: int | None = 1
        """Reads of a requested recommendation (or its list) while it still shows PENDING."""
        self.recommendation_ready_after_seconds: float | None = None
        """Seconds after which a requested recommendation completes (``None``: not timed)."""
        self.next_recommendation_outcome = "SUCCESS"
        """How requested recommendations complete from now on: ``SUCCESS`` or ``FAILURE``."""
        self.recommendation_failure_error = DEFAULT_FAILURE_ERROR
        """The ``error`` text of a recommendation that completes as ``FAILURE``."""
        self.recommendation_phase = "OPTIMIZING"
        """``context.phase`` of requested recommendations."""
        self._recommendations: dict[str, list[Recommendation]] = {}  # by project id
        self._seq = 0

    def _reset_recommendations(self, *, keep_data: bool) -> None:
        self.recommendation_ready_after_reads = 1
        self.recommendation_ready_after_seconds = None
        self.next_recommendation_outcome = "SUCCESS"
        self.recommendation_failure_error = DEFAULT_FAILURE_ERROR
        self.recommendation_phase = "OPTIMIZING"
        if not keep_data:
            self._recommendations.clear()

    def _project(self, project_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def _recommendation(self, project_id: str, recommendation_id: str) -> Recommendation:
        self._project(project_id)
        for rec in self._recommendations[project_id]:
            if rec.id == recommendation_id:
                return rec
        raise NotFoundError(
            f"No recommendation with id {recommendation_id} in project {project_id}",
            status=404,
            code="Recommendation Not Found",
        )

    def _generate(self, project: dict[str, Any], recommendation_id: str) -> dict[str, Any]:
        """A configuration for the project's job cluster, or raise ``LookupError``."""
        job_id = project.get("job_id")
        settings = self.databricks.job_settings(job_id) if job_id else None
        if settings is None:
            raise LookupError(f"Databricks job {job_id} of project {project['id']} not found")
        return generation.generate_configuration(
            project,
            settings,
            recommendation_id=recommendation_id,
            run_id=self.databricks.latest_run_id(job_id) if job_id else None,
            tenant_id=self.tenant_id,
        )

    def _complete_if_ready(self, project: dict[str, Any], rec: Recommendation) -> None:
        if not rec.requested or rec.state != "PENDING":
            return
        by_reads = rec.ready_after_reads is not None and rec.reads >= rec.ready_after_reads
        by_time = rec.ready_at is not None and time.time() >= rec.ready_at
        untimed = rec.ready_after_reads is None and rec.ready_at is None
        if not (by_reads or by_time or untimed):
            return
        rec.updated_at = datetime.now(UTC)
        if rec.outcome == "FAILURE":
            rec.state, rec.error = "FAILURE", self.recommendation_failure_error
            return
        try:
            rec.configuration = self._generate(project, rec.id)
        except LookupError as exc:
            rec.state, rec.error = "FAILURE", str(exc)
            return
        rec.state = "SUCCESS"
        rec.metrics = generation.default_metrics(rec.configuration)
        rec.prediction_params = copy.deepcopy(project.get("prediction_params") or {})

    def _store(self, project_id: str, rec: Recommendation) -> None:
        if any(r.id == rec.id for r in self._recommendations[project_id]):
            raise ValidationError(f"Recommendation {rec.id} already exists in {project_id}")
        self._recommendations[project_id].append(rec)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add_recommendation(
        self,
        project_id: str,
        configuration: dict[str, Any] | None = None,
        *,
        state: str = "SUCCESS",
        metrics: dict[str, Any] | None = None,
        phase: str = "OPTIMIZING",
        error: str | None = None,
        created_at: str | datetime | None = None,
        recommendation_id: str | None = None,
        raw: Any = None,
    ) -> str:
        """Store a recommendation as Gradient would serve it; return its id.

        With ``configuration=None`` a ``SUCCESS`` recommendation gets one derived from the
        project's job cluster (as a requested one would). ``raw`` (any JSON value) is served
        verbatim as the ``result`` of this recommendation, for malformed-input tests. A
        recommendation added here keeps its state; see :meth:`complete_recommendation`.
        """
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        new_id = recommendation_id or str(uuid.uuid4())
        moment = parse_time(created_at)
        with self._lock:
            project = self._project(project_id)
            if state == "SUCCESS" and configuration is None and raw is None:
                try:
                    configuration = self._generate(project, new_id)
                except LookupError:
                    configuration = generation.fallback_configuration(
                        project_id, new_id, self.tenant_id
                    )
            rec = Recommendation(
                id=new_id,
                seq=self._next_seq(),
                created_at=moment,
                created_text=created_at if isinstance(created_at, str) else iso(moment),
                updated_at=moment,
                state=state,
                configuration=copy.deepcopy(configuration),
                metrics=copy.deepcopy(metrics)
                if metrics is not None
                else generation.default_metrics(configuration),
                prediction_params=copy.deepcopy(project.get("prediction_params") or {}),
                phase=phase,
                error=error
                if error is not None
                else (DEFAULT_FAILURE_ERROR if state == "FAILURE" else None),
                raw=copy.deepcopy(raw) if raw is not None else NOT_GIVEN,
            )
            self._store(project_id, rec)
            return new_id

    def complete_recommendation(
        self,
        project_id: str,
        recommendation_id: str,
        *,
        state: str = "SUCCESS",
        configuration: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Move a recommendation to ``state`` now (configuration derived when ``None``)."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        with self._lock:
            project = self._project(project_id)
            rec = self._recommendation(project_id, recommendation_id)
            rec.requested = False
            rec.state = state
            rec.updated_at = datetime.now(UTC)
            if state == "SUCCESS":
                rec.configuration = copy.deepcopy(configuration) or self._generate(
                    project, recommendation_id
                )
                rec.metrics = generation.default_metrics(rec.configuration)
                rec.error = None
            elif state == "FAILURE":
                rec.error = error or self.recommendation_failure_error

    def request_recommendation(self, project_id: str) -> str:
        """Like ``POST .../recommendations``: a new PENDING one that completes per the config."""
        if self.next_recommendation_outcome not in ("SUCCESS", "FAILURE"):
            raise ValueError("next_recommendation_outcome must be 'SUCCESS' or 'FAILURE'")
        now = datetime.now(UTC)
        with self._lock:
            project = self._project(project_id)
            seconds = self.recommendation_ready_after_seconds
            rec = Recommendation(
                id=str(uuid.uuid4()),
                seq=self._next_seq(),
                created_at=now,
                created_text=iso(now),
                updated_at=now,
                state="PENDING",
                configuration=None,
                metrics=None,
                prediction_params=copy.deepcopy(project.get("prediction_params") or {}),
                phase=self.recommendation_phase,
                error=None,
                requested=True,
                ready_after_reads=self.recommendation_ready_after_reads,
                ready_at=time.time() + seconds if seconds is not None else None,
                outcome=self.next_recommendation_outcome,
                context={"latest_submission_id": str(uuid.uuid4())},
            )
            self._store(project_id, rec)
            return rec.id

    def _ordered(self, project_id: str) -> list[Recommendation]:
        return sorted(
            self._recommendations[project_id],
            key=lambda r: (r.created_at, r.seq),
            reverse=True,
        )

    def get_recommendation(self, project_id: str, recommendation_id: str) -> Any:
        """A recommendation as the API returns it (not counted as a read)."""
        with self._lock:
            return recommendation_view(self._recommendation(project_id, recommendation_id))

    def recommendations(self, project_id: str) -> list[Any]:
        """Every recommendation of a project, newest first (not counted as reads)."""
        with self._lock:
            self._project(project_id)
            return [recommendation_view(r) for r in self._ordered(project_id)]

    def read_recommendations(self, project_id: str, page: int, per_page: int) -> list[Any]:
        """A client lists recommendations: complete the requested ones that are due, count
        the read on those still pending, and return one page, newest first."""
        with self._lock:
            project = self._project(project_id)
            requested = [r for r in self._ordered(project_id) if r.requested]
            for rec in requested:
                self._complete_if_ready(project, rec)
            for rec in requested:
                if rec.state == "PENDING":
                    rec.reads += 1
            chosen = self._ordered(project_id)[page * per_page : (page + 1) * per_page]
            return [recommendation_view(r) for r in chosen]

    def read_recommendation(self, project_id: str, recommendation_id: str) -> Any:
        """A client reads one recommendation: complete it if due, then count the read."""
        with self._lock:
            project = self._project(project_id)
            rec = self._recommendation(project_id, recommendation_id)
            self._complete_if_ready(project, rec)
            view = recommendation_view(rec)
            if rec.requested and rec.state == "PENDING":
                rec.reads += 1
            return view
