"""Gradient recommendations: parse the API reply, validate the configuration patch, show metrics.

A recommendation's ``configuration`` is untrusted data that ends up in a production cluster, so
it is checked field by field against the small set of cluster fields Gradient may change
(:func:`validate_configuration`), and every problem is reported at once. Pure: no I/O, no clock.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_gradient.cluster import PROJECT_ID_TAG, RECOMMENDATION_ID_TAG, PathKey, format_path
from airflow_gradient.exceptions import InvalidRecommendationError

__all__ = [
    "CONFIGURATION_FIELDS",
    "MAX_WORKERS",
    "STATES",
    "Recommendation",
    "format_metrics",
    "parse_recommendation",
    "validate_configuration",
]

STATES = ("PENDING", "SUCCESS", "FAILURE")
"""The recommendation states Gradient reports."""

MAX_WORKERS = 10_000
"""Largest worker count a recommendation may ask for; anything above is treated as corrupt data.

Far above what a Databricks workspace allows a single cluster, so it never rejects a real
recommendation, but it stops an absurd value (a unit mix-up, an overflow) from being applied.
"""

_WHAT_TO_DO = "Request a new recommendation, or report it to Sync Computing."

Path = tuple[PathKey, ...]
Checker = Callable[[Any, Path, list[str]], None]


# --- the recommendation ------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    """One Gradient recommendation, validated.

    ``configuration`` is the validated cluster-spec patch; it is ``{}`` unless ``state`` is
    ``SUCCESS``. ``phase`` is ``context.phase`` (``LEARNING`` while Gradient still explores).
    """

    id: str
    state: str
    created_at: str | None
    updated_at: str | None
    error: str | None
    configuration: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    prediction_params: dict[str, Any] = field(default_factory=dict)
    phase: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def is_applicable(self) -> bool:
        """True for a ``SUCCESS`` recommendation with a non-empty configuration."""
        return self.state == "SUCCESS" and bool(self.configuration)

    @property
    def recommendation_id_tag(self) -> str | None:
        """The ``sync:recommendation-id`` tag the configuration puts on the cluster, if any.

        After applying, a cluster carrying this value says this recommendation is in force
        (compare with :func:`airflow_gradient.cluster.applied_recommendation_id`).
        """
        tags = self.configuration.get("custom_tags")
        if isinstance(tags, Mapping):
            value = tags.get(RECOMMENDATION_ID_TAG)
            return value if isinstance(value, str) else None
        return None


def _kind(value: Any) -> str:
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


def _show(value: Any, limit: int = 80) -> str:
    """``value`` as short JSON for messages."""
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _got(value: Any) -> str:
    return f"got {_show(value)} ({_kind(value)})"


def _optional_str(result: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = result.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.append(f"{key}: must be a string or null, {_got(value)}")
    return None


def _optional_object(container: Any, key: str, problems: list[str], where: str) -> dict[str, Any]:
    if not isinstance(container, Mapping):
        return {}
    value = container.get(key)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return copy.deepcopy(dict(value))
    problems.append(f"{where}{key}: must be an object or null, {_got(value)}")
    return {}


def parse_recommendation(result: Any, *, project_id: str) -> Recommendation:
    """Validate one recommendation (the value of the API's ``{"result": ...}`` envelope).

    Checks the id, the state, the timestamps, ``context`` and, for ``SUCCESS``, that
    ``recommendation.configuration`` is a valid non-empty patch whose ``sync:project-id`` /
    ``sync:recommendation-id`` tags (when present) match this project and recommendation. A
    ``FAILURE`` keeps its ``error`` text (non-string errors are kept as JSON). The state is
    read case-insensitively.

    :param result: one recommendation object, e.g. ``reply["result"]`` or an entry of the list.
    :param project_id: the Gradient project it belongs to (for checks and messages).
    :raises InvalidRecommendationError: listing every problem, naming project and recommendation.
    """
    if not isinstance(result, Mapping):
        hint = (
            ": pass one entry of the list, not the list itself"
            if isinstance(result, list | tuple)
            else ""
        )
        raise InvalidRecommendationError(
            f"A recommendation of Gradient project {project_id} is not a JSON object "
            f"({_got(result)}){hint}. {_WHAT_TO_DO}"
        )

    raw_id = result.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise InvalidRecommendationError(
            f"A recommendation of Gradient project {project_id} has no usable id "
            f"(its id is {_show(raw_id)}, {_kind(raw_id)}). {_WHAT_TO_DO}"
        )
    rec_id = raw_id
    where = f"Gradient recommendation {rec_id} (project {project_id})"

    problems: list[str] = []
    raw_state = result.get("state")
    state = raw_state.upper() if isinstance(raw_state, str) else None
    if state not in STATES:
        problems.append(f"state: must be one of {', '.join(STATES)}, {_got(raw_state)}")

    created_at = _optional_str(result, "created_at", problems)
    updated_at = _optional_str(result, "updated_at", problems)
    raw_error = result.get("error")
    error = raw_error if raw_error is None or isinstance(raw_error, str) else _show(raw_error, 500)

    context = _optional_object(result, "context", problems, "")
    phase = context.get("phase")
    if phase is not None and not isinstance(phase, str):
        problems.append(f"context.phase: must be a string or null, {_got(phase)}")
        phase = None

    body = result.get("recommendation")
    if body is not None and not isinstance(body, Mapping):
        problems.append(f"recommendation: must be an object or null, {_got(body)}")
    metrics = _optional_object(body, "metrics", problems, "recommendation.")
    prediction_params = _optional_object(body, "prediction_params", problems, "recommendation.")

    configuration: dict[str, Any] = {}
    if state == "SUCCESS" and body is None:
        problems.append("recommendation: is null, but the state is SUCCESS")
    elif state == "SUCCESS" and isinstance(body, Mapping):
        raw_configuration = body.get("configuration")
        if raw_configuration is None or raw_configuration == {}:
            problems.append(
                "recommendation.configuration: missing or empty, but the state is SUCCESS"
            )
        elif not isinstance(raw_configuration, Mapping):
            problems.append(
                f"recommendation.configuration: must be an object, {_got(raw_configuration)}"
            )
        else:
            config_problems = _configuration_problems(raw_configuration)
            config_problems += _tag_problems(raw_configuration, rec_id, project_id)
            problems += [f"recommendation.configuration.{p}" for p in config_problems]
            if not config_problems:
                configuration = copy.deepcopy(dict(raw_configuration))

    if problems:
        raise InvalidRecommendationError(_problem_message(where, problems))
    assert state is not None  # state in STATES, or a problem was raised above
    return Recommendation(
        id=rec_id,
        state=state,
        created_at=created_at,
        updated_at=updated_at,
        error=error,
        configuration=configuration,
        metrics=metrics,
        prediction_params=prediction_params,
        phase=phase,
        context=context,
    )


def _tag_problems(configuration: Mapping[str, Any], rec_id: str, project_id: str) -> list[str]:
    """The ``sync:*`` tags must point at this project and this recommendation, if present."""
    tags = configuration.get("custom_tags")
    if not isinstance(tags, Mapping):
        return []
    problems = []
    for tag, expected in ((PROJECT_ID_TAG, project_id), (RECOMMENDATION_ID_TAG, rec_id)):
        value = tags.get(tag)
        if value is not None and value != expected:
            problems.append(
                f"{format_path(['custom_tags', tag])}: is {_show(value)}, expected "
                f"{_show(expected)}; applying it would tag the cluster for another "
                f"{'project' if tag == PROJECT_ID_TAG else 'recommendation'}"
            )
    return problems


def _problem_message(subject: str, problems: list[str]) -> str:
    listing = "\n".join(f"  - {problem}" for problem in problems)
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return f"{subject} is invalid ({count}):\n{listing}\n{_WHAT_TO_DO}"


# --- the configuration patch --------------------------------------------------------------


def _integer(minimum: int | None = None, maximum: int | None = None) -> Checker:
    def check(value: Any, path: Path, problems: list[str]) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{format_path(path)}: must be an integer, {_got(value)}")
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
            problems.append(f"{format_path(path)}: must be a number, {_got(value)}")
        elif minimum is not None and value < minimum:
            problems.append(f"{format_path(path)}: must be >= {minimum}, got {value}")

    return check


def _string(value: Any, path: Path, problems: list[str]) -> None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{format_path(path)}: must be a non-empty string, {_got(value)}")


def _boolean(value: Any, path: Path, problems: list[str]) -> None:
    if not isinstance(value, bool):
        problems.append(f"{format_path(path)}: must be true or false, {_got(value)}")


def _choice(*allowed: str) -> Checker:
    def check(value: Any, path: Path, problems: list[str]) -> None:
        if value not in allowed or not isinstance(value, str):
            problems.append(
                f"{format_path(path)}: must be one of {', '.join(allowed)}, {_got(value)}"
            )

    return check


def _string_map(value: Any, path: Path, problems: list[str]) -> None:
    if not isinstance(value, Mapping):
        problems.append(f"{format_path(path)}: must be an object of strings, {_got(value)}")
        return
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            problems.append(f"{format_path(path)}: keys must be non-empty strings, got {key!r}")
        elif not isinstance(item, str):
            problems.append(f"{format_path((*path, key))}: must be a string, {_got(item)}")


def _object(
    fields: Mapping[str, Checker],
    *,
    required: tuple[str, ...] = (),
    one_of: tuple[str, ...] = (),
) -> Checker:
    """An object whose keys are all in ``fields``, with every ``required`` key and, when
    ``one_of`` is given, exactly one of those keys."""

    def check(value: Any, path: Path, problems: list[str]) -> None:
        if not isinstance(value, Mapping):
            problems.append(f"{format_path(path)}: must be an object, {_got(value)}")
            return
        for key, item in value.items():
            checker = fields.get(key) if isinstance(key, str) else None
            if checker is None:
                problems.append(
                    f"{format_path((*path, str(key)))}: unknown field (allowed: "
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
            problems.append(f"{format_path(path)}: must be a list, {_got(value)}")
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


def _configuration_problems(configuration: Mapping[Any, Any]) -> list[str]:
    """Every problem of a configuration patch, as ``"<path>: <what is wrong>"``."""
    problems: list[str] = []
    for key, value in configuration.items():
        checker = CONFIGURATION_FIELDS.get(key) if isinstance(key, str) else None
        if checker is None:
            problems.append(
                f"{format_path([str(key)])}: not a field a recommendation may set (allowed: "
                f"{', '.join(sorted(CONFIGURATION_FIELDS))})"
            )
        else:
            checker(value, (key,), problems)
    if "num_workers" in configuration and "autoscale" in configuration:
        problems.append(
            "num_workers: set together with autoscale; a cluster has one sizing form, not both"
        )
    return problems


def validate_configuration(configuration: Any, *, where: str) -> dict[str, Any]:
    """Check a recommendation's configuration patch and return a deep copy of it.

    Only the fields in :data:`CONFIGURATION_FIELDS` are allowed, each with its type and range
    (worker counts are integers from 0 to :data:`MAX_WORKERS`, booleans are not integers,
    enumerations are matched exactly); ``num_workers`` and ``autoscale`` exclude each other and
    ``autoscale`` needs both bounds with ``min_workers <= max_workers``.

    :param configuration: the untrusted ``recommendation.configuration`` value.
    :param where: what it belongs to, e.g. ``"Gradient recommendation <id> (project <id>)"``.
    :raises InvalidRecommendationError: listing every problem at once.
    """
    subject = f"The cluster configuration of {where}"
    if not isinstance(configuration, Mapping):
        raise InvalidRecommendationError(
            f"{subject} is not a JSON object ({_got(configuration)}). {_WHAT_TO_DO}"
        )
    if not configuration:
        raise InvalidRecommendationError(
            f"{subject} is empty: there is nothing to apply. {_WHAT_TO_DO}"
        )
    problems = _configuration_problems(configuration)
    if problems:
        raise InvalidRecommendationError(_problem_message(subject, problems))
    return copy.deepcopy(dict(configuration))


# --- metrics for the log -----------------------------------------------------------------


def _metric(metrics: Mapping[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def format_metrics(metrics: Any) -> str:
    """One line with the predicted duration and cost (with its range) of a recommendation.

    Tolerates missing or non-numeric values: it shows what there is, or says there is nothing.

    >>> format_metrics({"spark_duration_minutes": 41.5, "spark_cost_requested_usd": 12.4,
    ...                 "spark_cost_lower_usd": 10.9, "spark_cost_upper_usd": 14.0})
    'predicted duration 41.5 min, cost $12.40 (range $10.90 to $14.00)'
    """
    if not isinstance(metrics, Mapping):
        return "no predicted metrics"
    parts: list[str] = []
    duration = _metric(metrics, "spark_duration_minutes")
    if duration is not None:
        parts.append(f"duration {duration:g} min")
    cost = _metric(metrics, "spark_cost_requested_usd")
    if cost is None:
        cost = _metric(metrics, "spark_cost_midpoint_usd")
    lower, upper = (
        _metric(metrics, "spark_cost_lower_usd"),
        _metric(metrics, "spark_cost_upper_usd"),
    )
    if lower is not None and upper is not None:
        spread = f"range ${lower:.2f} to ${upper:.2f}"
    elif lower is not None:
        spread = f"at least ${lower:.2f}"
    elif upper is not None:
        spread = f"at most ${upper:.2f}"
    else:
        spread = ""
    if cost is not None:
        parts.append(f"cost ${cost:.2f}" + (f" ({spread})" if spread else ""))
    elif spread:
        parts.append(f"cost {spread}")
    if not parts:
        return "no predicted metrics"
    return "predicted " + ", ".join(parts)
