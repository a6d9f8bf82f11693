"""What to send to ``jobs/update`` to put a spec at a cluster, and what a job holds at a path."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_gradient.core.cluster.locate import ClusterLocation
from airflow_gradient.core.cluster.paths import (
    find_entry,
    nested_task,
    settings_entries,
    split_cluster_path,
)
from airflow_gradient.core.errors import ClusterNotFoundError

__all__ = ["cluster_spec_at", "update_settings_for"]


def update_settings_for(
    settings: Mapping[str, Any], location: ClusterLocation, new_spec: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``new_settings`` for ``jobs/update`` that put ``new_spec`` at ``location``, nothing else.

    ``jobs/update`` merges ``job_clusters`` and ``tasks`` by key and replaces a matching entry
    whole, so: a job cluster is sent as its whole entry ``{"job_cluster_key", "new_cluster"}``; a
    task-level cluster as the **entire task object** from ``settings`` with only its
    ``new_cluster`` (or its ``for_each_task.task.new_cluster``) replaced. Sending just
    ``{task_key, new_cluster}`` would wipe the task's notebook, libraries and dependencies. No
    other top-level field is ever included.

    :raises ClusterNotFoundError: the entry is not (or no longer) in ``settings``.
    """
    spec = copy.deepcopy(dict(new_spec))
    if location.kind == "job_cluster":
        entry = find_entry(
            settings_entries(settings, "job_clusters"), "job_cluster_key", location.key
        )
        if entry is None:
            raise ClusterNotFoundError(
                f"Cannot build the job update: the job has no job cluster {location.key!r} "
                f"({location.path}). Read the job again and locate the cluster anew."
            )
        new_entry = copy.deepcopy(dict(entry))
        new_entry["new_cluster"] = spec
        return {"job_clusters": [new_entry]}

    task = find_entry(settings_entries(settings, "tasks"), "task_key", location.key)
    if task is None:
        raise ClusterNotFoundError(
            f"Cannot build the job update: the job has no task {location.key!r} "
            f"({location.path}). Read the job again and locate the cluster anew."
        )
    new_task = copy.deepcopy(dict(task))
    if isinstance(new_task.get("new_cluster"), Mapping):
        new_task["new_cluster"] = spec
        return {"tasks": [new_task]}
    nested = nested_task(new_task)
    if nested is not None and isinstance(nested.get("new_cluster"), Mapping):
        new_task["for_each_task"]["task"]["new_cluster"] = spec
        return {"tasks": [new_task]}
    raise ClusterNotFoundError(
        f"Cannot build the job update: task {location.key!r} ({location.path}) has no "
        "new_cluster of its own. Read the job again and locate the cluster anew."
    )


def cluster_spec_at(settings: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    """A copy of the cluster spec at ``job_clusters/<k>`` or ``tasks/<k>``, or None if none is.

    For a ``for_each_task`` without a cluster of its own, ``tasks/<k>`` is the nested task's
    cluster. A path in neither form also gives None. Used to read the job back after an update.
    """
    split = split_cluster_path(path)
    if split is None:
        return None
    kind, key = split
    if kind == "job_cluster":
        entry = find_entry(settings_entries(settings, "job_clusters"), "job_cluster_key", key)
        holder = entry
    else:
        task = find_entry(settings_entries(settings, "tasks"), "task_key", key)
        holder = task
        if task is not None and not isinstance(task.get("new_cluster"), Mapping):
            holder = nested_task(task)
    if holder is None:
        return None
    spec = holder.get("new_cluster")
    return copy.deepcopy(dict(spec)) if isinstance(spec, Mapping) else None
