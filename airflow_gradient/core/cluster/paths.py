"""One path notation for fields of a cluster spec, and where clusters sit in a job's settings.

A field whose name is an identifier (``[A-Za-z_][A-Za-z0-9_]*``) is joined with a dot
(``aws_attributes.availability``); any other map key is written in brackets as a JSON string
(``custom_tags["sync:project-id"]``, ``spark_conf["spark.databricks.isv.product"]``), so keys
that contain dots stay unambiguous; a list index is ``[0]``. This matches the way Terraform
addresses map entries.

A cluster of a job is named like Gradient's ``cluster_path``: ``job_clusters/<job_cluster_key>``
or ``tasks/<task_key>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

__all__ = [
    "ClusterKind",
    "PathKey",
    "cluster_path",
    "find_entry",
    "format_path",
    "nested_task",
    "settings_entries",
    "split_cluster_path",
]

JOB_CLUSTERS_PREFIX = "job_clusters/"
TASKS_PREFIX = "tasks/"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

PathKey = str | int
ClusterKind = Literal["job_cluster", "task"]


def format_path(keys: Sequence[PathKey]) -> str:
    """Render a sequence of dict keys / list indexes in the module's path notation.

    >>> format_path(["custom_tags", "sync:project-id"])
    'custom_tags["sync:project-id"]'
    """
    parts: list[str] = []
    for position, key in enumerate(keys):
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENTIFIER.fullmatch(key):
            parts.append(key if position == 0 else f".{key}")
        else:
            parts.append(f"[{json.dumps(key, ensure_ascii=False)}]")
    return "".join(parts)


def cluster_path(kind: ClusterKind, key: str) -> str:
    """Gradient's ``cluster_path`` form: ``job_clusters/<key>`` or ``tasks/<key>``."""
    prefix = JOB_CLUSTERS_PREFIX if kind == "job_cluster" else TASKS_PREFIX
    return f"{prefix}{key}"


def split_cluster_path(value: str) -> tuple[ClusterKind, str] | None:
    """``job_clusters/<k>`` / ``tasks/<k>`` → (kind, key); anything else → None."""
    forms: tuple[tuple[str, ClusterKind], ...] = (
        (JOB_CLUSTERS_PREFIX, "job_cluster"),
        (TASKS_PREFIX, "task"),
    )
    for prefix, kind in forms:
        if value.startswith(prefix) and len(value) > len(prefix):
            return kind, value[len(prefix) :]
    return None


def settings_entries(settings: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    """The objects of a list field of job settings (``job_clusters``, ``tasks``); [] if none."""
    value = settings.get(field)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def find_entry(entries: list[Mapping[str, Any]], field: str, key: str) -> Mapping[str, Any] | None:
    """The first entry whose ``field`` equals ``key``, or None."""
    for entry in entries:
        if entry.get(field) == key:
            return entry
    return None


def nested_task(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The nested task of a ``for_each_task``, or None."""
    for_each = task.get("for_each_task")
    if isinstance(for_each, Mapping) and isinstance(for_each.get("task"), Mapping):
        nested: Mapping[str, Any] = for_each["task"]
        return nested
    return None
