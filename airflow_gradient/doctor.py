"""Run the doctor's checks on one job: fetch through the hooks, judge with ``core.health``.

Shared by ``airflow-gradient doctor`` and ``GradientHealthCheckOperator``. Every object is
read once (the job, the project, the template, the workspace, the destination, one page of
recommendations, the runs and the submissions, pages followed); the Gradient token is the
process's cached one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_gradient.core import health
from airflow_gradient.core.health import Verdict
from airflow_gradient.exceptions import GradientApiError, GradientError

if TYPE_CHECKING:
    from airflow_gradient.hooks.databricks import GradientDatabricksHook
    from airflow_gradient.hooks.gradient import GradientHook

T = TypeVar("T")
#: Recommendations read (one page): enough to find the one in force and the newest usable.
RECOMMENDATIONS_READ = 20


@dataclass
class Examination:
    """The verdicts on one job, and why checking stopped early (``stopped``: a connection
    failed or the job does not exist, which the CLI reports as exit status 2)."""

    job_id: int
    project_id: str | None
    verdicts: list[Verdict] = field(default_factory=list)
    stopped: str | None = None

    @property
    def status(self) -> health.Level:
        """The worst level found."""
        return health.worst(self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        """The structured result (``--json``, XCom)."""
        result = health.summary(self.verdicts, job_id=self.job_id, project_id=self.project_id)
        result["stopped"] = self.stopped
        return result


class SharedReads:
    """What checks of several jobs in one process read alike: the project list, Gradient
    workspaces and notification destinations, each fetched once (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._values: dict[tuple[str, str], Any] = {}

    def get(self, key: tuple[str, str], fetch: Callable[[], T]) -> T:
        """The value under ``key``, fetched once: concurrent callers wait for the first."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if key not in self._values:
                self._values[key] = fetch()
            value: T = self._values[key]
            return value


def _missing_ok(fetch: Callable[[], T]) -> T | None:
    """``fetch()``, or ``None`` when Gradient answers 404."""
    try:
        return fetch()
    except GradientApiError as err:
        if err.status == 404:
            return None
        raise


def _project(
    gradient: GradientHook, job_id: int, project_id: str | None, shared: SharedReads | None
) -> tuple[Mapping[str, Any] | None, Verdict]:
    """The project named, or the one tracking the job, and the project check's verdict."""
    if project_id is None:
        if shared is None:
            return health.choose_project(job_id, gradient.find_projects_for_job(job_id))
        every = shared.get(("projects", ""), lambda: gradient.find_projects_for_job(None))
        mine = [p for p in every if str(p.get("job_id")) == str(job_id)]
        return health.choose_project(job_id, mine)
    project = _missing_ok(lambda: gradient.get_project(project_id))
    return project, health.project_verdict(job_id, project_id, project)


def examine(
    *,
    job_id: int,
    project_id: str | None,
    gradient: GradientHook,
    databricks: GradientDatabricksHook,
    runs: int = 10,
    applying_dags: Sequence[str] | None = None,
    now: datetime,
    shared: SharedReads | None = None,
) -> Examination:
    """Every check on Databricks job ``job_id`` and its Gradient project.

    :param project_id: the project; ``None``: the one project whose ``job_id`` is this job.
    :param runs: how many of the job's last finished runs to match against submissions.
    :param applying_dags: DAGs known to apply recommendations for this job (``None``: unknown).
    :param now: the current time (aware), for ages.
    :param shared: reads to share with the checks of other jobs in this process.
    """
    found = Examination(job_id, project_id)
    add = found.verdicts.append
    try:
        job = databricks.find_job(job_id)
    except GradientError as err:
        add(health.connection_verdict("Databricks", databricks.databricks_conn_id, str(err)))
        found.stopped = f"Databricks connection failed: {err}"
        return found
    add(health.connection_verdict("Databricks", databricks.databricks_conn_id, None))
    if job is None:
        add(
            Verdict(
                "job",
                "fail",
                f"Databricks job {job_id}",
                "does not exist in the workspace",
                f"Check the job id, and that connection {databricks.databricks_conn_id!r} "
                "points at its workspace.",
            )
        )
        found.stopped = f"Databricks job {job_id} does not exist"
        return found
    settings = job["settings"]

    try:
        project, project_check = _project(gradient, job_id, project_id, shared)
    except GradientError as err:
        add(health.connection_verdict("Gradient", gradient.gradient_conn_id, str(err)))
        found.stopped = f"Gradient connection failed: {err}"
        return found
    add(health.connection_verdict("Gradient", gradient.gradient_conn_id, None))
    add(project_check)
    if project is None or project_check.level == "fail":
        add(health.owner_verdict(job))
        return found
    project_id = found.project_id = str(project["id"])
    tracked: Mapping[str, Any] = project

    def guarded(check: str, what: str, judge: Callable[[], Verdict]) -> None:
        try:
            add(judge())
        except GradientError as err:
            add(Verdict(check, "fail", what, f"could not be read: {err}", "Retry; check access."))

    cluster_check, location = health.cluster_verdict(settings, job_id, tracked)
    add(cluster_check)
    if location is not None:
        guarded(
            "template",
            f"Gradient project {project_id}",
            lambda: health.template_verdict(location, gradient.get_cluster_template(project_id)),
        )

    def webhook() -> Verdict:
        workspace_id = str(tracked.get("workspace_id") or "")

        def read_workspace() -> dict[str, Any] | None:
            return _missing_ok(lambda: gradient.get_workspace(workspace_id))

        workspace = (
            shared.get(("workspace", workspace_id), read_workspace) if shared else read_workspace()
        )
        webhook_id = str((workspace or {}).get("webhook_id") or "")

        def read_destination() -> dict[str, Any] | None:
            return databricks.get_destination(webhook_id) if webhook_id else None

        destination = (
            shared.get(("destination", webhook_id), read_destination)
            if shared
            else read_destination()
        )
        return health.webhook_verdict(
            settings, job_id, workspace, destination, workspace_id=workspace_id
        )

    guarded("webhook", f"Databricks job {job_id}", webhook)
    guarded(
        "runs",
        f"Gradient project {project_id}",
        lambda: health.runs_verdict(
            job_id,
            project_id,
            databricks.list_job_runs(job_id, limit=runs),
            gradient.list_submissions(project_id, limit=max(2 * runs, 25)),
            now=now,
        ),
    )
    if location is not None:
        guarded(
            "recommendation",
            f"Gradient project {project_id}",
            lambda: health.recommendation_verdict(
                location,
                project_id,
                gradient.list_recommendations(project_id, per_page=RECOMMENDATIONS_READ),
                now=now,
            ),
        )
    add(health.auto_apply_verdict(tracked, applying_dags))
    add(health.owner_verdict(job))
    return found
