"""Expected results written from the documented rules, never from the code under test.

docs/operators/apply.md (What it does, steps 4 and 5) states the rules; this module reads them
again, independently of ``airflow_gradient.core``, so a bug there (a map replaced whole instead
of merged key by key, the wrong cluster picked) turns the tests that use it red.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

TAG_PROJECT = "sync:project-id"
TAG_RECOMMENDATION = "sync:recommendation-id"
SIZING = ("num_workers", "autoscale")
LOG_KINDS = ("dbfs", "s3", "volumes")


def expected_cluster(
    spec: Mapping[str, Any], configuration: Mapping[str, Any], recommendation_id: str | None
) -> dict[str, Any]:
    """The cluster after a recommendation: sizing replaced, maps merged key by key (the
    recommendation wins), lists and scalars replaced, everything else kept, a new log
    destination kind replacing the old one, and the ``sync:recommendation-id`` tag set."""

    def merged(old: Any, new: Any) -> Any:
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            out = {key: copy.deepcopy(value) for key, value in old.items()}
            for key, value in new.items():
                out[key] = merged(old[key], value) if key in old else copy.deepcopy(value)
            return out
        return copy.deepcopy(new)

    base = {key: copy.deepcopy(value) for key, value in spec.items()}
    if any(field in configuration for field in SIZING):
        for field in SIZING:
            base.pop(field, None)
    old_log, new_log = base.get("cluster_log_conf"), configuration.get("cluster_log_conf")
    if (
        isinstance(old_log, Mapping)
        and isinstance(new_log, Mapping)
        and {k for k in old_log if k in LOG_KINDS} != {k for k in new_log if k in LOG_KINDS}
    ):
        del base["cluster_log_conf"]
    result: dict[str, Any] = merged(base, dict(configuration))
    if recommendation_id is not None:
        tags = result.get("custom_tags") if isinstance(result.get("custom_tags"), Mapping) else {}
        result["custom_tags"] = {**tags, TAG_RECOMMENDATION: recommendation_id}
    return result


def _clusters(settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``job_clusters/<key>`` and ``tasks/<key>`` (tasks with their own ``new_cluster``, also
    inside a ``for_each_task``) → the cluster spec, as the paths are documented."""
    found: dict[str, dict[str, Any]] = {}
    for entry in settings.get("job_clusters") or []:
        found[f"job_clusters/{entry['job_cluster_key']}"] = entry["new_cluster"]
    for task in settings.get("tasks") or []:
        inner = (task.get("for_each_task") or {}).get("task") or {}
        for candidate in (task, inner):
            if isinstance(candidate.get("new_cluster"), Mapping):
                found[f"tasks/{task['task_key']}"] = candidate["new_cluster"]
    return found


def target_path(settings: Mapping[str, Any], *, project_id: str, cluster_path: str | None) -> str:
    """Which cluster the project tunes: the one tagged with the project, else the project's
    ``cluster_path``, else the job's only cluster."""
    clusters = _clusters(settings)
    tagged = [
        path
        for path, spec in clusters.items()
        if (spec.get("custom_tags") or {}).get(TAG_PROJECT) == project_id
    ]
    if len(tagged) == 1:
        return tagged[0]
    if cluster_path:
        return cluster_path
    (only,) = clusters
    return only


def expected_settings(
    settings: Mapping[str, Any],
    configuration: Mapping[str, Any],
    *,
    project_id: str,
    cluster_path: str | None,
    recommendation_id: str,
) -> dict[str, Any]:
    """The whole job settings with the target cluster merged and everything else as it was."""
    path = target_path(settings, project_id=project_id, cluster_path=cluster_path)
    out = copy.deepcopy(dict(settings))
    kind, key = path.split("/", 1)
    if kind == "job_clusters":
        entries = [e for e in out["job_clusters"] if e["job_cluster_key"] == key]
        holders = [entries[0]]
    else:
        task = next(t for t in out["tasks"] if t["task_key"] == key)
        inner = (task.get("for_each_task") or {}).get("task") or {}
        holders = [t for t in (task, inner) if isinstance(t.get("new_cluster"), Mapping)]
    for holder in holders:
        holder["new_cluster"] = expected_cluster(
            holder["new_cluster"], configuration, recommendation_id
        )
    return out


_MISSING = object()


def expected_rollback(
    previous: Mapping[str, Any], applied: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The cluster after a rollback, from the documented rule (docs/operators/rollback.md):
    each field the apply changed (maps compared key by key, anything else whole) gets its value
    from before the apply back (a field the apply added is removed); every other field keeps
    what the job holds now (``current``)."""
    out: dict[str, Any] = copy.deepcopy(dict(current))

    def put_back(before: Mapping[str, Any], after: Mapping[str, Any], now: dict[str, Any]) -> None:
        for key in set(before) | set(after):
            old, new = before.get(key, _MISSING), after.get(key, _MISSING)
            if isinstance(old, Mapping) and isinstance(new, Mapping):
                if not isinstance(now.get(key), dict):
                    now[key] = {}
                put_back(old, new, now[key])
            elif old is _MISSING and new is not _MISSING:
                now.pop(key, None)
            elif old is not _MISSING and (new is _MISSING or old != new):
                now[key] = copy.deepcopy(old)

    put_back(previous, applied, out)
    return out
