"""A recommendation's ``configuration`` patch: THE list of cluster fields Gradient may set
(:data:`CONFIGURATION_FIELDS`), each with its check.

The patch is untrusted data that ends up in a production cluster, so it is checked field by
field and every problem is reported at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from airflow_gradient.core.cluster.paths import PathKey, format_path
from airflow_gradient.core.json_values import show

__all__ = ["configuration_problems"]

MAX_WORKERS = 10_000
"""Largest worker count a recommendation may ask for; anything above is treated as corrupt data.

Far above what a Databricks workspace allows a single cluster, so it never rejects a real
recommendation, but it stops an absurd value (a unit mix-up, an overflow) from being applied.
"""

WHAT_TO_DO = "Request a new recommendation, or report it to Sync Computing."

Path = tuple[PathKey, ...]
Checker = Callable[[Any, Path, list[str]], None]


def kind_of(value: Any) -> str:
    """A value's JSON type, with an article, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def got(value: Any) -> str:
    """``got <value> (<its JSON type>)``, for messages."""
    return f"got {show(value, 80)} ({kind_of(value)})"


def problem_message(subject: str, problems: list[str]) -> str:
    """``<subject> is invalid (N problems):`` and one line per problem, then what to do."""
    listing = "\n".join(f"  - {problem}" for problem in problems)
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return f"{subject} is invalid ({count}):\n{listing}\n{WHAT_TO_DO}"


def _integer(minimum: int | None = None, maximum: int | None = None) -> Checker:
    def check(value: Any, path: Path, problems: list[str]) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{format_path(path)}: must be an integer, {got(value)}")
        elif minimum is not None and value < minimum:
            problems.append(f"{format_path(path)}: must be >= {minimum}, got {value}")
        elif maximum is not None and value > maximum:
            problems.append(f"{format_path(path)}: must be <= {maximum}, got {value}")

    return check


def _number(minimum: float | None = None) -> Checker:
    def check(value: Any, path: Path, problems: list[str]) -> None:
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            problems.append(f"{format_path(path)}: must be a number, {got(value)}")
        elif minimum is not None and value < minimum:
            problems.append(f"{format_path(path)}: must be >= {minimum}, got {value}")

    return check


def _string(value: Any, path: Path, problems: list[str]) -> None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{format_path(path)}: must be a non-empty string, {got(value)}")


def _boolean(value: Any, path: Path, problems: list[str]) -> None:
    if not isinstance(value, bool):
        problems.append(f"{format_path(path)}: must be true or false, {got(value)}")


def _choice(*allowed: str) -> Checker:
    def check(value: Any, path: Path, problems: list[str]) -> None:
        if value not in allowed or not isinstance(value, str):
            problems.append(
                f"{format_path(path)}: must be one of {', '.join(allowed)}, {got(value)}"
            )

    return check


def _string_map(value: Any, path: Path, problems: list[str]) -> None:
    if not isinstance(value, Mapping):
        problems.append(f"{format_path(path)}: must be an object of strings, {got(value)}")
        return
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            problems.append(f"{format_path(path)}: keys must be non-empty strings, got {key!r}")
        elif not isinstance(item, str):
            problems.append(f"{format_path((*path, key))}: must be a string, {got(item)}")


def _object(
    fields: Mapping[str, Checker],
    *,
    required: tuple[str, ...] = (),
    one_of: tuple[str, ...] = (),
    unknown: str = "unknown field",
) -> Checker:
    """An object whose keys are all in ``fields``, with every ``required`` key and, when
    ``one_of`` is given, exactly one of those keys; ``unknown`` names a key not in ``fields``."""

    def check(value: Any, path: Path, problems: list[str]) -> None:
        if not isinstance(value, Mapping):
            problems.append(f"{format_path(path)}: must be an object, {got(value)}")
            return
        for key, item in value.items():
            checker = fields.get(key) if isinstance(key, str) else None
            if checker is None:
                problems.append(
                    f"{format_path((*path, str(key)))}: {unknown} (allowed: "
                    f"{', '.join(sorted(fields))})"
                )
            else:
                checker(item, (*path, key), problems)
        for key in required:
            if key not in value:
                problems.append(f"{format_path((*path, key))}: missing (required)")
        if one_of and sum(1 for key in one_of if key in value) != 1:
            problems.append(f"{format_path(path)}: must have exactly one of {', '.join(one_of)}")

    return check


def _list_of(item_checker: Checker) -> Checker:
    def check(value: Any, path: Path, problems: list[str]) -> None:
        if not isinstance(value, list):
            problems.append(f"{format_path(path)}: must be a list, {got(value)}")
            return
        for index, item in enumerate(value):
            item_checker(item, (*path, index), problems)

    return check


