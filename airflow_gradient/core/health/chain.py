"""Checks of the chain Gradient learns through: connections, the project, the tuned cluster,
its cluster template (log delivery), the ``on_start`` webhook, and runs reaching Gradient."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow_gradient.core.cluster.locate import ClusterLocation, locate_cluster
from airflow_gradient.core.errors import CoreError, ProjectLookupError
from airflow_gradient.core.health.verdicts import Verdict, age
from airflow_gradient.core.json_values import json_equal
from airflow_gradient.core.project_lookup import project_id_for_job
from airflow_gradient.core.waiting import parse_timestamp

# --- connections and the project ----------------------------------------------------------


def connection_verdict(service: str, conn_id: str, error: str | None) -> Verdict:
    """Whether the connection ``conn_id`` to ``service`` authenticated (``error``: why not)."""
    what = f"{service} connection {conn_id!r}"
    if error is None:
        return Verdict("connection", "ok", what, "authenticated")
    return Verdict(
        "connection",
        "fail",
        what,
        error,
        f"Fix connection {conn_id!r} (host, credentials), or pass another connection id.",
    )


def choose_project(
    job_id: int, candidates: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any] | None, Verdict]:
    """The one project tracking ``job_id`` among ``candidates`` (projects with that job_id), by
    the operators' rule (:func:`~airflow_gradient.core.project_lookup.project_id_for_job`)."""
    try:
        project_id = project_id_for_job(candidates, job_id)
    except ProjectLookupError as err:
        return None, Verdict(
            "project",
            "fail",
            f"Databricks job {job_id}",
            str(err),
            f"Create one Gradient project for job {job_id}, or pass --project-id to choose one.",
        )
    project = next(p for p in candidates if p.get("id") == project_id)
    return project, Verdict(
        "project", "ok", f"Gradient project {project_id}", f"tracks job {job_id}"
    )


def project_verdict(job_id: int, project_id: str, project: Mapping[str, Any] | None) -> Verdict:
    """The named project exists and tracks ``job_id`` (when it names another job: both ids)."""
    what = f"Gradient project {project_id}"
    if project is None:
        return Verdict(
            "project",
            "fail",
            what,
            "does not exist",
            "Check the project id in Gradient, or leave --project-id out to find the project "
            f"tracking job {job_id}.",
        )
    tracked = project.get("job_id")
    if str(tracked) != str(job_id):
        return Verdict(
            "project",
            "fail",
            what,
            f"tracks Databricks job {tracked}, not job {job_id}",
            f"Set the project's job_id to {job_id} in Gradient, or check the ids you passed.",
        )
    return Verdict("project", "ok", what, f"tracks job {job_id}")


# --- the tuned cluster --------------------------------------------------------------------


def cluster_verdict(
    settings: Mapping[str, Any], job_id: int, project: Mapping[str, Any]
) -> tuple[Verdict, ClusterLocation | None]:
    """The project's ``cluster_path`` / tag resolves to exactly one cluster of the job."""
    project_id = str(project.get("id"))
    try:
        location = locate_cluster(
            settings,
            job_id=job_id,
            project_id=project_id,
            cluster_path=project.get("cluster_path") or None,
        )
    except CoreError as err:
        return Verdict(
            "cluster",
            "fail",
            f"Databricks job {job_id}",
            str(err),
            "Set the project's cluster_path in Gradient to one cluster of the job.",
        ), None
    return Verdict(
        "cluster", "ok", f"cluster {location.path}", f"tuned by the project ({location.reason})"
    ), location


def template_verdict(location: ClusterLocation, template: Mapping[str, Any]) -> Verdict:
    """The tuned cluster carries Gradient's cluster template: its tags and log delivery."""
    spec = location.spec
    what = f"cluster {location.path}"
    remedy = (
        "Merge GET /v1/projects/{id}/cluster/template into the cluster (its custom_tags and "
        "cluster_log_conf), in the job's source of truth (Terraform, bundle, DAG) too."
    )
    raw_tags, raw_wanted = spec.get("custom_tags"), template.get("custom_tags")
    tags: Mapping[str, Any] = raw_tags if isinstance(raw_tags, Mapping) else {}
    wanted: Mapping[str, Any] = raw_wanted if isinstance(raw_wanted, Mapping) else {}
    missing = sorted(k for k, v in wanted.items() if tags.get(k) != v)
    log_conf = spec.get("cluster_log_conf")
    if not log_conf:
        tail = f"; tags missing or different: {', '.join(missing)}" if missing else ""
        return Verdict(
            "template",
            "fail",
            what,
            f"has no cluster_log_conf: Gradient cannot collect its runs{tail}",
            remedy,
        )
    if missing:
        return Verdict(
            "template", "fail", what, f"tags missing or different: {', '.join(missing)}", remedy
        )
    wanted_log = template.get("cluster_log_conf")
    if wanted_log and not json_equal(log_conf, wanted_log):
        return Verdict(
            "template",
            "warn",
            what,
            "cluster_log_conf differs from the project's template (logs may go where Gradient "
            "does not read)",
            remedy,
        )
    return Verdict("template", "ok", what, "carries the sync:* tags and cluster_log_conf")


