"""Checks of who controls the tuned cluster: the recommendation in force versus what the
cluster holds, who applies (``auto_apply_recs`` versus DAGs), who owns the job definition."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow_gradient.core.cluster.locate import ClusterLocation
from airflow_gradient.core.cluster.merge import applied_recommendation_id, reverted_fields
from airflow_gradient.core.errors import InvalidRecommendationError
from airflow_gradient.core.health.verdicts import Level, Verdict, age
from airflow_gradient.core.recommendation import parse_recommendation
from airflow_gradient.core.waiting import parse_timestamp

WORKFLOW_GROUP_NAME = re.compile(r"^(?P<dag>[\w.-]+)\.(?P<group>[\w-]+)$")
"""A job named like ``DatabricksWorkflowTaskGroup`` names its jobs: ``<dag_id>.<group_id>``."""


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
        f"(created {age(parse_timestamp(newest.created_at), now)})"
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
