"""``terraform show -json`` plans and states: their resources and the clusters in them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from airflow_gradient.core.cluster.locate import PROJECT_ID_TAG, locate_cluster
from airflow_gradient.core.errors import (
    AmbiguousClusterError,
    ClusterNotFoundError,
    TerraformInputError,
    UnsupportedClusterError,
)
from airflow_gradient.core.terraform.managed import CLUSTER_RESOURCE_TYPES, AttrPath

# --- Documents and clusters ---------------------------------------------------------------


def document_kind(document: Any) -> Literal["plan", "state"]:
    """Return whether ``document`` is a ``terraform show -json`` plan or state; raise otherwise."""
    if not isinstance(document, Mapping):
        raise TerraformInputError(
            "not a Terraform JSON document (expected an object from `terraform show -json`)"
        )
    if any(k in document for k in ("planned_values", "resource_changes", "prior_state")):
        return "plan"
    values = document.get("values")
    if isinstance(values, Mapping) and "root_module" in values:
        return "state"
    if "version" in document and isinstance(document.get("resources"), list):
        raise TerraformInputError(
            "a raw terraform.tfstate file; pass the output of `terraform show -json` instead"
        )
    raise TerraformInputError(
        "not a Terraform plan or state (no planned_values, resource_changes or values.root_module);"
        " pass the output of `terraform show -json [PLANFILE]`"
    )


def json_items(value: Any) -> list[Any]:
    """``value`` if it is a JSON list, else an empty list (for lists a document may lack)."""
    return value if isinstance(value, list) else []


def _module_resources(module: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(module, Mapping):
        return
    for resource in json_items(module.get("resources")):
        if isinstance(resource, Mapping) and isinstance(resource.get("address"), str):
            yield resource
    for child in json_items(module.get("child_modules")):
        yield from _module_resources(child)


def managed_resources(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Managed resources: a plan's planned values (else its prior state), a state's values."""
    if document_kind(document) == "state":
        roots = [document["values"]]
    else:
        prior = document.get("prior_state")
        roots = [
            document.get("planned_values"),
            prior.get("values") if isinstance(prior, Mapping) else None,
        ]
    seen: dict[str, Mapping[str, Any]] = {}
    for root in roots:
        if isinstance(root, Mapping):
            for resource in _module_resources(root.get("root_module")):
                if resource.get("mode", "managed") == "managed":
                    seen.setdefault(resource["address"], resource)
    return list(seen.values())


@dataclass(frozen=True)
class ClusterRef:
    """One cluster of a resource: where it sits and what it holds.

    :param kind: ``"job_cluster"``, ``"task"`` or ``"cluster"`` (a ``databricks_cluster``).
    :param key: ``job_cluster_key`` / ``task_key``; empty for a ``databricks_cluster``.
    :param index: position of the block in the JSON list.
    :param spec: the cluster's values (``new_cluster[0]``, or the resource itself).
    """

    kind: Literal["job_cluster", "task", "cluster"]
    key: str
    index: int
    spec: Mapping[str, Any]

    @property
    def prefix(self) -> AttrPath:
        """Path of the cluster spec inside the resource."""
        if self.kind == "cluster":
            return ()
        return (self.kind, self.index, "new_cluster", 0)

    @property
    def label(self) -> str:
        """``job_clusters/KEY``, ``tasks/KEY`` (as a Gradient ``cluster_path``) or ``cluster``."""
        return {"job_cluster": "job_clusters", "task": "tasks", "cluster": "cluster"}[self.kind] + (
            f"/{self.key}" if self.key else ""
        )

    @property
    def tagged(self) -> bool:
        """Whether the cluster carries ``custom_tags["sync:project-id"]``."""
        tags = self.spec.get("custom_tags")
        return isinstance(tags, Mapping) and bool(tags.get(PROJECT_ID_TAG))


def first_block(value: Any) -> Mapping[str, Any] | None:
    """The single element of a nested block (a list of one), or the block itself."""
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return value[0]
    if isinstance(value, Mapping) and value:
        return value
    return None


