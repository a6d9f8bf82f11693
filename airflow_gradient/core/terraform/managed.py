"""THE closed list of Terraform attributes Gradient manages, and what a recommendation sets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from airflow_gradient.core.configuration import CONFIGURATION_FIELDS
from airflow_gradient.core.errors import TerraformInputError

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

CLUSTER_RESOURCE_TYPES = ("databricks_job", "databricks_cluster")


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
    unknown = sorted(str(k) for k in configuration if k not in CONFIGURATION_FIELDS)
    if configuration is rec and unknown:
        raise TerraformInputError(
            'not a Gradient recommendation (expected {"result": {...}}, a recommendation or its'
            f" configuration; found keys {', '.join(unknown[:5])})"
        )
    return dict(configuration)


def has_key_path(configuration: Mapping[str, Any], key: tuple[str, ...]) -> bool:
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
