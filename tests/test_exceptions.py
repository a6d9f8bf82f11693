"""One error model: each class defined once in the core, says whether it is permanent, and is
mapped at the Airflow boundary, which every operator and sensor passes through."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

import airflow_gradient
from airflow_gradient import exceptions as edge
from airflow_gradient.core import errors as core


def error_classes() -> list[type[core.GradientError]]:
    return [
        value
        for _, value in inspect.getmembers(core, inspect.isclass)
        if issubclass(value, core.GradientError)
    ]


#: Errors a retry cannot fix: the same inputs give the same refusal.
PERMANENT = {
    "PermanentError",
    "InvalidArgumentsError",
    "UnsupportedPathError",
    "InvalidGuardRailsError",
    "TerraformInputError",
    "GradientRequestRefusedError",
    "GradientAuthError",
    "InsecureConnectionError",
    "InvalidRecommendationError",
    "AwaitedRecommendationFailedError",
    "ClusterNotFoundError",
    "AmbiguousClusterError",
    "UnsupportedClusterError",
    "InvalidClusterSpecError",
    "GuardRailViolationError",
    "AutoApplyConflictError",
    "RecommendationRevertedError",
    "RollbackRefusedError",
    "InvalidJobReferenceError",
    "DatabricksRequestRefusedError",
    "WebhookLimitError",
    "DestinationConfigurationError",
    "BundleInputError",
    "BundleWriteBackRefusedError",
    "BundleOwnedJobError",
    "ProjectLinkError",
    "ProjectLookupError",
    "HealthCheckFailedError",
}

#: Every class name importable from airflow_gradient.exceptions before the one model.
NAMES_BEFORE = {
    "AmbiguousClusterError",
    "AutoApplyConflictError",
    "AwaitedRecommendationFailedError",
    "ClusterNotFoundError",
    "DatabricksJobError",
    "DestinationExistsError",
    "GradientApiError",
    "GradientAuthError",
    "GradientError",
    "GradientTransportError",
    "GradientUnexpectedResponseError",
    "GuardRailViolationError",
    "InsecureConnectionError",
    "InvalidArgumentsError",
    "InvalidClusterSpecError",
    "InvalidGuardRailsError",
    "InvalidRecommendationError",
    "NoRecommendationError",
    "NotificationDestinationError",
    "PermanentError",
    "ReadBackMismatchError",
    "RecommendationFailedError",
    "RecommendationRevertedError",
    "RollbackRefusedError",
    "TerraformInputError",
    "UnsupportedClusterError",
    "UnsupportedPathError",
    "WebhookLimitError",
}


@pytest.mark.parametrize("kind", error_classes(), ids=lambda kind: kind.__name__)
def test_each_class_says_whether_it_is_permanent(kind: type[core.GradientError]) -> None:
    assert kind.permanent is (kind.__name__ in PERMANENT)
    # `except PermanentError` catches exactly the permanent ones.
    assert issubclass(kind, core.PermanentError) is kind.permanent
    # Defined once: the edge re-exports the core's class itself.
    assert getattr(edge, kind.__name__) is kind
    assert kind.__module__ == core.__name__


def test_every_name_importable_before_still_is() -> None:
    for name in NAMES_BEFORE:
        assert isinstance(getattr(edge, name), type), name


def test_the_core_classes_know_nothing_of_airflow() -> None:
    for kind in error_classes():
        assert not issubclass(kind, AirflowException), kind


def test_a_permanent_error_leaves_a_task_as_a_fail_exception_of_its_own_class() -> None:
    error = core.RollbackRefusedError("refused", differences=[{"path": "num_workers"}])
    mapped = edge.airflow_error(error)
    assert isinstance(mapped, AirflowFailException)
    assert isinstance(mapped, edge.RollbackRefusedError)
    assert isinstance(mapped, edge.PermanentError)
    assert str(mapped) == "refused"
    assert mapped.differences == [{"path": "num_workers"}]
    assert type(edge.airflow_error(core.RollbackRefusedError("again"))) is type(mapped)


def test_a_subclass_keeps_its_bases_when_mapped() -> None:
    mapped = edge.airflow_error(core.WebhookLimitError("full"))
    assert isinstance(mapped, edge.WebhookLimitError)
    assert isinstance(mapped, edge.DatabricksJobError)
    assert isinstance(mapped, AirflowFailException)


@pytest.mark.parametrize(
    "error",
    [
        core.GradientApiError("HTTP 503", status=503),
        core.DatabricksJobError("timed out"),
        core.NoRecommendationError("none yet"),
        KeyError("x"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_other_errors_are_left_as_they_are(error: BaseException) -> None:
    assert edge.airflow_error(error) is error
    assert not isinstance(error, AirflowFailException)


# --- the boundary: every task method of every operator and sensor ------------------------------


def package_operators() -> list[type[BaseOperator]]:
    """Every BaseOperator subclass defined in the package (each module imported)."""
    for module in pkgutil.walk_packages(airflow_gradient.__path__, "airflow_gradient."):
        if ".sandbox" not in module.name and ".cli" not in module.name:
            importlib.import_module(module.name)
    found: list[type[BaseOperator]] = []
    pending: list[type[Any]] = [BaseOperator]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("airflow_gradient."):
                found.append(sub)
    return sorted(set(found), key=lambda kind: kind.__qualname__)


def test_the_package_has_the_operators_and_sensors_it_documents() -> None:
    names = {kind.__name__ for kind in package_operators()}
    assert {
        "GradientApplyRecommendationOperator",
        "GradientRecommendationSensor",
        "GradientRequestRecommendationOperator",
        "GradientRollbackOperator",
        "GradientWebhookOperator",
        "GradientWorkflowClustersOperator",
    } <= names


@pytest.mark.parametrize("kind", package_operators(), ids=lambda kind: kind.__name__)
def test_every_operator_maps_errors_in_every_task_method(kind: type[BaseOperator]) -> None:
    assert issubclass(kind, edge.ErrorBoundary), f"{kind.__name__} does not derive ErrorBoundary"
    for name in edge.BOUNDARY_METHODS:
        method = getattr(kind, name, None)
        if method is not None:
            assert edge.is_at_boundary(method), f"{kind.__name__}.{name} is not mapped"
    # Methods a deferral resumes in are reached through resume_execution, which is mapped.
    assert edge.is_at_boundary(kind.resume_execution)


def test_a_users_subclass_is_covered_without_doing_anything() -> None:
    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    class MyApply(GradientApplyRecommendationOperator):
        def execute(self, context: Any) -> Any:
            raise core.InvalidArgumentsError("my check refused it")

        def finish(self, context: Any, event: Any = None) -> Any:
            raise core.ClusterNotFoundError("gone after the deferral")

    task = MyApply(task_id="mine", project_id="p-1", job_id=1)
    with pytest.raises(AirflowFailException, match="my check refused it") as caught:
        task.execute({})
    assert isinstance(caught.value, edge.InvalidArgumentsError)
    assert isinstance(caught.value.__cause__, core.InvalidArgumentsError)
    # A deferral that resumes in a method of any name is mapped too.
    with pytest.raises(AirflowFailException, match="gone after the deferral"):
        task.resume_execution("finish", {"event": None}, {})


def test_a_users_subclass_can_still_catch_what_the_base_raises() -> None:
    from airflow_gradient.operators.rollback import GradientRollbackOperator

    class Base(GradientRollbackOperator):
        def execute(self, context: Any) -> Any:
            raise core.RollbackRefusedError("changed since", differences=[{"path": "x"}])

    class Tolerant(Base):
        def execute(self, context: Any) -> Any:
            try:
                return super().execute(context)
            except edge.RollbackRefusedError as err:
                return {"refused": str(err), "differences": err.differences}

    result = Tolerant(task_id="tolerant", apply_result={}).execute({})
    assert result == {"refused": "changed since", "differences": [{"path": "x"}]}


def test_a_transient_error_leaves_a_task_unchanged() -> None:
    from airflow_gradient.operators.request import GradientRequestRecommendationOperator

    error = core.GradientTransportError("could not be reached")

    class Flaky(GradientRequestRecommendationOperator):
        def execute(self, context: Any) -> Any:
            raise error

    with pytest.raises(core.GradientTransportError) as caught:
        Flaky(task_id="flaky", project_id="p-1").execute({})
    assert caught.value is error
    assert not isinstance(caught.value, AirflowFailException)


def test_the_old_context_manager_still_maps() -> None:
    with (
        pytest.warns(DeprecationWarning, match="not needed"),
        pytest.raises(AirflowFailException, match="bad"),
        edge.airflow_errors(),
    ):
        raise core.InvalidGuardRailsError("bad")


def test_a_bad_hook_argument_is_permanent_and_still_a_value_error() -> None:
    from airflow_gradient.hooks.gradient import GradientHook

    with pytest.raises(ValueError, match="retry_limit must be at least 1") as caught:
        GradientHook(retry_limit=0)
    assert isinstance(caught.value, edge.InvalidArgumentsError)
    assert isinstance(edge.airflow_error(caught.value), AirflowFailException)
