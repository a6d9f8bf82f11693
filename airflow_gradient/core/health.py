"""The doctor's checks as pure verdicts: is Gradient able to learn from a Databricks job?

Each check takes data already fetched (the job, the project, the runs, ...) and returns a
:class:`Verdict` (``ok`` / ``warn`` / ``fail``, the object, what was found, what to do). No
network, no clock (``now`` is passed in), no Airflow: the CLI (``airflow-gradient doctor``) and
``GradientHealthCheckOperator`` both call these after fetching through the hooks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from airflow_gradient.core.cluster.locate import ClusterLocation, locate_cluster
from airflow_gradient.core.cluster.merge import applied_recommendation_id, reverted_fields
from airflow_gradient.core.errors import CoreError, InvalidRecommendationError
from airflow_gradient.core.json_values import json_equal
from airflow_gradient.core.recommendation import parse_recommendation
from airflow_gradient.core.waiting import parse_timestamp

Level = Literal["ok", "warn", "fail"]
LEVELS: tuple[Level, ...] = ("ok", "warn", "fail")
WORKFLOW_GROUP_NAME = re.compile(r"^(?P<dag>[\w.-]+)\.(?P<group>[\w-]+)$")


@dataclass(frozen=True)
class Verdict:
    """What one check found: its level, the object it is about, the finding and the fix."""

    check: str
    level: Level
    object: str
    message: str
    remedy: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain JSON values (for ``--json`` and XCom)."""
        return asdict(self)

    def line(self) -> str:
        """One line: ``fail  webhook  Databricks job 7: ... Fix: ...``."""
        fix = f" Fix: {self.remedy}" if self.remedy and self.level != "ok" else ""
        return f"{self.level:<4}  {self.check:<14}  {self.object}: {self.message}{fix}"


def worst(verdicts: Sequence[Verdict]) -> Level:
    """The most severe level among ``verdicts`` (``ok`` when there are none)."""
    return max((v.level for v in verdicts), key=LEVELS.index, default="ok")