# --- the webhook --------------------------------------------------------------------------


def webhook_verdict(
    settings: Mapping[str, Any],
    job_id: int,
    workspace: Mapping[str, Any] | None,
    destination: Mapping[str, Any] | None,
    *,
    workspace_id: str,
) -> Verdict:
    """``webhook_notifications.on_start`` names the workspace's Gradient destination, and that
    destination exists (``destination`` is it, read from Databricks, or ``None``)."""
    what = f"Databricks job {job_id}"
    if workspace is None or not workspace.get("webhook_id"):
        return Verdict(
            "webhook",
            "fail",
            f"Gradient workspace {workspace_id}",
            "is not registered with Gradient or has no webhook_id",
            "Onboard the workspace in Gradient (it creates the notification destination).",
        )
    webhook_id = str(workspace["webhook_id"])
    notifications = settings.get("webhook_notifications")
    on_start = notifications.get("on_start") if isinstance(notifications, Mapping) else None
    ids = [str(h.get("id")) for h in on_start or [] if isinstance(h, Mapping)]
    if destination is None:
        return Verdict(
            "webhook",
            "fail",
            f"notification destination {webhook_id}",
            "Gradient's destination does not exist in the Databricks workspace",
            "Re-onboard the workspace in Gradient so it recreates the destination.",
        )
    if webhook_id not in ids:
        return Verdict(
            "webhook",
            "fail",
            what,
            f"on_start does not name Gradient's destination {webhook_id} (it names "
            f"{', '.join(ids) or 'nothing'}): Gradient never hears of its runs",
            f'Add {{"id": "{webhook_id}"}} to webhook_notifications.on_start '
            "(GradientWebhookOperator does it), and in the job's source of truth.",
        )
    return Verdict("webhook", "ok", what, f"on_start names Gradient's destination {webhook_id}")


# --- runs reaching Gradient ---------------------------------------------------------------


def runs_verdict(
    job_id: int,
    project_id: str,
    runs: Sequence[Mapping[str, Any]],
    submissions: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
) -> Verdict:
    """Of the job's last finished ``runs``, which produced a submission (by ``run_id``), and
    when Gradient last heard from the job."""
    what = f"Gradient project {project_id}"
    by_run = {str(s.get("run_id")): s for s in submissions if s.get("run_id") is not None}
    times = [parse_timestamp(s.get("created_at")) for s in submissions]
    heard = max((t for t in times if t is not None), default=None)
    last = (
        f"Gradient last heard from the job {age(heard, now)}"
        if heard
        else ("Gradient never heard from the job")
    )
    if not runs:
        return Verdict(
            "runs", "warn", what, f"job {job_id} has no finished run yet; {last}", "Run the job."
        )
    missing = [str(r.get("run_id")) for r in runs if str(r.get("run_id")) not in by_run]
    failed = [
        str(r.get("run_id"))
        for r in runs
        if str(r.get("run_id")) in by_run and by_run[str(r.get("run_id"))].get("state") == "FAILED"
    ]
    reached = len(runs) - len(missing)
    summary = f"{reached} of the last {len(runs)} finished runs reached Gradient; {last}"
    if missing:
        return Verdict(
            "runs",
            "fail" if reached == 0 else "warn",
            what,
            f"{summary}; runs without a submission: {', '.join(missing)}",
            "Check the webhook and template checks above; runs that started before a fix "
            "stay missing.",
        )
    if failed:
        return Verdict(
            "runs",
            "warn",
            what,
            f"{summary}; submissions FAILED for runs {', '.join(failed)} (no logs collected)",
            "Check the cluster's cluster_log_conf (template check) and the log bucket access.",
        )
    return Verdict("runs", "ok", what, summary)
