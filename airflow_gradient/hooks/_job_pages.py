"""Joining the pages of ``jobs/get`` into one whole job, and checking that it is whole.

``jobs/get`` pages ``tasks``, ``job_clusters``, ``parameters`` and ``environments`` at 100
items a page. Pure: the hook hands in a function that fetches one page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_gradient.exceptions import DatabricksJobError

#: Arrays of ``settings`` that ``jobs/get`` pages (100 items a page).
PAGED_ARRAYS = ("tasks", "job_clusters", "parameters", "environments")
#: Keyed arrays: Databricks keeps these keys unique within a job.
KEYED_ARRAYS = (("tasks", "task_key"), ("job_clusters", "job_cluster_key"))
#: Guard against a server that never stops handing out page tokens.
MAX_JOB_PAGES = 100


def read_paged_job(fetch: Callable[[str | None], Mapping[str, Any]], job_id: int) -> dict[str, Any]:
    """Return a whole ``jobs/get`` reply, following ``next_page_token`` and joining the arrays.

    The joined job must be whole, as Databricks guarantees: ``tasks`` and ``job_clusters``
    with unique keys, and every ``job_cluster_key`` a task names defined in ``job_clusters``.
    A repeated key or a dangling reference means pages overlap or are missing, or the reply is
    not from Databricks; a cluster chosen from such a job could be the wrong one.

    :param fetch: calls ``jobs/get`` with the given page token (``None`` for the first page).
    :raises DatabricksJobError: endless paging, a repeated key, or a missing job cluster.
    """
    first = dict(fetch(None))
    settings = dict(first.get("settings") or {})
    token = first.get("next_page_token")
    pages = 1
    while token:
        if pages >= MAX_JOB_PAGES:
            raise DatabricksJobError(
                f"Databricks job {job_id}: jobs/get returned more than {MAX_JOB_PAGES} pages; "
                "stopped reading. Is the workspace URL a Databricks workspace?"
            )
        page = fetch(str(token))
        page_settings = page.get("settings") or {}
        for key in PAGED_ARRAYS:
            if page_settings.get(key):
                settings[key] = list(settings.get(key) or []) + list(page_settings[key])
        token = page.get("next_page_token")
        pages += 1
    _check_unique_keys(settings, job_id, pages)
    _check_job_cluster_references(settings, job_id, pages)
    first.pop("next_page_token", None)
    first["settings"] = settings
    return first


def _check_unique_keys(settings: Mapping[str, Any], job_id: int, pages: int) -> None:
    for array, key_name in KEYED_ARRAYS:
        entries = settings.get(array)
        if not isinstance(entries, list):
            continue
        seen: set[str] = set()
        for entry in entries:
            key = entry.get(key_name) if isinstance(entry, Mapping) else None
            if not isinstance(key, str):
                continue
            if key in seen:
                raise DatabricksJobError(
                    f"Databricks job {job_id}: jobs/get returned {array} with the "
                    f"{key_name} {key!r} twice (over {pages} page{'s' if pages != 1 else ''}). "
                    "Databricks keeps these keys unique, so the pages overlap or the reply is "
                    "not from Databricks; the job was not changed. Check the Databricks "
                    "connection and the job."
                )
            seen.add(key)


def _check_job_cluster_references(settings: Mapping[str, Any], job_id: int, pages: int) -> None:
    clusters = settings.get("job_clusters")
    defined = {
        entry.get("job_cluster_key")
        for entry in (clusters if isinstance(clusters, list) else [])
        if isinstance(entry, Mapping)
    }
    tasks = settings.get("tasks")
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, Mapping):
            continue
        for_each = task.get("for_each_task")
        nested = for_each.get("task") if isinstance(for_each, Mapping) else None
        for holder in (task, nested):
            key = holder.get("job_cluster_key") if isinstance(holder, Mapping) else None
            if key and key not in defined:
                raise DatabricksJobError(
                    f"Databricks job {job_id}: task {task.get('task_key')!r} runs on the job "
                    f"cluster {key!r}, which jobs/get (over {pages} page"
                    f"{'s' if pages != 1 else ''}) does not define. Databricks keeps these "
                    "references whole, so a page is missing or the reply is not from "
                    "Databricks; the job was not changed. Check the Databricks connection and "
                    "the job."
                )
