"""Submissions of the emulated Gradient service: what Gradient collected from each job run.

The chain Gradient depends on, emulated: a run of a job whose ``webhook_notifications.on_start``
names the workspace's Gradient destination (its ``webhook_id``) tells Gradient the run started;
once the run ends, Gradient collects the cluster's logs and records a **submission** in the
project. A run without that webhook produces none; a run whose cluster has no log delivery
(``cluster_log_conf``) produces a ``FAILED`` one. Submissions are made when they are read
(the runs' timelines are clock-based), once per run.
"""

from __future__ import annotations

import copy
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from airflow_gradient.sandbox.databricks import DatabricksBackend
from airflow_gradient.sandbox.gradient import generation
from airflow_gradient.sandbox.gradient.records import iso

NO_LOGS_ERROR = "No cluster logs found for the run: the cluster has no cluster_log_conf"
"""The ``error`` of a submission whose run's cluster had no log delivery."""


class SubmissionsBackend:
    """The submissions half of :class:`~.backend.GradientBackend`, which provides
    ``databricks``, ``_project`` and ``get_workspace``."""

    databricks: DatabricksBackend
    _lock: threading.RLock

    def _init_submissions(self) -> None:
        self._submissions: dict[str, dict[int, dict[str, Any]]] = {}  # project -> run id -> item

    def _reset_submissions(self, *, keep_data: bool) -> None:
        if not keep_data:
            self._submissions.clear()

    def _project(self, project_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def get_workspace(self, workspace_id: str | int) -> dict[str, Any] | None:
        raise NotImplementedError

    def _collect(self, project: dict[str, Any]) -> dict[int, dict[str, Any]]:
        """Record a submission for each ended run that notified Gradient and has none yet."""
        known = self._submissions.setdefault(project["id"], {})
        workspace = self.get_workspace(project.get("workspace_id") or "")
        webhook_id = str(workspace["webhook_id"]) if workspace else None
        job_id = project.get("job_id")
        if webhook_id is None or not job_id:
            return known
        for run in self.databricks.ended_runs(job_id):
            if run["run_id"] in known or webhook_id not in run["on_start"]:
                continue
            settings = {"job_clusters": run["job_clusters"], "tasks": run["tasks"]}
            located = generation.find_tuned_cluster(
                settings, project["id"], project.get("cluster_path")
            )
            spec = located[1] if located else None
            collected = spec is not None and bool(spec.get("cluster_log_conf"))
            moment = iso(datetime.fromtimestamp(run["ended_at"], UTC))
            known[run["run_id"]] = {
                "id": str(uuid.uuid4()),
                "project_id": project["id"],
                "job_id": str(job_id),
                "run_id": str(run["run_id"]),
                "state": "SUCCESS" if collected else "FAILED",
                "error": None if collected else NO_LOGS_ERROR,
                "created_at": moment,
                "updated_at": moment,
                "configuration": copy.deepcopy(spec),
            }
        return known

    def submissions(self, project_id: str) -> list[dict[str, Any]]:
        """Every submission of a project, newest first (collecting ended runs first)."""
        with self._lock:
            project = self._project(project_id)
            items = list(self._collect(project).values())
        items.sort(key=lambda s: (s["created_at"], int(s["run_id"])), reverse=True)
        return copy.deepcopy(items)

    def read_submissions(self, project_id: str, page: int, size: int) -> dict[str, Any]:
        """One page of ``GET /v1/projects/{id}/paged/submissions``: ``{"items", "total",
        "page", "size"}`` (``total``, ``page`` and ``size`` are unverified guesses)."""
        items = self.submissions(project_id)
        return {
            "items": items[page * size : (page + 1) * size],
            "total": len(items),
            "page": page,
            "size": size,
        }
