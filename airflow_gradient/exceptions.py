"""The Airflow boundary of airflow-gradient's errors: the one place they meet Airflow.

Every error class is defined once, in :mod:`airflow_gradient.core.errors`, and importable from
here under the same name (the same class: ``except InvalidRecommendationError`` catches what
the hooks and the core raise). Each says whether a retry can fix it (``permanent``).

The mapping is :func:`airflow_error`: a permanent error leaves a task as an
``AirflowFailException`` (the task fails at once, without retries), which is still an instance
of its own class (``except GuardRailViolationError`` and its attributes keep working) and
chains the original; any other error propagates unchanged and Airflow retries the task.

:class:`ErrorBoundary` applies it where it cannot be forgotten: every operator and sensor of
the package derives from it, and its ``__init_subclass__`` wraps the methods through which
Airflow enters a task (``execute``, ``poke``, ``execute_complete``, ``resume_execution``) of
every subclass, a user's subclass included.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_gradient.core.errors import (
    AmbiguousClusterError,
    AutoApplyConflictError,
    AwaitedRecommendationFailedError,
    BundleInputError,
    BundleOwnedJobError,
    BundleWriteBackRefusedError,
    ClusterNotFoundError,
    DatabricksJobError,
    DatabricksRequestRefusedError,
    DestinationConfigurationError,
    DestinationExistsError,
    GradientApiError,
    GradientAuthError,
    GradientError,
    GradientRequestRefusedError,
    GradientTransportError,
    GradientUnexpectedResponseError,
    GuardRailViolationError,
    HealthCheckFailedError,
    InsecureConnectionError,
    InvalidArgumentsError,
    InvalidClusterSpecError,
    InvalidGuardRailsError,
    InvalidJobReferenceError,
    InvalidRecommendationError,
    NoRecommendationError,
    NotificationDestinationError,
    PermanentError,
    ProjectLinkError,
    ProjectLookupError,
    ReadBackMismatchError,
    RecommendationFailedError,
    RecommendationRevertedError,
    RollbackRefusedError,
    TerraformInputError,
    UnsupportedClusterError,
    UnsupportedPathError,
    WebhookLimitError,
)

__all__ = [
    "BOUNDARY_METHODS",
    "AmbiguousClusterError",
    "AutoApplyConflictError",
    "AwaitedRecommendationFailedError",
    "BundleInputError",
    "BundleOwnedJobError",
    "BundleWriteBackRefusedError",
    "ClusterNotFoundError",
    "DatabricksJobError",
    "DatabricksRequestRefusedError",
    "DestinationConfigurationError",
    "DestinationExistsError",
    "ErrorBoundary",
    "GradientApiError",
    "GradientAuthError",
    "GradientError",
    "GradientRequestRefusedError",
    "GradientTransportError",
    "GradientUnexpectedResponseError",
    "GuardRailViolationError",
    "HealthCheckFailedError",
    "InsecureConnectionError",
    "InvalidArgumentsError",
    "InvalidClusterSpecError",
    "InvalidGuardRailsError",
    "InvalidJobReferenceError",
    "InvalidRecommendationError",
    "NoRecommendationError",
    "NotificationDestinationError",
    "PermanentError",
    "ProjectLinkError",
    "ProjectLookupError",
    "ReadBackMismatchError",
    "RecommendationFailedError",
    "RecommendationRevertedError",
    "RollbackRefusedError",
    "TerraformInputError",
    "UnsupportedClusterError",
    "UnsupportedPathError",
    "WebhookLimitError",
    "airflow_error",
    "airflow_errors",
]

BOUNDARY_METHODS = ("execute", "execute_complete", "poke", "resume_execution")
"""The methods through which Airflow enters a task: an error leaving one of them is mapped.
(``resume_execution`` calls whatever method a deferral resumes in, whatever its name.)"""

_Method = TypeVar("_Method", bound=Callable[..., Any])


class _FailsTask(AirflowFailException):
    """Mixed into a permanent error as it leaves a task (see :func:`airflow_error`)."""

    def __init__(self, original: GradientError) -> None:
        # Not the error class's own __init__ (its keyword arguments are copied instead).
        BaseException.__init__(self, *original.args)
        self.__dict__.update(vars(original))


_FAILING_CLASSES: dict[type[GradientError], type[_FailsTask]] = {}


def _failing_class(kind: type[GradientError]) -> type[_FailsTask]:
    """``kind`` that is also an ``AirflowFailException``: one class per error class, made once."""
    if kind not in _FAILING_CLASSES:
        _FAILING_CLASSES[kind] = type(
            kind.__name__,
            (_FailsTask, kind),
            {"__module__": __name__, "__qualname__": kind.__qualname__, "__doc__": kind.__doc__},
        )
    return _FAILING_CLASSES[kind]


def airflow_error(error: BaseException) -> BaseException:
    """What ``error`` becomes when it leaves a task: for a permanent :class:`GradientError`, an
    ``AirflowFailException`` that is still a ``type(error)`` with the same message and
    attributes; any other error is returned as it is (Airflow retries the task)."""
    if (
        not isinstance(error, GradientError)
        or not error.permanent
        or isinstance(error, AirflowFailException)
    ):
        return error
    return _failing_class(type(error))(error)


def _at_boundary(method: _Method) -> _Method:
    """``method`` with :func:`airflow_error` applied to what it raises (original chained)."""

    @functools.wraps(method)
    def boundary(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except GradientError as error:
            mapped = airflow_error(error)
            if mapped is error:
                raise
            raise mapped from error

    boundary.__gradient_boundary__ = True  # type: ignore[attr-defined]
    return boundary  # type: ignore[return-value]


def is_at_boundary(method: Any) -> bool:
    """Whether ``method`` maps the errors it raises (wrapped by :class:`ErrorBoundary`)."""
    return bool(getattr(method, "__gradient_boundary__", False))


class ErrorBoundary:
    """Base of every operator and sensor of the package: the errors leaving a task are mapped.

    ``__init_subclass__`` wraps each of :data:`BOUNDARY_METHODS` a class defines, so a subclass
    that overrides ``execute`` (the package's or a user's) is covered without doing anything.
    """

    boundary_methods: ClassVar[tuple[str, ...]] = BOUNDARY_METHODS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls.boundary_methods:
            method = cls.__dict__.get(name)
            if callable(method) and not is_at_boundary(method):
                setattr(cls, name, _at_boundary(method))

    @_at_boundary
    def resume_execution(self, *args: Any, **kwargs: Any) -> Any:
        """Airflow's resume after a deferral, with the errors of the resumed method mapped."""
        return super().resume_execution(*args, **kwargs)  # type: ignore[misc]


@contextmanager
def airflow_errors() -> Iterator[None]:
    """Deprecated: not needed, :class:`ErrorBoundary` maps the errors of every task method.

    Kept for one release for code that still wraps a method in it; maps like the boundary.
    """
    warnings.warn(
        "airflow_errors() is not needed: operators and sensors deriving from "
        "airflow_gradient.exceptions.ErrorBoundary map errors in execute, poke and resume.",
        DeprecationWarning,
        stacklevel=3,
    )
    try:
        yield
    except GradientError as error:
        mapped = airflow_error(error)
        if mapped is error:
            raise
        raise mapped from error
