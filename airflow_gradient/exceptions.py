"""One small hierarchy of errors; every class is an ``AirflowException``.

Each message names the object (project id, job id, cluster key), says what was found and
what to do. No message ever carries a credential.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class GradientError(AirflowException):
    """Base class of every error raised by airflow-gradient."""


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


class GradientAuthError(GradientApiError):
    """The API key id/secret were refused. Never retried: fix the connection."""


class GradientUnexpectedResponseError(GradientApiError):
    """A reply that is neither ``{"result": ...}`` nor ``{"error": ...}`` (HTML, bad JSON, ...)."""


class GradientTransportError(GradientError):
    """The Gradient API could not be reached within the configured retries and time bound."""


class InsecureConnectionError(GradientError):
    """Refused to send credentials over plain http:// to a host that is not loopback."""


# --- Recommendations and clusters (raised by the pure core) -----------------------------


class InvalidRecommendationError(GradientError):
    """A recommendation reply is malformed or cannot be applied."""


class NoRecommendationError(GradientError):
    """The project has no recommendation in the wanted state."""


class RecommendationFailedError(GradientError):
    """Gradient reported FAILURE for the awaited recommendation."""


class AwaitedRecommendationFailedError(RecommendationFailedError, AirflowFailException):
    """The recommendation named as the reference (e.g. the one just requested) is FAILURE.

    Also an ``AirflowFailException``: retrying the task would read the same FAILURE again, so
    the task fails without retries. Request a new recommendation instead.
    """


class ClusterNotFoundError(GradientError):
    """The cluster the project tunes could not be found in the job."""


class AmbiguousClusterError(GradientError):
    """The job has several clusters and nothing says which one the project tunes."""


class UnsupportedClusterError(GradientError):
    """The target runs on compute Gradient cannot tune (all-purpose cluster, serverless)."""


class InvalidClusterSpecError(GradientError):
    """The merged cluster spec would be rejected by Databricks."""


class GuardRailViolationError(GradientError):
    """The recommendation breaks one or more guard rails; ``violations`` lists every one."""

    def __init__(self, message: str, *, violations: list[str]) -> None:
        super().__init__(message)
        self.violations = violations


class InvalidGuardRailsError(GradientError):
    """The ``guard_rails`` argument has an unknown key or a value of the wrong type."""


# --- Airflow wiring and Databricks ---------------------------------------------------------


class UnsupportedPathError(GradientError):
    """The DAG uses a path Gradient cannot work with (one-time runs, jobs reset on each run)."""


class AutoApplyConflictError(GradientError):
    """The project has ``auto_apply_recs`` on: Gradient applies recommendations itself."""


class DatabricksJobError(GradientError):
    """Reading or updating the Databricks job failed, or the job is not what was expected."""


class RecommendationRevertedError(GradientError):
    """The cluster is tagged with a recommendation whose values something else reverted."""


class ReadBackMismatchError(DatabricksJobError):
    """After ``jobs/update`` the job's cluster does not equal the spec that was written."""


class RollbackRefusedError(GradientError):
    """A rollback was refused: the job's cluster changed since the apply, or the apply result
    cannot be used. ``differences`` holds the three-way difference, one
    ``{"path", "previous", "applied", "current"}`` dict per field (empty when not applicable)."""

    def __init__(self, message: str, *, differences: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.differences = list(differences or [])


class NotificationDestinationError(GradientError):
    """The notification destination could not be found, told apart, or created."""


class DestinationExistsError(NotificationDestinationError):
    """Databricks refused to create a destination because one of that name exists."""


class WebhookLimitError(DatabricksJobError):
    """The job's ``on_start`` already holds the most destinations Databricks allows."""
