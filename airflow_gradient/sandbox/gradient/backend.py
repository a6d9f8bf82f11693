"""State and Python API of the emulated Gradient service (``Sandbox.gradient``).

No HTTP here: :mod:`airflow_gradient.sandbox.gradient.routes` parses requests, calls these
methods and shapes the replies.
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
from airflow_gradient.sandbox.gradient.recommendations import RecommendationsBackend
from airflow_gradient.sandbox.gradient.records import (
    DEFAULT_PREDICTION_PARAMS,
    checked_project_fields,
    iso,
)
from airflow_gradient.sandbox.gradient.submissions import SubmissionsBackend


class GradientBackend(RecommendationsBackend, SubmissionsBackend):
    """Tokens, projects, workspaces and (from :class:`RecommendationsBackend` and
    :class:`SubmissionsBackend`) recommendations and submissions of the emulated Gradient API.

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
        super().__init__(lock)
        self.api_key_id = api_key_id
        self.api_key_secret = api_key_secret
        self._default_token_lifetime = token_lifetime
        self.token_lifetime = token_lifetime
        """Seconds a newly issued access token stays valid."""
        self.databricks = databricks
        self.base_url = "http://127.0.0.1"
        self.tenant_id = str(uuid.uuid4())
        self._tokens: dict[str, float] = {}
        self._projects: dict[str, dict[str, Any]] = {}
        self._workspaces: dict[str, dict[str, Any]] = {}
        self._init_submissions()

    def reset(self, *, keep_data: bool = False) -> None:
        """Restore the default behaviour; also forget every token, project, recommendation
        and workspace unless ``keep_data``."""
        with self._lock:
            self.token_lifetime = self._default_token_lifetime
            self._reset_recommendations(keep_data=keep_data)
            self._reset_submissions(keep_data=keep_data)
            if keep_data:
                return
            self._tokens.clear()
            self._projects.clear()
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
            self._recommendations[new_id] = []  # see RecommendationsBackend
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
