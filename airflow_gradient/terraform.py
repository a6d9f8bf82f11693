"""Which Terraform attributes Gradient manages, and whether a plan or a configuration respects them.

Pure functions over ``terraform show -json`` documents (plans and states), Gradient
recommendations and ``.tf`` text: no Airflow, no network, no files. The CLI
(``airflow-gradient terraform``) reads the files and prints what these functions return.

**Gradient-managed attributes** are the closed list a recommendation may set, defined once in
:data:`MANAGED_ATTRIBUTES`: the sizing pair (``num_workers`` and ``autoscale``, always together,
since a switch between fixed size and autoscaling drifts on both), ``node_type_id``,
``driver_node_type_id``, ``spark_version``, ``runtime_engine``, the ``aws_attributes`` /
``azure_attributes`` fields a recommendation sets, four ``custom_tags["sync:..."]`` entries and
``spark_conf["spark.databricks.isv.product"]``. Map entries are listed one by one, never whole maps.

Decisions where the issue was silent:

* **Cloud fields.** Without a recommendation, a cluster gets the fields of the cloud it runs on:
  the ``aws_attributes`` / ``azure_attributes`` block it has in the JSON (or in the ``.tf``);
  without either block, its ``node_type_id`` (``Standard_...`` is Azure, ``family.size`` is AWS);
  when that says nothing either, both clouds are listed (an entry for an absent block is harmless).
* **With a recommendation**, only the managed paths it sets are listed, plus the sizing pair.
  Settings it makes outside the closed list (e.g. ``spark_conf["spark.sql.shuffle.partitions"]``)
  are not listed; :func:`unmanaged_settings` names them so the CLI can say so.
* **Which clusters.** Default: those tagged ``custom_tags["sync:project-id"]``. ``check`` looks at
  clusters tagged before or after the change; ``check-config`` at clusters tagged in the ``.tf`` or
  in the state. A ``databricks_cluster`` named by address is its own single cluster.
* **Cluster keys** are ``job_cluster_key`` or ``task_key``; where both exist with one name, qualify
  it like a Gradient ``cluster_path``: ``job_clusters/KEY`` or ``tasks/KEY``.
* **Indexes** come from the JSON (planned values of a plan, else its prior state; the values of a
  state) by key. ``check-config`` without ``--state`` falls back to the order of the blocks in the
  ``.tf`` and says it cannot when the blocks are ``dynamic``.
* ``check-config`` requires ``node_type_id`` / ``driver_node_type_id`` only where the ``.tf`` sets
  them (they do not drift otherwise); the generator cannot know and always lists them.
* ``check`` counts an ``update`` and a replacement (``delete`` + ``create``) as a revert, and a
  managed value that becomes "known after apply" too.
* :class:`TerraformInputError` is a ``ValueError``, not a ``GradientError``: those are
  ``AirflowException`` subclasses, and importing Airflow would add seconds to a CI helper that
  never runs inside Airflow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "MANAGED_ATTRIBUTES",
    "ClusterRef",
    "ConfigFinding",
    "ManagedAttribute",
    "MapKey",
    "RevertedPath",
    "TerraformInputError",
    "clusters_for",
    "clusters_of",
    "config_findings",
    "document_kind",
    "ignore_changes_for",
    "lifecycle_block",
    "recommendation_configuration",
    "render_path",
    "reverted_paths",
    "unmanaged_settings",
]


class TerraformInputError(ValueError):
    """A plan, state, recommendation or ``.tf`` file is not what the command needs.

    The message is one line and names no file: the caller prefixes the file name.
    """


# --- The closed list ----------------------------------------------------------------------


@dataclass(frozen=True)
class MapKey:
    """One entry of a map attribute: ``custom_tags["sync:run-id"]`` rather than ``.sync:run-id``."""

    key: str


Step = str | int | MapKey
AttrPath = tuple[Step, ...]


@dataclass(frozen=True)
class ManagedAttribute:
    """One attribute a recommendation may set, as a path relative to the cluster spec.

    :param path: steps below the cluster (``("aws_attributes", 0, "availability")``).
    :param cloud: ``"aws"`` / ``"azure"`` for cloud attribute fields, else ``None``.
    :param sizing: part of the ``num_workers`` / ``autoscale`` pair, always listed together.
    :param drifts_only_if_configured: only drifts where the configuration sets it.
    """

    path: AttrPath
    cloud: Literal["aws", "azure"] | None = None
    sizing: bool = False
    drifts_only_if_configured: bool = False

    @property
    def configuration_key(self) -> tuple[str, ...]:
        """Where a recommendation's ``configuration`` holds this attribute."""
        return tuple(
            s.key if isinstance(s, MapKey) else s for s in self.path if isinstance(s, str | MapKey)
        )


