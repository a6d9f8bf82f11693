"""Reading a ``DatabricksWorkflowTaskGroup`` from the task graph: which launch task consumes a
task's output, and what each member task runs on.

Tasks are recognised by class name (as in :mod:`airflow_gradient.policies`), so nothing here
imports the databricks provider. The member tasks are read unrendered, as the DAG file wrote them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import XComArg

from airflow_gradient.policies import WORKFLOW_LAUNCH, is_instance_of

if TYPE_CHECKING:
    from airflow_gradient.core.workflow import GroupTask

__all__ = ["consuming_launches", "group_tasks"]

NOTEBOOK = "DatabricksNotebookOperator"


def consuming_launches(task: Any) -> list[Any]:
    """The workflow launch tasks right below ``task`` whose ``job_clusters`` hold its output."""
    return [
        launch
        for launch in task.get_direct_relatives(upstream=False)
        if is_instance_of(launch, WORKFLOW_LAUNCH)
        and task.task_id in set(_references(getattr(launch, "job_clusters", None)))
    ]


def group_tasks(launch: Any) -> list[GroupTask]:
    """What each task of the launch's group puts in the job, as far as compute goes."""
    return [_group_task(t) for t in (getattr(launch, "tasks_to_convert", None) or {}).values()]


def _references(value: Any) -> Iterable[str]:
    """Task ids of every ``XComArg`` inside ``value`` (nested lists and dicts too)."""
    if isinstance(value, XComArg):
        for operator, _key in value.iter_references():
            yield str(operator.task_id)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _references(item)


def _group_task(task: Any) -> GroupTask:
    """What a member task of the group runs on, read from its (unrendered) arguments."""
    from airflow_gradient.core.workflow import GroupTask

    config = getattr(task, "task_config", None) or {}
    key = getattr(task, "databricks_task_key", None) or task.task_id
    job_cluster_key = getattr(task, "job_cluster_key", None) or config.get("job_cluster_key")
    existing = getattr(task, "existing_cluster_id", None) or config.get("existing_cluster_id")
    new_cluster = getattr(task, "new_cluster", None) or config.get("new_cluster")
    if job_cluster_key or existing:  # what reaches the job; a new_cluster= beside it is dropped
        new_cluster = None
    return GroupTask(
        task_key=str(key),
        job_cluster_key=job_cluster_key,
        existing_cluster_id=existing,
        new_cluster=new_cluster if isinstance(new_cluster, Mapping) else None,
        dropped=is_instance_of(task, NOTEBOOK) and bool(getattr(task, "new_cluster", None)),
    )
