"""GradientRequestRecommendationOperator: ask Gradient for a new recommendation, at most once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_gradient.exceptions import ErrorBoundary, InvalidArgumentsError
from airflow_gradient.hook_properties import GradientHookProperty
from airflow_gradient.links import GradientProjectLink, gradient_project_url

if TYPE_CHECKING:
    from airflow.sdk import Context


DEFAULT_REUSE_WINDOW = timedelta(minutes=30)
"""A PENDING recommendation younger than this is reused instead of requesting another."""


class GradientRequestRecommendationOperator(ErrorBoundary, GradientHookProperty, BaseOperator):
    """Request a new recommendation for a Gradient project; return (XCom) its id.

    ``POST /v1/projects/{id}/recommendations`` is not idempotent, so it is sent once and never
    retried blindly. Before it, the project's newest recommendations are read: when one is
    ``PENDING`` and was created within ``reuse_pending_within``, its id is returned instead and
    nothing is posted. That also makes a task retry safe after a lost reply: the request that
    did reach Gradient is found and reused.

    Wait for the result with
    :class:`~airflow_gradient.sensors.recommendation.GradientRecommendationSensor`
    (``newer_than=request.output``).

    :param project_id: Gradient project id (templated). Default: the one project tracking
        ``job_id`` (none or several fail the task without retries, listing what was found).
    :param job_id: Databricks job id (templated), when ``project_id`` is not given: the project
        tracking it is used (one Gradient call, no Databricks call).
    :param reuse_pending_within: how recent a ``PENDING`` recommendation must be to be reused,
        as a ``timedelta`` (default 30 minutes); ``None`` or ``timedelta(0)`` always requests.
    :param gradient_conn_id: connection of type ``gradient`` (templated).
    :param gradient_hook_params: keyword arguments for :class:`GradientHook` (timeouts, retries).
    """

    template_fields: Sequence[str] = ("project_id", "job_id", "gradient_conn_id")
    operator_extra_links = (GradientProjectLink(),)
    ui_color = "#7B61FF"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        project_id: str | None = None,
        job_id: int | str | None = None,
        reuse_pending_within: timedelta | None = DEFAULT_REUSE_WINDOW,
        gradient_conn_id: str = "gradient_default",
        gradient_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if reuse_pending_within is not None and (
            not isinstance(reuse_pending_within, timedelta) or reuse_pending_within < timedelta(0)
        ):
            raise ValueError(
                f"{self.task_id}: reuse_pending_within must be a non-negative timedelta (e.g. "
                f"timedelta(minutes=30)) or None, not {reuse_pending_within!r}."
            )
        if project_id is None and job_id is None:
            raise ValueError(
                f"{self.task_id}: give project_id, or job_id of the Databricks job (then the one "
                "Gradient project tracking it is used)."
            )
        self.project_id = project_id
        self.job_id = job_id
        self.reuse_pending_within = reuse_pending_within
        self.gradient_conn_id = gradient_conn_id
        self.gradient_hook_params = dict(gradient_hook_params or {})

    def execute(self, context: Context) -> str:
        project_id = self._project_id()
        GradientProjectLink.persist(
            context, gradient_project_url(self.gradient_hook.credentials.base_url, project_id)
        )
        reused = self._recent_pending(project_id)
        if reused is not None:
            return reused
        rec_id = self.gradient_hook.request_recommendation(project_id)
        self.log.info(
            "Requested recommendation %s for Gradient project %s (PENDING until Gradient "
            "finishes it).",
            rec_id,
            project_id,
        )
        return rec_id

    def _project_id(self) -> str:
        """``project_id``, else the one project tracking ``job_id`` (or a permanent error)."""
        from airflow_gradient.core.project_lookup import project_id_for_job

        given = _text(self.project_id)
        if given is not None:
            return given
        job_id = _text(self.job_id)
        if job_id is None:
            raise InvalidArgumentsError(
                f"{self.task_id}: project_id and job_id rendered empty: give project_id, or the "
                "Databricks job whose Gradient project to ask."
            )
        found = project_id_for_job(self.gradient_hook.find_projects_for_job(job_id), job_id)
        self.log.info(
            "No project_id given: Gradient project %s is the one tracking Databricks job %s.",
            found,
            job_id,
        )
        return found

    def _recent_pending(self, project_id: str) -> str | None:
        """The id of a recent PENDING recommendation to reuse, if reuse is on and one exists."""
        window = self.reuse_pending_within
        if not window:
            self.log.info("Reuse of pending recommendations is off: requesting a new one.")
            return None
        from airflow_gradient.core.waiting import PER_PAGE, find_reusable_pending

        items = self.gradient_hook.list_recommendations(project_id, per_page=PER_PAGE)
        now = datetime.now(UTC)
        found = find_reusable_pending(items, now=now, within=window)
        if found is None:
            return None
        rec_id = str(found["id"])
        self.log.info(
            "Gradient project %s already has PENDING recommendation %s, created %s (within the "
            "reuse window of %s): reusing it instead of requesting a second one. Pass "
            "reuse_pending_within=None to always request.",
            project_id,
            rec_id,
            found.get("created_at"),
            window,
        )
        return rec_id


def _text(value: Any) -> str | None:
    """A templated optional argument as text, or ``None`` when it rendered empty."""
    text = "" if value is None else str(value).strip()
    return None if text in ("", "None") else text
