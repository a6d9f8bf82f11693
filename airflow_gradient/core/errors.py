"""Every error airflow-gradient raises, defined once, with no Airflow import.

Each class says whether a retry can fix it: ``permanent`` is ``True`` for the subclasses of
:class:`PermanentError` (the same inputs give the same refusal: a bad argument, a bad
connection, a recommendation that breaks a guard rail) and ``False`` otherwise (network,
429/5xx, a write that did not land). The Airflow boundary
(:mod:`airflow_gradient.exceptions`) reads it: a permanent error fails the task without
retries, any other is retried.

Each message names the object (project id, job id, cluster key), says what was found and what
to do, and never carries a credential.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
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
]


class GradientError(Exception):
    """Base class of every error raised by airflow-gradient. Transient: Airflow retries."""

    permanent: ClassVar[bool] = False


CoreError = GradientError
"""The name this module gave :class:`GradientError` before the one model (an alias, kept one
release for code that imports it)."""


class PermanentError(GradientError):
    """Base class of every error a retry cannot fix: the task fails at once, without retries."""

    permanent: ClassVar[bool] = True


# --- arguments and configuration ---------------------------------------------------------------


class InvalidArgumentsError(PermanentError, ValueError):
    """An operator or hook argument, once rendered, cannot be used (no job to work on, two at
    once, a ``newer_than`` that is neither an id nor a time). Also a ``ValueError``."""


class UnsupportedPathError(PermanentError):
    """The DAG uses a path Gradient cannot work with (one-time runs, jobs reset on each run)."""


class InvalidGuardRailsError(PermanentError):
    """The ``guard_rails`` argument has an unknown key or a value of the wrong type."""


class TerraformInputError(PermanentError, ValueError):
    """A plan, state, recommendation or ``.tf`` file is not what the command needs.

    The message is one line and names no file: the caller prefixes the file name. Also a
    ``ValueError``, as it was before the package had its own hierarchy.
    """


# --- the Gradient API ---------------------------------------------------------------------------


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


class GradientRequestRefusedError(GradientApiError, PermanentError):
    """Gradient refused the request itself (HTTP 400, 404, 422, ...: a wrong id or argument);
    sending it again gets the same answer."""


class GradientAuthError(GradientApiError, PermanentError):
    """The API key id/secret were refused. Never retried: fix the connection."""


class GradientUnexpectedResponseError(GradientApiError):
    """A reply that is neither ``{"result": ...}`` nor ``{"error": ...}`` (HTML, bad JSON, ...)."""


class GradientTransportError(GradientError):
    """The Gradient API could not be reached within the configured retries and time bound."""


class InsecureConnectionError(PermanentError):
    """The connection is refused as unsafe or unusable: credentials over plain http:// to a host
    that is not loopback, a CA bundle that is not a file, a proxy that is not a URL."""


# --- recommendations and clusters ---------------------------------------------------------------


class InvalidRecommendationError(PermanentError):
    """A recommendation reply is malformed or cannot be applied."""


class NoRecommendationError(GradientError):
    """The project has no recommendation in the wanted state (a later try may find one)."""


class RecommendationFailedError(GradientError):
    """Gradient reported FAILURE for the awaited recommendation."""


class AwaitedRecommendationFailedError(RecommendationFailedError, PermanentError):
    """The recommendation named as the reference (e.g. the one just requested) is FAILURE.

    Retrying the task would read the same FAILURE again, so the task fails without retries.
    Request a new recommendation instead.
    """


class ClusterNotFoundError(PermanentError):
    """The cluster the project tunes could not be found in the job."""


class AmbiguousClusterError(PermanentError):
    """The job has several clusters and nothing says which one the project tunes."""


class UnsupportedClusterError(PermanentError):
    """The target runs on compute Gradient cannot tune (all-purpose cluster, serverless)."""


class InvalidClusterSpecError(PermanentError):
    """The merged cluster spec would be rejected by Databricks."""


class GuardRailViolationError(PermanentError):
    """The recommendation breaks one or more guard rails; ``violations`` lists every one."""

    def __init__(self, message: str, *, violations: list[str]) -> None:
        super().__init__(message)
        self.violations = violations


class AutoApplyConflictError(PermanentError):
    """The project has ``auto_apply_recs`` on: Gradient applies recommendations itself."""


class RecommendationRevertedError(PermanentError):
    """The cluster is tagged with a recommendation whose values something else reverted."""


class RollbackRefusedError(PermanentError):
    """A rollback was refused: the job's cluster changed since the apply, or the apply result
    cannot be used. ``differences`` holds the three-way difference, one
    ``{"path", "previous", "applied", "current"}`` dict per field (empty when not applicable)."""

    def __init__(self, message: str, *, differences: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.differences = list(differences or [])


# --- Databricks ----------------------------------------------------------------------------------


class DatabricksJobError(GradientError):
    """Reading or updating the Databricks job failed (network, 429, 5xx, a read-back that could
    not be read), or a write to it did not land."""


class InvalidJobReferenceError(DatabricksJobError, InvalidArgumentsError):
    """The job the arguments name cannot be used: ``job_id`` is not an integer, no job has that
    id or ``job_name``, or the Gradient project tunes another job."""


class DatabricksRequestRefusedError(DatabricksJobError, PermanentError):
    """Databricks refused the request itself (HTTP 400, 403, 404, ...: a missing permission or
    a wrong id); sending it again gets the same answer."""


class ReadBackMismatchError(DatabricksJobError):
    """After ``jobs/update`` the job's cluster does not equal the spec that was written."""


class WebhookLimitError(DatabricksJobError, PermanentError):
    """The job's ``on_start`` already holds the most destinations Databricks allows."""


class NotificationDestinationError(GradientError):
    """The notification destination could not be found, told apart, or created."""


class DestinationConfigurationError(NotificationDestinationError, PermanentError):
    """The destination cannot be used as configured: the webhook connection is missing or is no
    http(s) URL, several destinations share the name, or the Gradient workspace names none."""


class DestinationExistsError(NotificationDestinationError):
    """Databricks refused to create a destination because one of that name exists."""


class BundleInputError(PermanentError, ValueError):
    """A bundle directory, one of its YAML files, a target, a job or a cluster is not what the
    ``bundle`` command needs. ``path`` names the file (relative to the bundle root, or ``""``)."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.problem = message


class BundleWriteBackRefusedError(PermanentError):
    """A recommendation cannot be written into a bundle as asked. ``reasons`` lists each one;
    ``targets`` names the other targets an edit of the defining file would change."""

    def __init__(
        self, message: str, *, reasons: list[str], targets: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.reasons = list(reasons)
        self.targets = list(targets or [])


class BundleOwnedJobError(PermanentError):
    """The job is owned by an Asset Bundle (``on_bundle="fail"``) or managed by Databricks
    (``deployment.kind == "SYSTEM_MANAGED"``, read-only): nothing was written."""


class ProjectLinkError(PermanentError):
    """A Gradient project tracks another Databricks job than the one it is used with."""


class ProjectLookupError(PermanentError):
    """No ``project_id`` was given and not exactly one Gradient project tracks the job."""


class HealthCheckFailedError(PermanentError):
    """GradientHealthCheckOperator found checks at or above its ``fail_on`` level. Not retried:
    the fix is outside Airflow (the job, the project, the workspace)."""
