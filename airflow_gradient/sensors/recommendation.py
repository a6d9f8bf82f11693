"""GradientRecommendationSensor: wait until Gradient has a new SUCCESS recommendation."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_gradient.exceptions import (
    AwaitedRecommendationFailedError,
    ErrorBoundary,
    GradientError,
    InvalidArgumentsError,
    PermanentError,
    RecommendationFailedError,
)
from airflow_gradient.hook_properties import DatabricksHookProperty, GradientHookProperty

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_gradient.core.waiting import Reference

DEFAULT_POKE_INTERVAL = 60.0
"""Seconds between pokes unless told otherwise."""
DEFAULT_TIMEOUT = timedelta(hours=2)
"""How long the sensor waits unless told otherwise (never forever)."""


class GradientRecommendationSensor(
    ErrorBoundary, GradientHookProperty, DatabricksHookProperty, BaseSensorOperator
):
    """Wait until a Gradient project has a SUCCESS recommendation newer than a reference.

    The reference (``newer_than``) is, in this order:

    * a recommendation **id**: that recommendation or any newer one counts, so
      ``newer_than=request.output`` (the XCom of
      :class:`~airflow_gradient.operators.request.GradientRequestRecommendationOperator`) waits
      for the requested recommendation: SUCCESS ends the wait, FAILURE fails the task without
      retries, with Gradient's error text. (To wait for one newer than the recommendation
      already applied, pass ``job_id`` and no ``newer_than``, or a timestamp.);
    * a **timestamp** (ISO-8601 string or ``datetime``): recommendations created strictly after
      it count (e.g. ``"{{ data_interval_end }}"``);
    * by default, with ``job_id``: the recommendation **in force** on the job's cluster (its
      ``sync:recommendation-id`` tag); recommendations listed after it count, it does not;
    * with neither: any recommendation counts.

    Done when one that counts is SUCCESS (the newest such, which is also what
    ``GradientApplyRecommendationOperator`` applies); failed when every one that counts is
    FAILURE (none left PENDING); otherwise it keeps waiting. Returns (XCom) the id of the
    recommendation.

    Each poke reads one page of the project's recommendations (plus, once per process, what
    the reference needs). Gradient API errors are retried by the hook (transient ones only);
    an error that outlasts the retries fails the poke and the task. Works with
    ``mode="poke"``, ``mode="reschedule"`` and ``deferrable=True`` (then
    :class:`~airflow_gradient.triggers.recommendation.GradientRecommendationTrigger` waits
    in the triggerer, with ``poke_interval`` between polls and ``timeout`` as its limit;
    ``exponential_backoff`` does not apply there, and polls are at least 1 s apart).

    :param project_id: Gradient project id (templated).
    :param newer_than: recommendation id or timestamp (templated); see above.
    :param job_id: Databricks job id (templated), for the default reference. Optional.
    :param cluster_key: which cluster of the job carries the tag (templated), as for
        ``GradientApplyRecommendationOperator``. Default: the cluster tagged
        ``sync:project-id``, else the project's ``cluster_path``, else the job's only cluster.
    :param gradient_conn_id: connection of type ``gradient``.
    :param databricks_conn_id: connection of type ``databricks`` (only used with ``job_id``).
    :param deferrable: wait in the triggerer. Default: ``[operators] default_deferrable``.
    :param poke_interval: seconds (or ``timedelta``) between pokes; default 60.
    :param timeout: seconds (or ``timedelta``) before the sensor gives up; default 2 hours.
    :param gradient_hook_params: keyword arguments for :class:`GradientHook` (timeouts,
        retries); with ``deferrable=True`` they must be plain numbers.
    :param databricks_hook_params: keyword arguments for the Databricks hook.
    """

    template_fields: Sequence[str] = ("project_id", "newer_than", "job_id", "cluster_key")
    ui_color = "#7B61FF"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        project_id: str,
        newer_than: str | datetime | None = None,
        job_id: int | str | None = None,
        cluster_key: str | None = None,
        gradient_conn_id: str = "gradient_default",
        databricks_conn_id: str = "databricks_default",
        deferrable: bool | None = None,
        poke_interval: timedelta | float = DEFAULT_POKE_INTERVAL,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
        gradient_hook_params: Mapping[str, Any] | None = None,
        databricks_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        if deferrable is None:
            deferrable = conf.getboolean("operators", "default_deferrable", fallback=False)
        self.project_id = project_id
        self.newer_than = newer_than
        self.job_id = job_id
        self.cluster_key = cluster_key
        self.gradient_conn_id = gradient_conn_id
        self.databricks_conn_id = databricks_conn_id
        self.deferrable = deferrable
        self.gradient_hook_params = dict(gradient_hook_params or {})
        self.databricks_hook_params = dict(databricks_hook_params or {})

    # --- the three modes ------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_gradient.triggers.recommendation import GradientRecommendationTrigger

        reference = self.reference
        self.log.info(
            "Deferring: waiting for a SUCCESS recommendation of Gradient project %s (%s), "
            "polling every %ss for at most %ss.",
            self.project_id,
            reference.describe(),
            self.poke_interval,
            self.timeout,
        )
        self.defer(
            trigger=GradientRecommendationTrigger(
                project_id=self.project_id,
                reference=reference.to_dict(),
                gradient_conn_id=self.gradient_conn_id,
                poll_interval=max(float(self.poke_interval), 1.0),
                end_time=time.time() + float(self.timeout),
                hook_params=self.gradient_hook_params,
            ),
            method_name="execute_complete",
            # A safety net only: the trigger ends the wait itself, with a clearer message.
            timeout=timedelta(seconds=float(self.timeout) + max(float(self.poke_interval), 60)),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_gradient.core.waiting import PER_PAGE, decide

        reference = self.reference
        items = self.gradient_hook.list_recommendations(self.project_id, per_page=PER_PAGE)
        outcome = decide(items, reference, project_id=self.project_id, per_page=PER_PAGE)
        if outcome.status == "done":
            self.log.info("%s", outcome.message)
            return PokeReturnValue(is_done=True, xcom_value=outcome.recommendation_id)
        if outcome.status == "failed":
            raise self._failure(outcome.message)
        if outcome.status == "error":
            raise _error_class(outcome.permanent)(outcome.message)
        self.log.info("Not yet: %s", outcome.message)
        return PokeReturnValue(is_done=False)

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> str:
        """Resume after the trigger: the recommendation id, or a clear error."""
        event = dict(event or {})
        status = event.get("status")
        message = str(event.get("message") or "no message")
        if self.project_id not in message:
            message = f"Gradient project {self.project_id}: {message}"
        if status == "success" and isinstance(event.get("recommendation_id"), str):
            rec_id: str = event["recommendation_id"]
            self.log.info(
                "Recommendation %s of Gradient project %s is SUCCESS.", rec_id, self.project_id
            )
            return rec_id
        if status == "failed":
            raise self._failure(message)
        if status == "timeout":
            raise AirflowSensorTimeout(
                f"{message} Raise timeout= if Gradient needs longer, or check the project."
            )
        if status == "error":
            raise _error_class(event.get("permanent") is True)(message)
        raise GradientError(
            f"Waiting for a recommendation of Gradient project {self.project_id} ended with an "
            f"unexpected event {event!r}."
        )

    # --- the reference --------------------------------------------------------------------

    @cached_property
    def reference(self) -> Reference:
        """What a recommendation must be newer than; resolved once per task process."""
        from airflow_gradient.core.waiting import Reference, parse_reference

        if self.newer_than not in (None, ""):
            try:
                reference = parse_reference(self.newer_than, source="newer_than")
            except ValueError as err:
                raise InvalidArgumentsError(f"{self.task_id}: {err}") from None
            if reference.recommendation_id is not None:
                self._check_reference_exists(reference)
        elif self.job_id not in (None, ""):
            reference = self._reference_in_force()
        else:
            reference = Reference(source="no newer_than and no job_id")
        self.log.info(
            "Waiting for a SUCCESS recommendation of Gradient project %s: %s.",
            self.project_id,
            reference.describe(),
        )
        return reference

    def _check_reference_exists(self, reference: Reference) -> None:
        from airflow_gradient.exceptions import GradientApiError

        rec_id = reference.recommendation_id
        assert rec_id is not None
        try:
            found = self.gradient_hook.get_recommendation(self.project_id, rec_id)
        except GradientApiError as err:
            if err.status != 404:
                raise
            raise InvalidArgumentsError(
                f"{self.task_id}: newer_than={rec_id!r} is not a recommendation of Gradient "
                f"project {self.project_id} ({err.api_message or err}). Check the project id and "
                "the value of newer_than."
            ) from None
        self.log.info(
            "Reference recommendation %s of project %s is %s (created %s).",
            rec_id,
            self.project_id,
            found.get("state"),
            found.get("created_at"),
        )

    def _reference_in_force(self) -> Reference:
        from airflow_gradient.core.waiting import reference_in_force

        job_id = self.databricks_hook.resolve_job_id(job_id=self.job_id, job_name=None)
        project = self.gradient_hook.get_project(self.project_id)
        job = self.databricks_hook.get_job(job_id)
        return reference_in_force(
            job, project, project_id=self.project_id, cluster_key=self.cluster_key or None
        )

    def _failure(self, message: str) -> GradientError:
        """FAILURE of a recommendation named by ``newer_than`` is final (no retries); FAILURE
        of one newer than the recommendation in force or a time is an ordinary error."""
        from airflow_gradient.core.waiting import parse_reference

        try:
            awaited = parse_reference(self.newer_than).recommendation_id is not None
        except ValueError:
            awaited = False
        if awaited:
            return AwaitedRecommendationFailedError(message)
        return RecommendationFailedError(message)


def _error_class(permanent: bool) -> type[GradientError]:
    """The class of an ``"error"`` outcome or event: :class:`PermanentError` when a retry would
    meet the same error (a reference that is not the project's, a refused connection)."""
    return PermanentError if permanent else GradientError
