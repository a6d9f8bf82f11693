"""Which Gradient project tunes a Databricks job, when the user named none: the one rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_gradient.core.errors import ProjectLookupError

__all__ = ["project_id_for_job"]

#: How many of the projects found a message lists before "and N more".
_LISTED = 5


def project_id_for_job(projects: Sequence[Mapping[str, Any]], job_id: int | str) -> str:
    """The id of the one project in ``projects`` (those tracking ``job_id``).

    :param projects: the projects whose ``job_id`` is the job's (what
        ``GradientHook.find_projects_for_job`` returns).
    :param job_id: the Databricks job, for the message.
    :raises ProjectLookupError: none or several projects, or one without an id: the message
        lists what was found and says to pass ``project_id=``.
    """
    if len(projects) == 1 and isinstance(projects[0].get("id"), str) and projects[0]["id"]:
        return str(projects[0]["id"])
    if not projects:
        raise ProjectLookupError(
            f"No Gradient project tracks Databricks job {job_id} (no project has job_id "
            f"{str(job_id)!r}). Create a Gradient project for the job, or pass project_id= "
            "if the project names the job differently."
        )
    shown = [_describe(project) for project in projects[:_LISTED]]
    more = f" and {len(projects) - _LISTED} more" if len(projects) > _LISTED else ""
    if len(projects) == 1:
        raise ProjectLookupError(
            f"The Gradient project tracking Databricks job {job_id} has no id ({shown[0]}). "
            "Pass project_id= explicitly."
        )
    raise ProjectLookupError(
        f"{len(projects)} Gradient projects track Databricks job {job_id}: "
        f"{'; '.join(shown)}{more}. Pass project_id= to say which one this task uses (each "
        "project tunes one cluster of the job: see its cluster_path)."
    )


def _describe(project: Mapping[str, Any]) -> str:
    """``<id> (name 'x', cluster_path 'y')`` for messages."""
    facts = [f"{key} {project[key]!r}" for key in ("name", "cluster_path") if project.get(key)]
    ident = project.get("id") or "(no id)"
    return f"{ident} ({', '.join(facts)})" if facts else str(ident)
