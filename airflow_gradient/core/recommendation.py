"""Gradient recommendations: parse and validate the API reply, show its metrics.

The cluster fields a recommendation may set are
:data:`~airflow_gradient.core.configuration.CONFIGURATION_FIELDS`, each checked there; the tags
it may carry are the ones the cluster rules own:
:data:`~airflow_gradient.core.cluster.locate.PROJECT_ID_TAG` (which cluster a project tunes) and
:data:`~airflow_gradient.core.cluster.merge.RECOMMENDATION_ID_TAG` (which recommendation is in
force). This module reads them; the cluster modules never import it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_gradient.core.cluster.locate import PROJECT_ID_TAG
from airflow_gradient.core.cluster.merge import RECOMMENDATION_ID_TAG
from airflow_gradient.core.cluster.paths import format_path
from airflow_gradient.core.configuration import (
    WHAT_TO_DO,
    configuration_problems,
    got,
    kind_of,
    problem_message,
)
from airflow_gradient.core.errors import InvalidRecommendationError
from airflow_gradient.core.json_values import show

__all__ = ["Recommendation", "format_metrics", "parse_recommendation", "state_name"]

STATES = ("PENDING", "SUCCESS", "FAILURE")
"""The recommendation states Gradient reports."""


def state_name(value: Any) -> str | None:
    """A state as Gradient's upper-case name (states are read case-insensitively); None if the
    value is not a string."""
    return value.upper() if isinstance(value, str) else None


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


def _optional_str(result: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = result.get(key)
    if value is None or isinstance(value, str):
        return value
    problems.append(f"{key}: must be a string or null, {got(value)}")
    return None


def _optional_object(container: Any, key: str, problems: list[str], where: str) -> dict[str, Any]:
    if not isinstance(container, Mapping):
        return {}
    value = container.get(key)
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return copy.deepcopy(dict(value))
    problems.append(f"{where}{key}: must be an object or null, {got(value)}")
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
            f"({got(result)}){hint}. {WHAT_TO_DO}"
        )

    raw_id = result.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise InvalidRecommendationError(
            f"A recommendation of Gradient project {project_id} has no usable id "
            f"(its id is {show(raw_id, 80)}, {kind_of(raw_id)}). {WHAT_TO_DO}"
        )
    rec_id = raw_id
    where = f"Gradient recommendation {rec_id} (project {project_id})"

    problems: list[str] = []
    raw_state = result.get("state")
    state = state_name(raw_state)
    if state not in STATES:
        problems.append(f"state: must be one of {', '.join(STATES)}, {got(raw_state)}")

    created_at = _optional_str(result, "created_at", problems)
    updated_at = _optional_str(result, "updated_at", problems)
    raw_error = result.get("error")
    error = raw_error if raw_error is None or isinstance(raw_error, str) else show(raw_error, 500)

    context = _optional_object(result, "context", problems, "")
    phase = context.get("phase")
    if phase is not None and not isinstance(phase, str):
        problems.append(f"context.phase: must be a string or null, {got(phase)}")
        phase = None

    body = result.get("recommendation")
    if body is not None and not isinstance(body, Mapping):
        problems.append(f"recommendation: must be an object or null, {got(body)}")
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
                f"recommendation.configuration: must be an object, {got(raw_configuration)}"
            )
        else:
            config_problems = configuration_problems(raw_configuration)
            config_problems += _tag_problems(raw_configuration, rec_id, project_id)
            problems += [f"recommendation.configuration.{p}" for p in config_problems]
            if not config_problems:
                configuration = copy.deepcopy(dict(raw_configuration))

    if problems:
        raise InvalidRecommendationError(problem_message(where, problems))
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
                f"{format_path(['custom_tags', tag])}: is {show(value, 80)}, expected "
                f"{show(expected, 80)}; applying it would tag the cluster for another "
                f"{'project' if tag == PROJECT_ID_TAG else 'recommendation'}"
            )
    return problems


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
