"""The ``lifecycle { ignore_changes }`` entries for the attributes Gradient manages."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_gradient.core.terraform.documents import (
    ClusterRef,
    clusters_of,
    find_resource,
    first_block,
    select_clusters,
)
from airflow_gradient.core.terraform.managed import (
    MANAGED_ATTRIBUTES,
    ManagedAttribute,
    has_key_path,
    recommendation_configuration,
    render_path,
)

# --- The generator ------------------------------------------------------------------------


_AWS_NODE = re.compile(r"^[a-z][a-z0-9-]*\.[0-9a-z]+$")


def clouds_of(*specs: Mapping[str, Any] | None) -> set[str]:
    """The cloud(s) whose attribute fields apply to a cluster (see the module docstring)."""
    for spec in specs:
        if not spec:
            continue
        clouds = {c for c in ("aws", "azure") if first_block(spec.get(f"{c}_attributes"))}
        if clouds:
            return clouds
    for spec in specs:
        node = spec.get("node_type_id") if spec else None
        if isinstance(node, str) and node.startswith("Standard_"):
            return {"azure"}
        if isinstance(node, str) and _AWS_NODE.match(node):
            return {"aws"}
    return {"aws", "azure"}


def _managed_for(
    clouds: set[str], configuration: Mapping[str, Any] | None
) -> list[ManagedAttribute]:
    """Managed attributes to list for a cluster on ``clouds``, or those ``configuration`` sets."""
    if configuration is not None:
        return [
            a
            for a in MANAGED_ATTRIBUTES
            if a.sizing or has_key_path(configuration, a.configuration_key)
        ]
    return [a for a in MANAGED_ATTRIBUTES if a.cloud is None or a.cloud in clouds]


def clusters_for(
    state_or_plan: Mapping[str, Any], address: str | None = None, cluster_keys: Sequence[str] = ()
) -> tuple[str, list[ClusterRef]]:
    """Return the resource address and the clusters :func:`ignore_changes_for` lists.

    :raises TerraformInputError: not a plan/state, unknown address or key, no tagged cluster.
    """
    resource = find_resource(state_or_plan, address)
    subject = str(resource["address"])
    clusters = clusters_of(str(resource["type"]), resource.get("values"))
    return subject, select_clusters(clusters, cluster_keys, subject)


def ignore_changes_for(
    state_or_plan: Mapping[str, Any],
    address: str | None = None,
    cluster_keys: Sequence[str] = (),
    *,
    recommendation: Any = None,
) -> list[str]:
    """Return the ``ignore_changes`` entries for the Gradient-managed attributes of some clusters.

    :param state_or_plan: ``terraform show -json`` output of a state or a plan.
    :param address: ``databricks_job.NAME`` / ``databricks_cluster.NAME``; optional when the
        document holds exactly one such resource.
    :param cluster_keys: ``job_cluster_key`` / ``task_key`` values (or ``job_clusters/KEY``,
        ``tasks/KEY``); default: the clusters tagged ``sync:project-id``.
    :param recommendation: a recommendation (reply, bare, or configuration): list only the paths
        it sets, plus the sizing pair.
    :raises TerraformInputError: not a plan/state, unknown address or key, nothing to list.
    """
    configuration = None
    if recommendation is not None:
        configuration = recommendation_configuration(recommendation)
    paths: list[str] = []
    for cluster in clusters_for(state_or_plan, address, cluster_keys)[1]:
        for attribute in _managed_for(clouds_of(cluster.spec), configuration):
            path = render_path(cluster.prefix + attribute.path)
            if path not in paths:
                paths.append(path)
    return paths


def lifecycle_block(paths: Sequence[str], *, comment: str | None = None) -> str:
    """Return a ``lifecycle { ignore_changes = [...] }`` block, ready to paste into the resource."""
    lines = ["lifecycle {"]
    if comment:
        lines.extend(f"  # {line}" for line in comment.splitlines())
    lines.append("  ignore_changes = [")
    lines.extend(f"    {path}," for path in paths)
    lines.extend(["  ]", "}"])
    return "\n".join(lines) + "\n"
