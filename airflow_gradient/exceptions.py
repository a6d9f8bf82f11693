"""The Airflow-facing errors: every class is an ``AirflowException``.

The core (:mod:`airflow_gradient.core`) raises plain errors (:mod:`airflow_gradient.core.errors`);
each has a class of the same name here that is both the core error and a :class:`GradientError`,
so ``except InvalidRecommendationError`` catches either. :func:`airflow_errors` turns a core
error into its Airflow-facing class at the edge (operators, sensors, triggers). Transient errors
are ``AirflowException`` (Airflow retries the task); permanent ones also
``AirflowFailException`` (the task fails without retries).

Each message names the object (project id, job id, cluster key), says what was found and
what to do. No message ever carries a credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_gradient.core import errors as core


class GradientError(AirflowException):
    """Base class of every error raised by airflow-gradient. Transient unless it is also a
    :class:`PermanentError`: Airflow retries the task."""


class PermanentError(AirflowFailException):
    """Mixed into every error a retry cannot fix: the task fails at once, without retries.

    Permanent: :class:`GradientAuthError`, :class:`InsecureConnectionError`,
    :class:`InvalidRecommendationError`, :class:`ClusterNotFoundError`,
    :class:`AmbiguousClusterError`, :class:`UnsupportedClusterError`,
    :class:`InvalidClusterSpecError`, :class:`GuardRailViolationError`,
    :class:`InvalidGuardRailsError`, :class:`UnsupportedPathError`,
    :class:`AutoApplyConflictError`, :class:`InvalidArgumentsError`,
    :class:`RecommendationRevertedError`, :class:`RollbackRefusedError`,
    :class:`WebhookLimitError`, :class:`TerraformInputError`,
    :class:`AwaitedRecommendationFailedError`, :class:`ProjectLookupError`.

    Transient (retried): :class:`GradientApiError` (429, 5xx, a refused call),
    :class:`GradientUnexpectedResponseError`, :class:`GradientTransportError`,
    :class:`NoRecommendationError`, :class:`RecommendationFailedError`,
    :class:`DatabricksJobError` (network, 429, 5xx, a read-back that could not be read),
    :class:`ReadBackMismatchError`, :class:`NotificationDestinationError`.
    """


# --- Gradient API -------------------------------------------------------------------------


class GradientApiError(GradientError):
    """The Gradient API answered with an error envelope (or something that is not one).

    Keeps the HTTP ``status`` and Gradient's ``code``, ``message`` and ``detail``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        api_message: str | None = None,
        detail: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.api_message = api_message
        self.detail = detail


class GradientAuthError(GradientApiError, PermanentError):
    """The API key id/secret were refused. Never retried: fix the connection."""


class GradientUnexpectedResponseError(GradientApiError):
    """A reply that is neither ``{"result": ...}`` nor ``{"error": ...}`` (HTML, bad JSON, ...)."""


class GradientTransportError(GradientError):
    """The Gradient API could not be reached within the configured retries and time bound."""


class InsecureConnectionError(GradientError, PermanentError):
    """Refused to send credentials over plain http:// to a host that is not loopback."""


# --- Recommendations and clusters (raised by the pure core) -----------------------------


class InvalidRecommendationError(core.InvalidRecommendationError, GradientError, PermanentError):
    """A recommendation reply is malformed or cannot be applied."""


class NoRecommendationError(core.NoRecommendationError, GradientError):
    """The project has no recommendation in the wanted state."""


class RecommendationFailedError(GradientError):
    """Gradient reported FAILURE for the awaited recommendation."""


class AwaitedRecommendationFailedError(RecommendationFailedError, PermanentError):
    """The recommendation named as the reference (e.g. the one just requested) is FAILURE.

    Also an ``AirflowFailException``: retrying the task would read the same FAILURE again, so
    the task fails without retries. Request a new recommendation instead.
    """


class ClusterNotFoundError(core.ClusterNotFoundError, GradientError, PermanentError):
    """The cluster the project tunes could not be found in the job."""


class AmbiguousClusterError(core.AmbiguousClusterError, GradientError, PermanentError):
    """The job has several clusters and nothing says which one the project tunes."""


