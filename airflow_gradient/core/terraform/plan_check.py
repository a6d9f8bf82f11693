"""Whether a Terraform plan reverts values Gradient manages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_gradient.core.errors import TerraformInputError
from airflow_gradient.core.terraform.documents import (
    ClusterRef,
    clusters_of,
    document_kind,
    json_items,
)
from airflow_gradient.core.terraform.managed import (
    CLUSTER_RESOURCE_TYPES,
    MANAGED_ATTRIBUTES,
    AttrPath,
    MapKey,
    render_path,
)

# --- The plan check -----------------------------------------------------------------------

_MISSING: Any = object()


def _value_at(node: Any, path: AttrPath) -> Any:
    """The value at ``path`` in JSON values, or ``_MISSING``."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
        else:
            key = step.key if isinstance(step, MapKey) else step
            if not isinstance(node, Mapping) or key not in node:
                return _MISSING
            node = node[key]
    return node


def _is_unknown(after_unknown: Any, path: AttrPath) -> bool:
    node = after_unknown
    for step in path:
        if node is True:
            return True
        node = _value_at(node, (step,))
    return node is True


@dataclass(frozen=True)
class RevertedPath:
    """A Gradient-managed path the next ``terraform apply`` would change.

    ``current`` is the value now (what Gradient set), ``planned`` what the apply writes
    (``None`` when absent, ``"(known after apply)"`` when unknown). ``drift`` is the matching
    ``resource_drift`` change ``(before, after)`` when there is one.
    """

    address: str
    cluster: str
    path: str
    current: Any
    planned: Any
    drift: tuple[Any, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``check --format json`` element)."""
        return {
            "address": self.address,
            "cluster": self.cluster,
            "path": self.path,
            "current": self.current,
            "planned": self.planned,
            "drift": None
            if self.drift is None
            else {"before": self.drift[0], "after": self.drift[1]},
        }


def _reverting(actions: Any) -> bool:
    """``update``, or a replacement: both write the configuration's values over the cluster."""
    return isinstance(actions, list) and (
        "update" in actions or ("delete" in actions and "create" in actions)
    )


def clusters_by_label(resource_type: str, values: Any) -> dict[str, ClusterRef]:
    return {c.label: c for c in clusters_of(resource_type, values)}


def _drift_changes(plan: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    drift: dict[str, Mapping[str, Any]] = {}
    for entry in json_items(plan.get("resource_drift")):
        if isinstance(entry, Mapping) and isinstance(entry.get("change"), Mapping):
            drift[str(entry.get("address"))] = entry["change"]
    return drift


def _plain(value: Any) -> Any:
    return None if value is _MISSING else value


def reverted_paths(plan: Mapping[str, Any]) -> list[RevertedPath]:
    """Return every Gradient-managed path that the plan's ``resource_changes`` would revert.

    Only clusters tagged ``sync:project-id`` (before or after) count; clusters are matched by key,
    so reordered blocks are not mistaken for changes. Paths use the planned (configuration) index.
    :raises TerraformInputError: ``plan`` is not a plan.
    """
    if document_kind(plan) != "plan":
        raise TerraformInputError(
            "a state, not a plan; run `terraform plan -out=p && terraform show -json p`"
        )
    drift = _drift_changes(plan)
    found: list[RevertedPath] = []
    for entry in json_items(plan.get("resource_changes")):
        if not isinstance(entry, Mapping) or entry.get("type") not in CLUSTER_RESOURCE_TYPES:
            continue
        change = entry.get("change")
        if not isinstance(change, Mapping) or not _reverting(change.get("actions")):
            continue
        rtype, address = str(entry["type"]), str(entry.get("address"))
        before = clusters_by_label(rtype, change.get("before"))
        after = clusters_by_label(rtype, change.get("after"))
        drift_change = drift.get(address, {})
        drift_before = clusters_by_label(rtype, drift_change.get("before"))
        drift_after = clusters_by_label(rtype, drift_change.get("after"))
        for label, now in before.items():
            planned = after.get(label)
            if planned is None or not (now.tagged or planned.tagged):
                continue
            for attribute in MANAGED_ATTRIBUTES:
                current = _value_at(now.spec, attribute.path)
                full = planned.prefix + attribute.path
                if _is_unknown(change.get("after_unknown"), full):
                    new: Any = "(known after apply)"
                else:
                    new = _value_at(planned.spec, attribute.path)
                    if new == current:
                        continue
                drifted = None
                if label in drift_before and label in drift_after:
                    old = _value_at(drift_before[label].spec, attribute.path)
                    out = _value_at(drift_after[label].spec, attribute.path)
                    if old != out:
                        drifted = (_plain(old), _plain(out))
                found.append(
                    RevertedPath(
                        address, label, render_path(full), _plain(current), _plain(new), drifted
                    )
                )
    return found