def clusters_of(resource_type: str, values: Any) -> list[ClusterRef]:
    """Return the job and task clusters of a ``databricks_job``, or a ``databricks_cluster``."""
    if not isinstance(values, Mapping):
        return []
    if resource_type == "databricks_cluster":
        return [ClusterRef("cluster", "", 0, values)]
    found: list[ClusterRef] = []
    kinds: tuple[tuple[Literal["job_cluster", "task"], str], ...] = (
        ("job_cluster", "job_cluster_key"),
        ("task", "task_key"),
    )
    for kind, key_name in kinds:
        blocks = values.get(kind)
        if not isinstance(blocks, list):
            continue
        for index, block in enumerate(blocks):
            if not isinstance(block, Mapping):
                continue
            spec = first_block(block.get("new_cluster"))
            if spec is not None:
                key = block.get(key_name)
                found.append(ClusterRef(kind, str(key) if key else "", index, spec))
    return found


def select_clusters(
    clusters: Sequence[ClusterRef], cluster_keys: Sequence[str], subject: str
) -> list[ClusterRef]:
    """The clusters ``cluster_keys`` names (``KEY``, ``job_clusters/KEY``, ...), else the tagged."""
    available = ", ".join(c.label for c in clusters) or "none"
    if not clusters:
        raise TerraformInputError(f"{subject} has no job or task cluster (new_cluster)")
    if clusters[0].kind == "cluster" and not cluster_keys:
        return list(clusters)  # a databricks_cluster named by address is the cluster itself
    if not cluster_keys:
        tagged = [c for c in clusters if c.tagged]
        if not tagged:
            raise TerraformInputError(
                f'no cluster of {subject} is tagged custom_tags["{PROJECT_ID_TAG}"]; '
                f"name one with --cluster-key (clusters: {available})"
            )
        return tagged
    if clusters[0].kind == "cluster":
        raise TerraformInputError(f"{subject} is a databricks_cluster: it takes no --cluster-key")
    settings = _job_settings(clusters)
    chosen: list[ClusterRef] = []
    for wanted in cluster_keys:
        matches = [c for c in clusters if wanted in (c.key, c.label)]
        try:
            if not wanted:
                raise ClusterNotFoundError(wanted)
            location = locate_cluster(settings, job_id=subject, cluster_key=wanted)
        except AmbiguousClusterError:
            raise TerraformInputError(
                f"cluster key {wanted!r} of {subject} is both a job cluster and a task;"
                f" write {' or '.join(c.label for c in matches)}"
            ) from None
        except (ClusterNotFoundError, UnsupportedClusterError):
            raise TerraformInputError(
                f"{subject} has no cluster key {wanted!r} (clusters: {available})"
            ) from None
        match = next(c for c in clusters if (c.kind, c.key) == (location.kind, location.key))
        if match not in chosen:
            chosen.append(match)
    return chosen


def _job_settings(clusters: Sequence[ClusterRef]) -> dict[str, Any]:
    """The clusters of a ``databricks_job`` in the Jobs API shape, for
    :func:`~airflow_gradient.core.cluster.locate.locate_cluster` (THE rule for naming one)."""
    return {
        "job_clusters": [
            {"job_cluster_key": c.key, "new_cluster": dict(c.spec)}
            for c in clusters
            if c.kind == "job_cluster"
        ],
        "tasks": [
            {"task_key": c.key, "new_cluster": dict(c.spec)} for c in clusters if c.kind == "task"
        ],
    }


def find_resource(document: Mapping[str, Any], address: str | None) -> Mapping[str, Any]:
    resources = managed_resources(document)
    candidates = [r for r in resources if r.get("type") in CLUSTER_RESOURCE_TYPES]
    if address is None:
        if len(candidates) == 1:
            return candidates[0]
        names = ", ".join(str(r["address"]) for r in candidates) or "none"
        raise TerraformInputError(
            f"name the resource with --address (databricks_job/databricks_cluster found: {names})"
        )
    for resource in resources:
        if resource["address"] == address:
            if resource.get("type") not in CLUSTER_RESOURCE_TYPES:
                raise TerraformInputError(
                    f"{address} is a {resource.get('type')},"
                    " not a databricks_job or databricks_cluster"
                )
            return resource
    names = ", ".join(str(r["address"]) for r in candidates) or "none"
    raise TerraformInputError(
        f"no resource {address} (databricks_job/databricks_cluster found: {names})"
    )