_AUTOSCALE_BOUNDS = _object(
    {"min_workers": _integer(0, MAX_WORKERS), "max_workers": _integer(1, MAX_WORKERS)},
    required=("min_workers", "max_workers"),
)


def _autoscale(value: Any, path: Path, problems: list[str]) -> None:
    before = len(problems)
    _AUTOSCALE_BOUNDS(value, path, problems)
    if not isinstance(value, Mapping):
        return
    low: int = value.get("min_workers", 0)
    high: int = value.get("max_workers", 0)
    if len(problems) == before and low > high:
        problems.append(
            f"{format_path(path)}: min_workers {low} is greater than max_workers {high}"
        )


_DESTINATION = _object({"destination": _string}, required=("destination",))
_S3_DESTINATION = _object(
    {
        "destination": _string,
        "region": _string,
        "endpoint": _string,
        "enable_encryption": _boolean,
        "encryption_type": _string,
        "kms_key": _string,
        "canned_acl": _string,
    },
    required=("destination",),
)

_CLUSTER_LOG_CONF = _object(
    {"dbfs": _DESTINATION, "s3": _S3_DESTINATION, "volumes": _DESTINATION},
    one_of=("dbfs", "s3", "volumes"),
)

_INIT_SCRIPT_KINDS = ("abfss", "dbfs", "file", "gcs", "s3", "volumes", "workspace")
_INIT_SCRIPT = _object(
    {kind: _S3_DESTINATION if kind == "s3" else _DESTINATION for kind in _INIT_SCRIPT_KINDS},
    one_of=_INIT_SCRIPT_KINDS,
)

_AWS_ATTRIBUTES = _object(
    {
        "availability": _choice("ON_DEMAND", "SPOT", "SPOT_WITH_FALLBACK"),
        "first_on_demand": _integer(0),
        "spot_bid_price_percent": _integer(1),
        "ebs_volume_type": _choice("GENERAL_PURPOSE_SSD", "THROUGHPUT_OPTIMIZED_HDD"),
        "ebs_volume_count": _integer(0, 10),
        "ebs_volume_size": _integer(1),
        "ebs_volume_iops": _integer(0),
        "ebs_volume_throughput": _integer(0),
        "zone_id": _string,
        "instance_profile_arn": _string,
    }
)

_AZURE_ATTRIBUTES = _object(
    {
        "availability": _choice("ON_DEMAND_AZURE", "SPOT_AZURE", "SPOT_WITH_FALLBACK_AZURE"),
        "first_on_demand": _integer(0),
        # -1 means "pay up to the on-demand price".
        "spot_bid_max_price": _number(-1),
    }
)

_GCP_ATTRIBUTES = _object(
    {
        "availability": _choice(
            "ON_DEMAND_GCP", "PREEMPTIBLE_GCP", "PREEMPTIBLE_WITH_FALLBACK_GCP"
        ),
        "boot_disk_size": _integer(0),
        "first_on_demand": _integer(0),
        "google_service_account": _string,
        "local_ssd_count": _integer(0),
        "use_preemptible_executors": _boolean,
        "zone_id": _string,
    }
)

CONFIGURATION_FIELDS: Mapping[str, Checker] = {
    "num_workers": _integer(0, MAX_WORKERS),
    "autoscale": _autoscale,
    "node_type_id": _string,
    "driver_node_type_id": _string,
    "spark_version": _string,
    "runtime_engine": _choice("STANDARD", "PHOTON"),
    "spark_conf": _string_map,
    "spark_env_vars": _string_map,
    "custom_tags": _string_map,
    "aws_attributes": _AWS_ATTRIBUTES,
    "azure_attributes": _AZURE_ATTRIBUTES,
    "gcp_attributes": _GCP_ATTRIBUTES,
    "cluster_log_conf": _CLUSTER_LOG_CONF,
    "init_scripts": _list_of(_INIT_SCRIPT),
}
"""The cluster fields a recommendation may set, each with its check."""

_CONFIGURATION = _object(CONFIGURATION_FIELDS, unknown="not a field a recommendation may set")


def configuration_problems(configuration: Mapping[Any, Any]) -> list[str]:
    """Every problem of a configuration patch, as ``"<path>: <what is wrong>"``."""
    problems: list[str] = []
    _CONFIGURATION(configuration, (), problems)
    if "num_workers" in configuration and "autoscale" in configuration:
        problems.append(
            "num_workers: set together with autoscale; a cluster has one sizing form, not both"
        )
    return problems
