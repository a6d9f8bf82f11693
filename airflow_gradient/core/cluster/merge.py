"""What applying a recommendation's configuration makes of a cluster spec."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_gradient.core.cluster.diff import diff_cluster
from airflow_gradient.core.cluster.spec import LOG_DESTINATIONS, SIZING_FIELDS

__all__ = ["applied_recommendation_id", "merge_recommendation", "reverted_fields"]

RECOMMENDATION_ID_TAG = "sync:recommendation-id"
"""Custom tag that says which Gradient recommendation is in force on a cluster: the merge
writes it, :func:`applied_recommendation_id` reads it."""


def _merge_into(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged = copy.deepcopy(dict(current))
            _merge_into(merged, value)
            target[key] = merged
        else:
            target[key] = copy.deepcopy(value)


def merge_recommendation(
    spec: Mapping[str, Any],
    configuration: Mapping[str, Any],
    *,
    recommendation_id: str | None = None,
) -> dict[str, Any]:
    """The cluster spec that results from applying a recommendation's configuration to ``spec``.

    A deep copy of ``spec`` with: ``num_workers`` and ``autoscale`` removed when the configuration
    sets either (the recommendation picks the sizing form; Databricks rejects both); nested
    objects merged key by key, the configuration winning; scalars overwritten; lists replaced
    whole (never concatenated, so re-applying does not duplicate ``init_scripts``); everything
    the configuration does not mention kept. ``cluster_log_conf`` is a one-of: when the
    configuration names a different destination kind (``dbfs``/``s3``/``volumes``) it replaces
    the old one instead of adding a second. With ``recommendation_id``, the result carries it
    as ``custom_tags["sync:recommendation-id"]`` (what says which recommendation is in force,
    even when Gradient's configuration omits the tag). Pure and idempotent.
    """
    merged = copy.deepcopy(dict(spec))
    if any(field in configuration for field in SIZING_FIELDS):
        for field in SIZING_FIELDS:
            merged.pop(field, None)
    old_log, new_log = merged.get("cluster_log_conf"), configuration.get("cluster_log_conf")
    if (
        isinstance(old_log, Mapping)
        and isinstance(new_log, Mapping)
        and set(old_log) & set(LOG_DESTINATIONS) != set(new_log) & set(LOG_DESTINATIONS)
    ):
        merged.pop("cluster_log_conf")
    _merge_into(merged, configuration)
    if recommendation_id is not None:
        tags = merged.get("custom_tags")
        merged["custom_tags"] = {**(tags if isinstance(tags, Mapping) else {})}
        merged["custom_tags"][RECOMMENDATION_ID_TAG] = recommendation_id
    return merged


def applied_recommendation_id(spec: Mapping[str, Any]) -> str | None:
    """The ``sync:recommendation-id`` tag of a cluster spec: the recommendation in force."""
    tags = spec.get("custom_tags")
    if isinstance(tags, Mapping):
        value = tags.get(RECOMMENDATION_ID_TAG)
        if isinstance(value, str) and value:
            return value
    return None


def reverted_fields(
    spec: Mapping[str, Any], configuration: Mapping[str, Any], recommendation_id: str
) -> list[dict[str, Any]]:
    """Where ``spec`` no longer holds what recommendation ``recommendation_id`` set.

    Meant for a cluster tagged with that recommendation: re-merging its configuration must
    change nothing; each field it would change (``before`` = now, ``after`` = as recommended)
    was reverted by something else (Terraform, Asset Bundles, a job reset, a manual edit).
    """
    restored = merge_recommendation(spec, configuration, recommendation_id=recommendation_id)
    return diff_cluster(spec, restored)