def _aws(field: str) -> ManagedAttribute:
    return ManagedAttribute(("aws_attributes", 0, field), cloud="aws")


def _azure(field: str) -> ManagedAttribute:
    return ManagedAttribute(("azure_attributes", 0, field), cloud="azure")


MANAGED_ATTRIBUTES: tuple[ManagedAttribute, ...] = (
    ManagedAttribute(("num_workers",), sizing=True),
    ManagedAttribute(("autoscale",), sizing=True),
    ManagedAttribute(("node_type_id",), drifts_only_if_configured=True),
    ManagedAttribute(("driver_node_type_id",), drifts_only_if_configured=True),
    ManagedAttribute(("spark_version",)),
    ManagedAttribute(("runtime_engine",)),
    _aws("availability"),
    _aws("first_on_demand"),
    _aws("spot_bid_price_percent"),
    _aws("ebs_volume_type"),
    _aws("ebs_volume_count"),
    _aws("ebs_volume_size"),
    _azure("availability"),
    _azure("first_on_demand"),
    _azure("spot_bid_max_price"),
    ManagedAttribute(("custom_tags", MapKey("sync:project-id"))),
    ManagedAttribute(("custom_tags", MapKey("sync:run-id"))),
    ManagedAttribute(("custom_tags", MapKey("sync:recommendation-id"))),
    ManagedAttribute(("custom_tags", MapKey("sync:tenant-id"))),
    ManagedAttribute(("spark_conf", MapKey("spark.databricks.isv.product"))),
)
"""Every cluster attribute a Gradient recommendation may set: the single source of truth."""

PROJECT_TAG = "sync:project-id"
CLUSTER_RESOURCE_TYPES = ("databricks_job", "databricks_cluster")
# Keys a recommendation ``configuration`` may hold (gradient-api.md): used to recognise a bare one.
_CONFIGURATION_KEYS = frozenset(
    {
        "num_workers",
        "autoscale",
        "node_type_id",
        "driver_node_type_id",
        "spark_version",
        "runtime_engine",
        "spark_conf",
        "spark_env_vars",
        "custom_tags",
        "aws_attributes",
        "azure_attributes",
        "cluster_log_conf",
    }
)


def render_path(path: AttrPath) -> str:
    """Return ``path`` in Terraform syntax: ``job_cluster[1].new_cluster[0].custom_tags["k"]``."""
    out: list[str] = []
    for step in path:
        if isinstance(step, MapKey):
            out.append(f"[{json.dumps(step.key)}]")
        elif isinstance(step, int):
            out.append(f"[{step}]")
        else:
            out.append(f".{step}" if out else step)
    return "".join(out)


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


def _items(value: Any) -> list[Any]:
    """``value`` if it is a JSON list, else an empty list (for lists a document may lack)."""
    return value if isinstance(value, list) else []


