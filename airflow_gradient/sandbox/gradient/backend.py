"""State and Python API of the emulated Gradient service (``Sandbox.gradient``).

A recommendation requested with :meth:`GradientBackend.request_recommendation` starts
``PENDING`` and is completed after ``recommendation_ready_after_reads`` reads of it (or of the
list) and/or ``recommendation_ready_after_seconds``; its configuration is derived from the
project's job as it is *then* in the Databricks backend of the same sandbox.
"""

from __future__ import annotations

import copy
import secrets
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
    DEFAULT_PREDICTION_PARAMS,
    NOT_GIVEN,
    STATES,
    Recommendation,
    checked_project_fields,
    iso,
    parse_time,
    recommendation_view,
)


class GradientBackend:
    """Tokens, projects, recommendations and workspaces of the emulated Gradient API.

    :param lock: the sandbox-wide lock guarding all state.
    :param api_key_id: the API key id clients exchange for a token.
    :param api_key_secret: its secret.
    :param token_lifetime: seconds an access token stays valid.
    :param databricks: the Databricks backend of the same sandbox (jobs to recommend for).
    """

    def __init__(
        self,
        lock: threading.RLock,
        api_key_id: str,
        api_key_secret: str,
        token_lifetime: float,
        databricks: DatabricksBackend,
    ) -> None:
        self._lock = lock
        self.api_key_id = api_key_id
        self.api_key_secret = api_key_secret
        self._default_token_lifetime = token_lifetime
        self.token_lifetime = token_lifetime
        """Seconds a newly issued access token stays valid."""
        self.databricks = databricks
        self.base_url = "http://127.0.0.1"
        self.tenant_id = str(uuid.uuid4())
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
        self._tokens: dict[str, float] = {}
        self._projects: dict[str, dict[str, Any]] = {}
        self._recommendations: dict[str, list[Recommendation]] = {}
        self._workspaces: dict[str, dict[str, Any]] = {}
        self._seq = 0

    def reset(self, *, keep_data: bool = False) -> None:
        """Restore the default behaviour; also forget every token, project, recommendation
        and workspace unless ``keep_data``."""
        with self._lock:
            self.token_lifetime = self._default_token_lifetime
            self.recommendation_ready_after_reads = 1
            self.recommendation_ready_after_seconds = None
            self.next_recommendation_outcome = "SUCCESS"
            self.recommendation_failure_error = DEFAULT_FAILURE_ERROR
            self.recommendation_phase = "OPTIMIZING"
            if keep_data:
                return
            self._tokens.clear()
            self._projects.clear()
            self._recommendations.clear()
            self._workspaces.clear()

    # --- tokens --------------------------------------------------------------------------

    def api_key_matches(self, key_id: str, key_secret: str) -> bool:
        """Whether ``key_id`` and ``key_secret`` are this sandbox's (constant-time compare)."""
        valid = secrets.compare_digest(key_id.encode(), self.api_key_id.encode())
        valid &= secrets.compare_digest(key_secret.encode(), self.api_key_secret.encode())
        return valid

    def issue_token(self) -> tuple[str, float]:
        """A new access token and its expiry (epoch seconds)."""
        token = "gst_" + secrets.token_urlsafe(32)
        expiry = time.time() + float(self.token_lifetime)
        with self._lock:
            self._tokens[token] = expiry
        return token, expiry

    def token_expiry(self, token: str) -> float | None:
        """When ``token`` expires (epoch seconds), or ``None`` if it was never issued."""
        with self._lock:
            return self._tokens.get(token)

    def expire_tokens(self) -> None:
        """Make every token issued so far expired: the next call with one gets a 401."""
        with self._lock:
            now = time.time()
            for token in self._tokens:
                self._tokens[token] = min(self._tokens[token], now)

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token issued so far (to check that none leaks into logs or XComs)."""
        with self._lock:
            return list(self._tokens)

    @property
    def tokens_issued(self) -> int:
        """How many access tokens were issued (to check a client reuses its token)."""
        with self._lock:
            return len(self._tokens)

    # --- projects ------------------------------------------------------------------------

    def _project(self, project_id: str) -> dict[str, Any]:
        project = self._projects.get(project_id)
        if project is None:
            raise NotFoundError(
                f"No project with id {project_id}", status=404, code="Project Not Found"
            )
        return project

    def create_project(
        self,
        job_id: int | str | None = None,
        cluster_path: str | None = None,
        auto_apply_recs: bool = False,
        *,
        project_id: str | None = None,
        name: str | None = None,
        workspace_id: str | None = None,
        product_code: str = "aws-databricks",
        prediction_params: dict[str, Any] | None = None,
        app_id: str | None = None,
        description: str | None = None,
        cluster_log_url: str | None = None,
        optimize_instance_size: bool = False,
    ) -> dict[str, Any]:
        """Create a project for a Databricks job; return it as ``GET /v1/projects/{id}`` does."""
        new_id = project_id or str(uuid.uuid4())
        fields = checked_project_fields(
            {
                "job_id": job_id,
                "cluster_path": cluster_path,
                "auto_apply_recs": auto_apply_recs,
                "name": name,
                "workspace_id": workspace_id,
                "product_code": product_code,
                "prediction_params": prediction_params,
                "app_id": app_id,
                "description": description,
                "cluster_log_url": cluster_log_url,
                "optimize_instance_size": optimize_instance_size,
            }
        )
        now = iso(datetime.now(UTC))
        project = {
            "id": new_id,
            "name": fields["name"] or f"project-{new_id[:8]}",
            "app_id": fields["app_id"] or fields["name"] or f"app-{new_id[:8]}",
            "description": fields["description"],
            "product_code": fields["product_code"],
            "job_id": fields["job_id"],
            "cluster_path": fields["cluster_path"],
            "workspace_id": fields["workspace_id"] or self.databricks.workspace_id,
            "cluster_log_url": fields["cluster_log_url"],
            "auto_apply_recs": fields["auto_apply_recs"],
            "prediction_params": fields["prediction_params"] or dict(DEFAULT_PREDICTION_PARAMS),
            "optimize_instance_size": fields["optimize_instance_size"],
            "project_model_id": "GRADIENT_ML",
            "created_at": now,
            "updated_at": now,
        }
        with self._lock:
            if new_id in self._projects:
                raise ValidationError(f"A project with id {new_id} already exists")
            self._projects[new_id] = project
            self._recommendations[new_id] = []
            return copy.deepcopy(project)

    def get_project(self, project_id: str) -> dict[str, Any]:
        """A project as the API returns it."""
        with self._lock:
            return copy.deepcopy(self._project(project_id))

    @property
    def projects(self) -> list[dict[str, Any]]:
        """Every project, oldest first."""
        with self._lock:
            return [copy.deepcopy(p) for p in self._projects.values()]

    def update_project(self, project_id: str, **fields: Any) -> dict[str, Any]:
        """Change some fields of a project (like ``PUT /v1/projects/{id}``); return it."""
        checked = checked_project_fields(fields)
        with self._lock:
            project = self._project(project_id)
            project.update(checked)
            project["updated_at"] = iso(datetime.now(UTC))
            return copy.deepcopy(project)

    # --- recommendations -----------------------------------------------------------------

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

    # --- workspaces and cluster templates ------------------------------------------------

    def create_workspace(
        self,
        workspace_id: str | int,
        webhook_id: str | None = None,
        *,
        collection_type: str = "hosted",
        compute_provider: str = "aws",
    ) -> dict[str, Any]:
        """Register a Databricks workspace with Gradient; return its config.

        Without ``webhook_id``, a generic-webhook notification destination pointing at this
        Gradient service is created in the sandbox's Databricks and its id used, as Gradient
        does when a workspace is onboarded.
        """
        if webhook_id is None:
            destination = self.databricks.create_destination(
                f"Gradient webhook ({workspace_id})",
                f"{self.base_url}/v1/databricks/workspaces/{workspace_id}/webhook",
                username="gradient",
                password=secrets.token_urlsafe(16),
            )
            webhook_id = str(destination["id"])
        workspace = {
            "workspace_id": str(workspace_id),
            "webhook_id": webhook_id,
            "collection_type": collection_type,
            "compute_provider": compute_provider,
            "databricks_host": self.databricks.base_url,
        }
        with self._lock:
            self._workspaces[str(workspace_id)] = workspace
            return copy.deepcopy(workspace)

    def get_workspace(self, workspace_id: str | int) -> dict[str, Any] | None:
        """The config of a registered workspace, or ``None``."""
        with self._lock:
            workspace = self._workspaces.get(str(workspace_id))
            return copy.deepcopy(workspace) if workspace is not None else None

    def cluster_template(self, project_id: str) -> dict[str, Any]:
        """The partial cluster spec Gradient wants merged into the project's cluster."""
        with self._lock:
            return generation.cluster_template(self._project(project_id), self.tenant_id)
