"""What ``jobs/update`` does to a job's settings: merge ``tasks`` and ``job_clusters`` by key."""

from __future__ import annotations

import copy
from typing import Any

from airflow_gradient.sandbox.errors import ValidationError


def merge_settings(
    current: dict[str, Any],
    new_settings: dict[str, Any] | None,
    fields_to_remove: list[str] | None = None,
) -> dict[str, Any]:
    """Return the job settings after a ``jobs/update`` (without validating them).

    ``fields_to_remove`` is applied first (top-level names, ``tasks/<task_key>``,
    ``job_clusters/<job_cluster_key>``), then ``new_settings``: ``tasks`` and
    ``job_clusters`` entries are merged by key, everything else is replaced. Removing an
    entry that is not there is not an error, so a retried update stays harmless.
    """
    merged = copy.deepcopy(current)
    keyed = {"tasks": "task_key", "job_clusters": "job_cluster_key"}
    for name in fields_to_remove or []:
        if "/" in name:
            array, _, key = name.partition("/")
            if array not in keyed or not key:
                raise ValidationError(
                    f"Invalid fields_to_remove entry {name!r}: nested fields can be removed "
                    "only as tasks/<task_key> or job_clusters/<job_cluster_key>"
                )
            entries = merged.get(array) or []
            merged[array] = [e for e in entries if e.get(keyed[array]) != key]
        else:
            merged.pop(name, None)
    for name, value in (new_settings or {}).items():
        if name in keyed and isinstance(value, list):
            key_name = keyed[name]
            entries = list(merged.get(name) or [])
            index = {e.get(key_name): i for i, e in enumerate(entries)}
            for entry in value:
                position = index.get(entry.get(key_name))
                if position is None:
                    index[entry.get(key_name)] = len(entries)
                    entries.append(copy.deepcopy(entry))
                else:
                    entries[position] = copy.deepcopy(entry)
            merged[name] = entries
        else:
            merged[name] = copy.deepcopy(value)
    for name in keyed:
        if name in merged and not merged[name]:
            del merged[name]
    return merged