def _module_resources(module: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(module, Mapping):
        return
    for resource in _items(module.get("resources")):
        if isinstance(resource, Mapping) and isinstance(resource.get("address"), str):
            yield resource
    for child in _items(module.get("child_modules")):
        yield from _module_resources(child)


def _resources(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
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
        return isinstance(tags, Mapping) and bool(tags.get(PROJECT_TAG))


def _first_block(value: Any) -> Mapping[str, Any] | None:
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
            spec = _first_block(block.get("new_cluster"))
            if spec is not None:
                key = block.get(key_name)
                found.append(ClusterRef(kind, str(key) if key else "", index, spec))
    return found


def _select_clusters(
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
                f'no cluster of {subject} is tagged custom_tags["{PROJECT_TAG}"]; '
                f"name one with --cluster-key (clusters: {available})"
            )
        return tagged
    if clusters[0].kind == "cluster":
        raise TerraformInputError(f"{subject} is a databricks_cluster: it takes no --cluster-key")
    chosen: list[ClusterRef] = []
    for wanted in cluster_keys:
        matches = [c for c in clusters if wanted in (c.key, c.label)]
        if not matches:
            raise TerraformInputError(
                f"{subject} has no cluster key {wanted!r} (clusters: {available})"
            )
        if len(matches) > 1:
            raise TerraformInputError(
                f"cluster key {wanted!r} of {subject} is both a job cluster and a task;"
                f" write {' or '.join(c.label for c in matches)}"
            )
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def _find_resource(document: Mapping[str, Any], address: str | None) -> Mapping[str, Any]:
    resources = _resources(document)
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


# --- Recommendations ----------------------------------------------------------------------


def recommendation_configuration(recommendation: Any) -> dict[str, Any]:
    """Return the ``configuration`` patch of a recommendation.

    Accepts a Gradient reply ``{"result": {...}}``, the bare recommendation, or a configuration.
    """
    rec = recommendation
    if isinstance(rec, Mapping) and rec.get("error") and not {"result", "state"} & set(rec):
        err = rec["error"] if isinstance(rec["error"], Mapping) else {}
        raise TerraformInputError(
            f"a Gradient error reply ({err.get('code')}: {err.get('message')}),"
            " not a recommendation"
        )
    if isinstance(rec, Mapping) and "result" in rec:
        rec = rec["result"]
    if isinstance(rec, list):
        raise TerraformInputError(
            "a list of recommendations; save the one to apply (GET .../recommendations/ID)"
        )
    if not isinstance(rec, Mapping):
        raise TerraformInputError("not a Gradient recommendation (expected a JSON object)")
    if "recommendation" in rec or "state" in rec:
        state = rec.get("state", "SUCCESS")
        body = rec.get("recommendation")
        if state != "SUCCESS" or not isinstance(body, Mapping):
            why = f" ({rec['error']})" if isinstance(rec.get("error"), str) else ""
            raise TerraformInputError(
                f"recommendation {rec.get('id')} is {state}{why} and has no configuration;"
                " only a SUCCESS recommendation can be applied"
            )
        rec = body
    configuration = rec.get("configuration") if "configuration" in rec else rec
    if not isinstance(configuration, Mapping) or not configuration:
        raise TerraformInputError("the recommendation has an empty configuration")
    unknown = sorted(str(k) for k in configuration if k not in _CONFIGURATION_KEYS)
    if configuration is rec and unknown:
        raise TerraformInputError(
            'not a Gradient recommendation (expected {"result": {...}}, a recommendation or its'
            f" configuration; found keys {', '.join(unknown[:5])})"
        )
    return dict(configuration)


def _has_key_path(configuration: Mapping[str, Any], key: tuple[str, ...]) -> bool:
    node: Any = configuration
    for step in key:
        if not isinstance(node, Mapping) or step not in node:
            return False
        node = node[step]
    return True


def unmanaged_settings(recommendation: Any) -> list[str]:
    """Return the settings a recommendation makes outside :data:`MANAGED_ATTRIBUTES`.

    Nested objects are listed entry by entry (``spark_conf["spark.sql.shuffle.partitions"]``),
    ``autoscale`` and ``cluster_log_conf`` whole.
    """
    configuration = recommendation_configuration(recommendation)
    managed = {a.configuration_key for a in MANAGED_ATTRIBUTES}
    found: list[str] = []
    for name, value in configuration.items():
        if (name,) in managed:
            continue
        if isinstance(value, Mapping) and name not in ("cluster_log_conf",):
            for key in value:
                if (name, key) not in managed:
                    found.append(
                        render_path((name, MapKey(key)))
                        if name in ("custom_tags", "spark_conf", "spark_env_vars")
                        else render_path((name, 0, key))
                    )
        else:
            found.append(name)
    return found


# --- The generator ------------------------------------------------------------------------


_AWS_NODE = re.compile(r"^[a-z][a-z0-9-]*\.[0-9a-z]+$")


def _clouds_of(*specs: Mapping[str, Any] | None) -> set[str]:
    """The cloud(s) whose attribute fields apply to a cluster (see the module docstring)."""
    for spec in specs:
        if not spec:
            continue
        clouds = {c for c in ("aws", "azure") if _first_block(spec.get(f"{c}_attributes"))}
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
            if a.sizing or _has_key_path(configuration, a.configuration_key)
        ]
    return [a for a in MANAGED_ATTRIBUTES if a.cloud is None or a.cloud in clouds]


def clusters_for(
    state_or_plan: Mapping[str, Any], address: str | None = None, cluster_keys: Sequence[str] = ()
) -> tuple[str, list[ClusterRef]]:
    """Return the resource address and the clusters :func:`ignore_changes_for` lists.

    :raises TerraformInputError: not a plan/state, unknown address or key, no tagged cluster.
    """
    resource = _find_resource(state_or_plan, address)
    subject = str(resource["address"])
    clusters = clusters_of(str(resource["type"]), resource.get("values"))
    return subject, _select_clusters(clusters, cluster_keys, subject)


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
        for attribute in _managed_for(_clouds_of(cluster.spec), configuration):
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


def _by_label(resource_type: str, values: Any) -> dict[str, ClusterRef]:
    return {c.label: c for c in clusters_of(resource_type, values)}


def _drift_changes(plan: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    drift: dict[str, Mapping[str, Any]] = {}
    for entry in _items(plan.get("resource_drift")):
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
    for entry in _items(plan.get("resource_changes")):
        if not isinstance(entry, Mapping) or entry.get("type") not in CLUSTER_RESOURCE_TYPES:
            continue
        change = entry.get("change")
        if not isinstance(change, Mapping) or not _reverting(change.get("actions")):
            continue
        rtype, address = str(entry["type"]), str(entry.get("address"))
        before = _by_label(rtype, change.get("before"))
        after = _by_label(rtype, change.get("after"))
        drift_change = drift.get(address, {})
        drift_before = _by_label(rtype, drift_change.get("before"))
        drift_after = _by_label(rtype, drift_change.get("after"))
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


# --- The configuration check --------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFinding:
    """One remark about a resource's ``lifecycle.ignore_changes``.

    ``kind``: ``missing`` (a managed path is not ignored), ``too_broad`` (an entry ignores more
    than Gradient manages), ``unmanaged`` (an entry unrelated to Gradient: information),
    ``note`` (something the check could not do: information).
    """

    address: str
    kind: Literal["missing", "too_broad", "unmanaged", "note"]
    subject: str
    message: str

    @property
    def is_problem(self) -> bool:
        """Whether this finding should fail the check."""
        return self.kind in ("missing", "too_broad")

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {
            "address": self.address,
            "kind": self.kind,
            "subject": self.subject,
            "message": self.message,
        }


def _hcl_plain(value: Any) -> Any:
    """python-hcl2 output with quotes stripped and ``__is_block__`` markers dropped."""
    if isinstance(value, Mapping):
        return {_hcl_plain(k): _hcl_plain(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [_hcl_plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            text = json.loads(value)
        except ValueError:
            return value[1:-1]
        return text if isinstance(text, str) else value[1:-1]
    return value


def _parse_hcl(tf_text: str) -> dict[str, Any]:
    import hcl2  # lazy: only check-config needs it

    try:
        parsed = hcl2.loads(tf_text)
    except Exception as exc:
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        token = getattr(exc, "token", None) or getattr(exc, "char", None)
        where = f" at line {line}, column {column}" if line is not None else ""
        what = f": unexpected {str(token)[:30]!r}" if token is not None else ""
        if not where and not what:
            what = ": " + (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise TerraformInputError(f"HCL syntax error{where}{what}") from exc
    plain = _hcl_plain(parsed)
    return plain if isinstance(plain, dict) else {}


_TRAVERSAL = re.compile(
    r'\s*(?:\.?([A-Za-z_][\w-]*)|\.(\d+)|\[\s*(\d+)\s*\]|\[\s*("(?:[^"\\]|\\.)*")\s*\])'
)


def _entry_steps(entry: str) -> tuple[str | int, ...] | None:
    """Steps of an ``ignore_changes`` entry (map keys as plain strings); ``None`` if unreadable."""
    text = entry.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1].strip()
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _TRAVERSAL.match(text, pos)
        if match is None or match.end() == pos:
            return None
        name, legacy, index, key = match.groups()
        if name is not None:
            if pos > 0 and not text[match.start() : match.end()].lstrip().startswith("."):
                return None
            steps.append(name)
        elif legacy is not None or index is not None:
            steps.append(int(legacy or index))
        else:
            steps.append(str(json.loads(key)))
        pos = match.end()
    return tuple(steps) or None


def _plain_steps(path: AttrPath) -> tuple[str | int, ...]:
    return tuple(s.key if isinstance(s, MapKey) else s for s in path)


def _ignore_entries(body: Mapping[str, Any]) -> list[str]:
    entries: list[str] = []
    lifecycles = body.get("lifecycle")
    for lifecycle in lifecycles if isinstance(lifecycles, list) else [lifecycles]:
        if not isinstance(lifecycle, Mapping):
            continue
        value = lifecycle.get("ignore_changes")
        if isinstance(value, list):
            entries.extend(str(v) for v in value)
        elif value is not None:
            entries.append(str(value))
    return entries


def _hcl_resources(parsed: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    blocks = parsed.get("resource")
    for block in blocks if isinstance(blocks, list) else [blocks]:
        if not isinstance(block, Mapping):
            continue
        for rtype, named in block.items():
            if rtype in CLUSTER_RESOURCE_TYPES and isinstance(named, Mapping):
                for name, body in named.items():
                    if isinstance(body, Mapping):
                        yield str(rtype), str(name), body


def _state_resource(state: Mapping[str, Any] | None, address: str) -> Mapping[str, Any] | None:
    if state is None:
        return None
    resources = _resources(state)
    for resource in resources:
        if resource["address"] == address:
            return resource
    in_modules = [r for r in resources if str(r["address"]).endswith("." + address)]
    return in_modules[0] if len(in_modules) == 1 else None


def _has_dynamic(body: Mapping[str, Any]) -> bool:
    dynamics = body.get("dynamic")
    for dynamic in dynamics if isinstance(dynamics, list) else [dynamics]:
        if isinstance(dynamic, Mapping) and {"job_cluster", "task"} & set(dynamic):
            return True
    return False


Plain = tuple[str | int, ...]


@dataclass
class _Expected:
    """What one resource's ``ignore_changes`` should hold.

    ``required``: plain steps -> (rendered path, cluster label), the paths that must be ignored.
    ``known``: every managed path of the tagged clusters (also other-cloud fields and unset node
    types), so that such entries are not called unrelated.
    """

    required: dict[Plain, tuple[str, str]]
    known: set[Plain]


def _expected_paths(
    rtype: str, body: Mapping[str, Any], state_values: Any, address: str
) -> tuple[_Expected, list[ConfigFinding]]:
    """The managed paths of a ``.tf`` resource, indexed from the state or else the block order."""
    expected = _Expected({}, set())
    hcl_clusters = _by_label(rtype, body)
    if state_values is not None:
        located = _by_label(rtype, state_values)
    elif _has_dynamic(body):
        note = "uses dynamic job_cluster/task blocks; pass --state to resolve the cluster indexes"
        return expected, [ConfigFinding(address, "note", "dynamic", note)]
    else:
        located = hcl_clusters
    for label, cluster in located.items():
        in_hcl = hcl_clusters.get(label)
        if not (cluster.tagged or (in_hcl is not None and in_hcl.tagged)):
            continue
        hcl_spec = in_hcl.spec if in_hcl is not None else None
        clouds = _clouds_of(hcl_spec, cluster.spec)
        for attribute in MANAGED_ATTRIBUTES:
            full = cluster.prefix + attribute.path
            expected.known.add(_plain_steps(full))
            if attribute.cloud is not None and attribute.cloud not in clouds:
                continue
            if (
                attribute.drifts_only_if_configured
                and hcl_spec is not None
                and attribute.path[0] not in hcl_spec
            ):
                continue
            expected.required[_plain_steps(full)] = (render_path(full), label)
    return expected, []


def _entry_finding(
    address: str, entry: str, expected: _Expected
) -> tuple[ConfigFinding | None, set[Plain]]:
    """Classify one ``ignore_changes`` entry; return the finding (if any) and what it covers."""
    shown = entry.strip()
    if shown.startswith("${") and shown.endswith("}"):
        shown = shown[2:-1].strip()
    steps = () if shown == "all" else _entry_steps(shown)
    if steps is None:
        return ConfigFinding(
            address, "note", shown, f"cannot read ignore_changes entry {shown}"
        ), set()
    covers = {p for p in expected.required if p[: len(steps)] == steps}
    below = [p for p in expected.known if len(p) > len(steps) and p[: len(steps)] == steps]
    if below:
        message = (
            f"{shown} ignores more than Gradient manages: it hides every change below it,"
            f" not just the {len(below)} managed path(s); list those paths instead"
        )
        return ConfigFinding(address, "too_broad", shown, message), covers
    related = any(steps[: len(p)] == p for p in expected.known)
    if not related:
        message = f"{shown} is not an attribute Gradient manages (left as it is)"
        return ConfigFinding(address, "unmanaged", shown, message), covers
    return None, covers


def config_findings(tf_text: str, state: Mapping[str, Any] | None = None) -> list[ConfigFinding]:
    """Return what each ``databricks_job`` / ``databricks_cluster`` in ``tf_text`` ignores wrongly.

    For every cluster tagged ``sync:project-id`` (in the ``.tf`` or in ``state``), each managed path
    the existing ``lifecycle.ignore_changes`` does not cover is ``missing``; an entry that covers a
    managed path and more (``all``, a whole block or map) is ``too_broad``; an entry that covers no
    managed path is ``unmanaged``. Indexes come from ``state`` when given, else from block order.
    :raises TerraformInputError: HCL syntax error, or ``state`` is not a plan/state document.
    """
    if state is not None:
        document_kind(state)
    parsed = _parse_hcl(tf_text)
    findings: list[ConfigFinding] = []
    for rtype, name, body in _hcl_resources(parsed):
        address = f"{rtype}.{name}"
        state_resource = _state_resource(state, address)
        if state is not None and state_resource is None:
            findings.append(
                ConfigFinding(
                    address, "note", "state", "not in the state; cluster indexes from block order"
                )
            )
        state_values = state_resource.get("values") if state_resource is not None else None
        expected, notes = _expected_paths(rtype, body, state_values, address)
        findings.extend(notes)
        covered: set[Plain] = set()
        for entry in _ignore_entries(body) if expected.known else []:
            finding, hits = _entry_finding(address, entry, expected)
            covered |= hits
            if finding is not None:
                findings.append(finding)
        for steps, (path, label) in expected.required.items():
            if steps not in covered:
                findings.append(
                    ConfigFinding(
                        address,
                        "missing",
                        path,
                        f"{path} ({label}) is not ignored: the next apply would revert it",
                    )
                )
        if not expected.known and not notes:
            hint = "" if state is not None else " (tags set by an expression? pass --state)"
            message = f'no cluster tagged custom_tags["{PROJECT_TAG}"]: nothing to check{hint}'
            findings.append(ConfigFinding(address, "note", "untagged", message))
    return findings