def fails_at(verdicts: Sequence[Verdict], fail_on: Level) -> list[Verdict]:
    """The verdicts at ``fail_on`` or worse (``fail_on`` is ``"warn"`` or ``"fail"``)."""
    if fail_on not in ("warn", "fail"):
        raise ValueError(f"fail_on must be 'warn' or 'fail', got {fail_on!r}")
    return [v for v in verdicts if LEVELS.index(v.level) >= LEVELS.index(fail_on)]


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "at an unknown time"
    seconds = max((now - moment).total_seconds(), 0.0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


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
    """The one project tracking ``job_id`` among ``candidates`` (projects with that job_id)."""
    what = f"Databricks job {job_id}"
    if len(candidates) == 1:
        project = candidates[0]
        return project, Verdict(
            "project", "ok", f"Gradient project {project.get('id')}", f"tracks job {job_id}"
        )
    if not candidates:
        return None, Verdict(
            "project",
            "fail",
            what,
            "no Gradient project tracks this job",
            f"Create a Gradient project for job {job_id}, or pass --project-id.",
        )
    ids = ", ".join(str(p.get("id")) for p in candidates)
    return None, Verdict(
        "project",
        "fail",
        what,
        f"{len(candidates)} Gradient projects track this job ({ids})",
        "Pass --project-id to choose one; delete the projects you do not use.",
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
        f"Gradient last heard from the job {_age(heard, now)}"
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


# --- the recommendation in force ----------------------------------------------------------


def recommendation_verdict(
    location: ClusterLocation,
    project_id: str,
    recommendations: Sequence[Any],
    *,
    now: datetime,
) -> Verdict:
    """The recommendation in force (the ``sync:recommendation-id`` tag) versus what the
    cluster holds, and the newest usable recommendation and its age.

    :param recommendations: the project's recommendations as Gradient lists them, newest first.
    """
    what = f"cluster {location.path}"
    parsed = []
    for item in recommendations:
        try:
            parsed.append(parse_recommendation(item, project_id=project_id))
        except InvalidRecommendationError:
            continue
    usable = [r for r in parsed if r.is_applicable]
    newest = usable[0] if usable else None
    newest_text = (
        f"newest usable recommendation {newest.id} "
        f"(created {_age(parse_timestamp(newest.created_at), now)})"
        if newest
        else "no usable recommendation yet"
    )
    in_force = applied_recommendation_id(location.spec)
    if in_force is None:
        level: Level = "warn" if newest else "ok"
        return Verdict(
            "recommendation",
            level,
            what,
            f"no recommendation in force (no sync:recommendation-id tag); {newest_text}",
            "Apply it (GradientApplyRecommendationOperator) or turn on auto_apply_recs."
            if newest
            else "",
        )
    tagged = next((r for r in parsed if r.id == in_force), None)
    if tagged is None:
        return Verdict(
            "recommendation",
            "warn",
            what,
            f"tagged with recommendation {in_force}, which is not among the project's "
            f"recommendations read; {newest_text}",
            "Check the tag; apply a current recommendation.",
        )
    lost = reverted_fields(location.spec, tagged.configuration, tagged.id)
    if lost:
        fields = ", ".join(str(c["path"]) for c in lost)
        return Verdict(
            "recommendation",
            "warn",
            what,
            f"tagged with recommendation {in_force} but no longer holds its values (reverted "
            f"or overridden: {fields}); {newest_text}",
            "Find what rewrites the job (Terraform, bundle deploy, a DAG resetting it, a manual "
            "edit) and keep Gradient's fields out of it; then apply again.",
        )
    if newest is not None and newest.id != in_force:
        return Verdict(
            "recommendation",
            "warn",
            what,
            f"recommendation {in_force} in force; a newer one is not applied: {newest_text}",
            "Apply it, or check why the applying DAG skips it.",
        )
    return Verdict(
        "recommendation", "ok", what, f"recommendation {in_force} in force; {newest_text}"
    )


def auto_apply_verdict(project: Mapping[str, Any], applying_dags: Sequence[str] | None) -> Verdict:
    """Who applies recommendations: Gradient (``auto_apply_recs``), Airflow DAGs, both, nobody.

    :param applying_dags: DAGs known to apply for this job (``None``: not known).
    """
    what = f"Gradient project {project.get('id')}"
    auto = bool(project.get("auto_apply_recs"))
    dags = list(applying_dags or [])
    if auto and dags:
        return Verdict(
            "auto_apply",
            "fail",
            what,
            f"auto_apply_recs is on and DAGs apply too ({', '.join(dags)}): they race",
            "Turn auto_apply_recs off (let the DAG apply), or stop applying from the DAGs.",
        )
    if auto:
        return Verdict("auto_apply", "ok", what, "Gradient applies (auto_apply_recs is on)")
    if dags:
        return Verdict(
            "auto_apply", "ok", what, f"DAGs apply ({', '.join(dags)}); auto_apply_recs is off"
        )
    if applying_dags is None:
        return Verdict(
            "auto_apply",
            "ok",
            what,
            "auto_apply_recs is off: a DAG must apply (which DAGs do was not given)",
        )
    return Verdict(
        "auto_apply",
        "warn",
        what,
        "auto_apply_recs is off and no DAG applies: recommendations are never applied",
        "Add GradientApplyRecommendationOperator before the job runs, or turn on auto_apply_recs.",
    )


def owner_verdict(job: Mapping[str, Any]) -> Verdict:
    """Who owns the job definition, when that can be told (best effort): a bundle (its
    ``deployment`` fields), Databricks itself, or a ``DatabricksWorkflowTaskGroup`` (the job
    name ``<dag_id>.<group_id>``)."""
    raw_settings = job.get("settings")
    settings: Mapping[str, Any] = raw_settings if isinstance(raw_settings, Mapping) else {}
    job_id = job.get("job_id")
    what = f"Databricks job {job_id}"
    raw_deployment = settings.get("deployment")
    deployment: Mapping[str, Any] = raw_deployment if isinstance(raw_deployment, Mapping) else {}
    kind = deployment.get("kind")
    if kind == "SYSTEM_MANAGED":
        return Verdict(
            "owner",
            "fail",
            what,
            "managed by Databricks (deployment.kind SYSTEM_MANAGED): read-only",
            "Do not point a Gradient project at a system-managed job.",
        )
    if kind == "BUNDLE":
        where = deployment.get("metadata_file_path") or "an unknown path"
        return Verdict(
            "owner",
            "warn",
            what,
            f"deployed by a Databricks Asset Bundle ({where}): each deploy resets the job",
            "Put the cluster template, the on_start webhook and applied values in the bundle "
            "configuration (or apply after each deploy).",
        )
    name = str(settings.get("name") or "")
    match = WORKFLOW_GROUP_NAME.match(name)
    if match:
        return Verdict(
            "owner",
            "warn",
            what,
            f"named {name!r}: probably DatabricksWorkflowTaskGroup {match['group']!r} of DAG "
            f"{match['dag']!r}, which resets the job on every DAG run",
            "Pass the cluster template and the on_start webhook through the group's job_clusters "
            "/ extra_job_params.",
        )
    return Verdict(
        "owner",
        "ok",
        what,
        "no deployment metadata: edited through the API or UI (Terraform cannot be told)",
    )


def summary(verdicts: Sequence[Verdict], *, job_id: int, project_id: str | None) -> dict[str, Any]:
    """The structured result (``--json``, XCom): overall level and every verdict."""
    return {
        "job_id": job_id,
        "project_id": project_id,
        "status": worst(verdicts),
        "checks": [v.to_dict() for v in verdicts],
    }
