"""Which cluster of a Databricks job a Gradient project tunes: THE rule, used by apply,
rollback and the Terraform helpers alike."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_gradient.core.cluster.paths import (
    JOB_CLUSTERS_PREFIX,
    TASKS_PREFIX,
    ClusterKind,
    cluster_path,
    nested_task,
    settings_entries,
    split_cluster_path,
)
from airflow_gradient.core.errors import (
    AmbiguousClusterError,
    ClusterNotFoundError,
    UnsupportedClusterError,
)

__all__ = ["ClusterLocation", "locate_cluster"]

PROJECT_ID_TAG = "sync:project-id"
"""Custom tag that ties a cluster to the Gradient project tuning it: with several clusters in a
job, the one tagged with the project is the one it tunes."""

ComputeKind = Literal["new_cluster", "job_cluster", "existing_cluster", "serverless"]


@dataclass(frozen=True)
class ClusterLocation:
    """The cluster of a job that a Gradient project tunes, and why this one was chosen.

    For a ``for_each_task`` whose nested task has its own cluster, ``kind`` is ``"task"`` and
    ``key`` is the *outer* task's key: that is the entry ``jobs/update`` replaces.
    """

    kind: ClusterKind
    key: str
    spec: dict[str, Any]
    reason: str

    @property
    def path(self) -> str:
        """Gradient's ``cluster_path`` form: ``job_clusters/<key>`` or ``tasks/<key>``."""
        return cluster_path(self.kind, self.key)


@dataclass(frozen=True)
class _Cluster:
    """A cluster the job defines (a job cluster or a task's own ``new_cluster``)."""

    kind: ClusterKind
    key: str
    spec: Mapping[str, Any]
    names: tuple[str, ...]  # keys that name it: its own key, plus a nested for-each task key

    @property
    def path(self) -> str:
        return cluster_path(self.kind, self.key)


@dataclass(frozen=True)
class _TaskCompute:
    """What one top-level task runs on (for a ``for_each_task``: what its nested task runs on)."""

    task_key: str
    nested_key: str | None
    compute: ComputeKind
    detail: str  # job_cluster_key, existing_cluster_id or environment_key ("" if none)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.task_key,) if self.nested_key is None else (self.task_key, self.nested_key)

    def describe(self) -> str:
        if self.compute == "existing_cluster":
            return f"task {self.task_key!r} runs on the all-purpose cluster {self.detail!r}"
        if self.compute == "serverless":
            how = f"environment_key {self.detail!r}" if self.detail else "no cluster field"
            return f"task {self.task_key!r} runs on serverless compute ({how})"
        if self.compute == "job_cluster":
            return f"task {self.task_key!r} runs on the job cluster {self.detail!r}"
        return f"task {self.task_key!r} has its own cluster"


@dataclass(frozen=True)
class _Inventory:
    clusters: list[_Cluster]
    tasks: list[_TaskCompute]

    def listing(self) -> str:
        """What the job has, for "not found" messages."""
        if not self.clusters:
            return "the job defines no job cluster and no task cluster"
        return "the job's clusters are " + ", ".join(c.path for c in self.clusters)


def _own_compute(task: Mapping[str, Any]) -> tuple[ComputeKind, str] | None:
    """The compute a task declares itself, or None when it declares none."""
    if isinstance(task.get("new_cluster"), Mapping):
        return "new_cluster", ""
    if task.get("job_cluster_key"):
        return "job_cluster", str(task["job_cluster_key"])
    if task.get("existing_cluster_id"):
        return "existing_cluster", str(task["existing_cluster_id"])
    if task.get("environment_key"):
        return "serverless", str(task["environment_key"])
    return None


