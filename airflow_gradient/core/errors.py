"""The core's plain exceptions: no Airflow import.

Each message names the object (project id, job id, cluster key), says what was found and what
to do, and never carries a credential. The edge (:mod:`airflow_gradient.exceptions`) defines an
Airflow-facing class of the same name for each, and maps one to the other.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmbiguousClusterError",
    "AutoApplyConflictError",
    "ClusterNotFoundError",
    "CoreError",
    "DatabricksJobError",
    "GuardRailViolationError",
    "InvalidClusterSpecError",
    "InvalidGuardRailsError",
    "InvalidRecommendationError",
    "NoRecommendationError",
    "NotificationDestinationError",
    "ProjectLookupError",
    "ReadBackMismatchError",
    "RecommendationRevertedError",
    "RollbackRefusedError",
    "TerraformInputError",
    "UnsupportedClusterError",
    "WebhookLimitError",
]


class CoreError(Exception):
    """Base class of every error the core raises."""


class InvalidRecommendationError(CoreError):
    """A recommendation reply is malformed or cannot be applied."""


class NoRecommendationError(CoreError):
    """The project has no recommendation in the wanted state."""


class ClusterNotFoundError(CoreError):
    """The cluster the project tunes could not be found in the job."""


class AmbiguousClusterError(CoreError):
    """The job has several clusters and nothing says which one the project tunes."""


class UnsupportedClusterError(CoreError):
    """The target runs on compute Gradient cannot tune (all-purpose cluster, serverless)."""


class InvalidClusterSpecError(CoreError):
    """The merged cluster spec would be rejected by Databricks."""


class GuardRailViolationError(CoreError):
    """The recommendation breaks one or more guard rails; ``violations`` lists every one."""

    def __init__(self, message: str, *, violations: list[str]) -> None:
        super().__init__(message)
        self.violations = violations


class InvalidGuardRailsError(CoreError):
    """The ``guard_rails`` argument has an unknown key or a value of the wrong type."""


class AutoApplyConflictError(CoreError):
    """The project has ``auto_apply_recs`` on: Gradient applies recommendations itself."""


class DatabricksJobError(CoreError):
    """The Databricks job is not what was expected, or a write to it did not land."""


class ProjectLookupError(CoreError):
    """No ``project_id`` was given and not exactly one Gradient project tracks the job."""


class RecommendationRevertedError(CoreError):
    """The cluster is tagged with a recommendation whose values something else reverted."""


class ReadBackMismatchError(DatabricksJobError):
    """After ``jobs/update`` the job's cluster does not equal the spec that was written."""


class RollbackRefusedError(CoreError):
    """A rollback was refused: the job's cluster changed since the apply, or the apply result
    cannot be used. ``differences`` holds the three-way difference, one
    ``{"path", "previous", "applied", "current"}`` dict per field (empty when not applicable)."""

    def __init__(self, message: str, *, differences: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.differences = list(differences or [])


class NotificationDestinationError(CoreError):
    """The notification destination could not be found, told apart, or created."""


class WebhookLimitError(DatabricksJobError):
    """The job's ``on_start`` already holds the most destinations Databricks allows."""


class TerraformInputError(CoreError, ValueError):
    """A plan, state, recommendation or ``.tf`` file is not what the command needs.

    The message is one line and names no file: the caller prefixes the file name. Also a
    ``ValueError``, as it was before the core had its own hierarchy.
    """
