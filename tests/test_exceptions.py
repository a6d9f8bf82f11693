"""The edge: every core error has an Airflow-facing class of the same name, and is mapped."""

from __future__ import annotations

import inspect

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_gradient import exceptions as edge
from airflow_gradient.core import errors as core


def core_classes() -> list[type[core.CoreError]]:
    return [
        value
        for _, value in inspect.getmembers(core, inspect.isclass)
        if issubclass(value, core.CoreError) and value is not core.CoreError
    ]


@pytest.mark.parametrize("kind", core_classes(), ids=lambda kind: kind.__name__)
def test_each_core_error_maps_to_the_class_of_its_name(kind: type[core.CoreError]) -> None:
    edge_class = getattr(edge, kind.__name__)
    assert issubclass(edge_class, kind) and issubclass(edge_class, edge.GradientError)
    assert issubclass(edge_class, AirflowException)
    permanent = kind.__name__ in PERMANENT
    assert issubclass(edge_class, AirflowFailException) is permanent
    assert issubclass(edge_class, edge.PermanentError) is permanent


#: Core errors a retry cannot fix: the same inputs give the same refusal.
PERMANENT = {
    "InvalidRecommendationError",
    "ClusterNotFoundError",
    "AmbiguousClusterError",
    "UnsupportedClusterError",
    "InvalidClusterSpecError",
    "GuardRailViolationError",
    "InvalidGuardRailsError",
    "AutoApplyConflictError",
    "RecommendationRevertedError",
    "RollbackRefusedError",
    "WebhookLimitError",
    "TerraformInputError",
    "ProjectLookupError",
}


@pytest.mark.parametrize(
    ("name", "permanent"),
    [
        ("GradientAuthError", True),
        ("InsecureConnectionError", True),
        ("UnsupportedPathError", True),
        ("InvalidArgumentsError", True),
        ("AwaitedRecommendationFailedError", True),
        ("GradientApiError", False),
        ("GradientTransportError", False),
        ("GradientUnexpectedResponseError", False),
        ("RecommendationFailedError", False),
        ("NotificationDestinationError", False),
        ("DestinationExistsError", False),
    ],
)
def test_edge_only_errors_are_permanent_or_transient_as_documented(
    name: str, permanent: bool
) -> None:
    assert issubclass(getattr(edge, name), AirflowFailException) is permanent


def test_mapping_keeps_message_attributes_and_the_cause() -> None:
    cause = ValueError("the update failed")

    def decide() -> None:
        raise core.RollbackRefusedError("refused", differences=[{"path": "num_workers"}]) from (
            cause
        )

    with pytest.raises(edge.RollbackRefusedError) as caught, edge.airflow_errors():
        decide()
    assert str(caught.value) == "refused"
    assert caught.value.differences == [{"path": "num_workers"}]
    assert caught.value.__cause__ is cause
    assert isinstance(caught.value, AirflowException)


def test_a_subclass_maps_to_its_nearest_edge_class() -> None:
    mapped = edge.airflow_error(core.WebhookLimitError("full"))
    assert type(mapped) is edge.WebhookLimitError
    assert isinstance(mapped, edge.DatabricksJobError)


def test_edge_errors_and_other_errors_pass_through() -> None:
    with pytest.raises(edge.GradientAuthError), edge.airflow_errors():
        raise edge.GradientAuthError("refused")
    with pytest.raises(KeyError), edge.airflow_errors():
        raise KeyError("x")


def test_awaited_failure_stays_permanent() -> None:
    assert issubclass(edge.AwaitedRecommendationFailedError, AirflowFailException)