def _inventory(settings: Mapping[str, Any]) -> _Inventory:
    clusters: list[_Cluster] = []
    for entry in settings_entries(settings, "job_clusters"):
        key, spec = entry.get("job_cluster_key"), entry.get("new_cluster")
        if isinstance(key, str) and key and isinstance(spec, Mapping):
            clusters.append(_Cluster("job_cluster", key, spec, (key,)))

    tasks: list[_TaskCompute] = []
    for task in settings_entries(settings, "tasks"):
        task_key = task.get("task_key")
        if not isinstance(task_key, str) or not task_key:
            continue
        nested = nested_task(task)
        own = _own_compute(task)
        holder: Mapping[str, Any] = task
        nested_key: str | None = None
        if own is None and nested is not None:
            raw_nested_key = nested.get("task_key")
            nested_key = raw_nested_key if isinstance(raw_nested_key, str) else None
            own = _own_compute(nested)
            holder = nested
        compute, detail = own if own is not None else ("serverless", "")
        info = _TaskCompute(task_key, nested_key, compute, detail)
        tasks.append(info)
        if compute == "new_cluster":
            clusters.append(_Cluster("task", task_key, holder["new_cluster"], info.names))
    return _Inventory(clusters, tasks)


def _location(cluster: _Cluster, reason: str) -> ClusterLocation:
    return ClusterLocation(cluster.kind, cluster.key, copy.deepcopy(dict(cluster.spec)), reason)


def _task_without_cluster_error(
    task: _TaskCompute, *, context: str, asked: str, inventory: _Inventory
) -> Exception:
    """The error for a name that points at a task with no cluster of its own."""
    if task.compute == "existing_cluster":
        return UnsupportedClusterError(
            f"{context}: {asked} points at task {task.task_key!r}, which runs on the all-purpose "
            f"cluster {task.detail!r}. Gradient tunes job clusters; move the task to a job "
            f"cluster (job_clusters or new_cluster). {inventory.listing()}."
        )
    if task.compute == "serverless":
        return UnsupportedClusterError(
            f"{context}: {asked} points at task {task.task_key!r}, which has no cluster of its "
            "own (serverless compute, or a task that needs none): serverless compute has no "
            f"cluster to tune. {inventory.listing()}."
        )
    return ClusterNotFoundError(
        f"{context}: {asked} points at task {task.task_key!r}, which runs on the job cluster "
        f"{task.detail!r} and has no cluster of its own. Name the job cluster instead "
        f"(cluster_key={JOB_CLUSTERS_PREFIX + task.detail!r}); note that it is shared by every "
        "task that uses it."
    )


def _resolve_name(
    name: str, *, inventory: _Inventory, context: str, asked: str, reason: str, fix: str
) -> ClusterLocation:
    """Resolve a ``cluster_key`` / ``cluster_path`` value (path form or bare name)."""
    split = split_cluster_path(name)
    kind: ClusterKind | None = split[0] if split else None
    key = split[1] if split else name

    job_matches = [c for c in inventory.clusters if c.kind == "job_cluster" and c.key == key]
    task_matches = [c for c in inventory.clusters if c.kind == "task" and key in c.names]
    if kind == "job_cluster":
        task_matches = []
    elif kind == "task":
        job_matches = []

    if job_matches and task_matches:
        raise AmbiguousClusterError(
            f"{context}: {asked} matches both the job cluster {key!r} and the cluster of task "
            f"{task_matches[0].key!r}. Use the path form: cluster_key="
            f"{JOB_CLUSTERS_PREFIX + key!r} or cluster_key={TASKS_PREFIX + task_matches[0].key!r}."
        )
    if job_matches or task_matches:
        return _location((job_matches or task_matches)[0], reason)

    if kind != "job_cluster":
        for task in inventory.tasks:
            if key in task.names:
                raise _task_without_cluster_error(
                    task, context=context, asked=asked, inventory=inventory
                )
    raise ClusterNotFoundError(
        f"{context}: {asked} is not a cluster of the job; {inventory.listing()}. {fix}"
    )