class UnsupportedClusterError(core.UnsupportedClusterError, GradientError, PermanentError):
    """The target runs on compute Gradient cannot tune (all-purpose cluster, serverless)."""


class InvalidClusterSpecError(core.InvalidClusterSpecError, GradientError, PermanentError):
    """The merged cluster spec would be rejected by Databricks."""


class GuardRailViolationError(core.GuardRailViolationError, GradientError, PermanentError):
    """The recommendation breaks one or more guard rails; ``violations`` lists every one."""


class InvalidGuardRailsError(core.InvalidGuardRailsError, GradientError, PermanentError):
    """The ``guard_rails`` argument has an unknown key or a value of the wrong type."""


# --- Airflow wiring and Databricks ---------------------------------------------------------


class UnsupportedPathError(GradientError, PermanentError):
    """The DAG uses a path Gradient cannot work with (one-time runs, jobs reset on each run)."""


class InvalidArgumentsError(GradientError, PermanentError):
    """An operator argument, once rendered, cannot be used (no job to work on, two at once)."""


class AutoApplyConflictError(core.AutoApplyConflictError, GradientError, PermanentError):
    """The project has ``auto_apply_recs`` on: Gradient applies recommendations itself."""


class DatabricksJobError(core.DatabricksJobError, GradientError):
    """Reading or updating the Databricks job failed, or the job is not what was expected."""


class ProjectLookupError(core.ProjectLookupError, GradientError, PermanentError):
    """No ``project_id`` was given and not exactly one Gradient project tracks the job."""


class RecommendationRevertedError(core.RecommendationRevertedError, GradientError, PermanentError):
    """The cluster is tagged with a recommendation whose values something else reverted."""


class ReadBackMismatchError(core.ReadBackMismatchError, DatabricksJobError):
    """After ``jobs/update`` the job's cluster does not equal the spec that was written."""


class RollbackRefusedError(core.RollbackRefusedError, GradientError, PermanentError):
    """A rollback was refused: the job's cluster changed since the apply, or the apply result
    cannot be used. ``differences`` holds the three-way difference, one
    ``{"path", "previous", "applied", "current"}`` dict per field (empty when not applicable)."""


class NotificationDestinationError(core.NotificationDestinationError, GradientError):
    """The notification destination could not be found, told apart, or created."""


class DestinationExistsError(NotificationDestinationError):
    """Databricks refused to create a destination because one of that name exists."""


class WebhookLimitError(core.WebhookLimitError, DatabricksJobError, PermanentError):
    """The job's ``on_start`` already holds the most destinations Databricks allows."""


class TerraformInputError(core.TerraformInputError, GradientError, PermanentError):
    """A plan, state, recommendation or ``.tf`` file is not what the Terraform helpers need."""


def _edge_classes() -> dict[type[core.CoreError], type[GradientError]]:
    """Each core error class → the class of the same name here."""
    found: dict[type[core.CoreError], type[GradientError]] = {}
    for value in list(globals().values()):
        if isinstance(value, type) and issubclass(value, GradientError):
            for base in value.__bases__:
                if base.__module__ == core.__name__ and base.__name__ == value.__name__:
                    found[base] = value
    return found


_EDGE_CLASSES = _edge_classes()


def airflow_error(error: core.CoreError) -> GradientError:
    """The Airflow-facing form of a core error: same message, same attributes, same name."""
    if isinstance(error, GradientError):
        return error
    edge = next(
        (_EDGE_CLASSES[kind] for kind in type(error).__mro__ if kind in _EDGE_CLASSES),
        GradientError,
    )
    mapped = edge.__new__(edge, *error.args)
    mapped.args = error.args
    mapped.__dict__.update(error.__dict__)
    return mapped


@contextmanager
def airflow_errors() -> Iterator[None]:
    """Raise every core error escaping the block as its Airflow-facing class.

    The traceback and cause are kept, so the log shows where the core decided.
    """
    try:
        yield
    except core.CoreError as error:
        if isinstance(error, GradientError):
            raise
        mapped = airflow_error(error)
        raise mapped.with_traceback(error.__traceback__) from error.__cause__