def locate_cluster(
    settings: Mapping[str, Any],
    *,
    job_id: int | str,
    project_id: str | None = None,
    cluster_path: str | None = None,
    cluster_key: str | None = None,
) -> ClusterLocation:
    """Find the cluster of a job that a Gradient project tunes.

    Order: an explicit ``cluster_key`` (a job cluster key, the task key of a task with its own
    ``new_cluster``, or the path forms ``job_clusters/<k>`` / ``tasks/<k>``); else the one cluster
    tagged ``custom_tags["sync:project-id"] == project_id``; else the project's ``cluster_path``;
    else the job's only cluster (job-level or task-level, ``for_each_task`` included). Empty
    strings count as "not given".

    :param settings: the ``settings`` object of ``jobs/get``, all pages merged.
    :param job_id: the Databricks job id (for messages).
    :param project_id: the Gradient project id (None: only ``cluster_key`` can choose).
    :param cluster_path: the project's ``cluster_path`` as Gradient reports it.
    :param cluster_key: the operator's explicit choice.
    :raises ClusterNotFoundError: an explicit key or ``cluster_path`` names no cluster of the job.
    :raises AmbiguousClusterError: several clusters qualify and nothing says which.
    :raises UnsupportedClusterError: the target runs on an all-purpose cluster or serverless.
    """
    inventory = _inventory(settings)
    context = f"Databricks job {job_id}" + (
        f" (Gradient project {project_id})" if project_id else ""
    )

    if cluster_key:
        return _resolve_name(
            cluster_key,
            inventory=inventory,
            context=context,
            asked=f"cluster_key={cluster_key!r}",
            reason="cluster_key argument",
            fix="Pass one of these as cluster_key=.",
        )

    tagged = [
        c
        for c in inventory.clusters
        if project_id
        and isinstance(c.spec.get("custom_tags"), Mapping)
        and c.spec["custom_tags"].get(PROJECT_ID_TAG) == project_id
    ]
    if len(tagged) > 1:
        raise AmbiguousClusterError(
            f"{context}: clusters {', '.join(c.path for c in tagged)} all carry the tag "
            f"{PROJECT_ID_TAG}={project_id}. Remove the tag from all but one, or pass "
            "cluster_key= to choose."
        )
    if tagged:
        return _location(tagged[0], f"tagged {PROJECT_ID_TAG}")

    if cluster_path:
        if split_cluster_path(cluster_path) is None:
            raise ClusterNotFoundError(
                f"{context}: the project's cluster_path {cluster_path!r} is not of the form "
                f"'job_clusters/<job_cluster_key>' or 'tasks/<task_key>'. Fix the project's "
                "cluster_path in Gradient, or pass cluster_key=."
            )
        return _resolve_name(
            cluster_path,
            inventory=inventory,
            context=context,
            asked=f"the project's cluster_path {cluster_path!r}",
            reason="project cluster_path",
            fix="Fix the project's cluster_path in Gradient, or pass cluster_key=.",
        )

    if len(inventory.clusters) == 1:
        return _location(inventory.clusters[0], "the job's only cluster")
    if len(inventory.clusters) > 1:
        raise AmbiguousClusterError(
            f"{context}: the job has {len(inventory.clusters)} clusters "
            f"({', '.join(c.path for c in inventory.clusters)}) and nothing says which one the "
            "project tunes. Pass cluster_key= (e.g. "
            f"cluster_key={inventory.clusters[0].path!r}), set the project's cluster_path in "
            f'Gradient, or tag the cluster with custom_tags["{PROJECT_ID_TAG}"] = '
            f"{project_id!r}."
        )
    if inventory.tasks:
        reasons = "; ".join(task.describe() for task in inventory.tasks)
        raise UnsupportedClusterError(
            f"{context}: the job has no cluster Gradient can tune: {reasons}. Gradient tunes job "
            "clusters: move the task to a job cluster (all-purpose clusters are not tuned, and "
            "serverless compute has no cluster to tune)."
        )
    raise ClusterNotFoundError(
        f"{context}: the job has no tasks and no clusters. Check the job id."
    )
