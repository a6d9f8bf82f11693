"""GradientRecommendationSensor: wait until Gradient has a new SUCCESS recommendation."""

from __future__ import annotations

import time
import warnings
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

from airflow_gradient._compat import AirflowProviderDeprecationWarning
from airflow_gradient.exceptions import (
    AwaitedRecommendationFailedError,
    ErrorBoundary,
    GradientError,
    InvalidArgumentsError,
    PermanentError,
    RecommendationFailedError,
)
from airflow_gradient.hook_properties import (
    DEFAULT_DATABRICKS_RETRY_DELAY,
    DEFAULT_DATABRICKS_RETRY_LIMIT,
    DatabricksHookProperty,
    GradientHookProperty,
)
from airflow_gradient.links import DatabricksJobLink, GradientProjectLink, gradient_project_url

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

    The reference is, in this order:

    * ``newer_than_recommendation_id``: that recommendation or any newer one counts, so
      ``newer_than_recommendation_id=request.output`` (the XCom of
      :class:`~airflow_gradient.operators.request.GradientRequestRecommendationOperator`) waits
      for the requested recommendation: SUCCESS ends the wait, FAILURE fails the task without
      retries, with Gradient's error text;
    * ``newer_than_time`` (a ``datetime`` or an ISO-8601 string): recommendations created
      strictly after it count (e.g. ``"{{ data_interval_end }}"``);
    * by default, with ``job_id`` or ``job_name``: the recommendation **in force** on the job's
      cluster (its ``sync:recommendation-id`` tag); recommendations listed after it count, it
      does not;
    * with none of these: any recommendation counts.

    Done when one that counts is SUCCESS (the newest such, which is also what
    ``GradientApplyRecommendationOperator`` applies); failed when every one that counts is
    FAILURE (none left PENDING); otherwise it keeps waiting. Returns (XCom) the id of the
    recommendation. Links: the Gradient project, and the Databricks job when one is given.

    Each poke reads one page of the project's recommendations (plus, once per process, what
    the reference needs). Gradient API errors are retried by the hook (transient ones only);
    an error that outlasts the retries fails the poke and the task. Works with
    ``mode="poke"``, ``mode="reschedule"`` and ``deferrable=True`` (then
    :class:`~airflow_gradient.triggers.recommendation.GradientRecommendationTrigger` waits
    in the triggerer, with ``poke_interval`` between polls and ``timeout`` as its limit;
    ``exponential_backoff`` does not apply there, and polls are at least 1 s apart).

    :param project_id: Gradient project id (templated). Default: the one project tracking the
        job given by ``job_id`` or ``job_name`` (none or several fail the task without retries,
        listing what was found); without a job it is required.
    :param newer_than_recommendation_id: a recommendation id (templated): it or any newer one
        counts; see above.
    :param newer_than_time: a ``datetime`` or ISO-8601 timestamp (templated): recommendations
        created strictly after it count.
    :param newer_than: deprecated (removed in the next release): a recommendation id or a
        timestamp, told apart by its look. Use ``newer_than_recommendation_id`` or
        ``newer_than_time``.
    :param job_id: Databricks job id (templated), for the default reference, the project lookup
        and the job link. Optional.
    :param job_name: Databricks job name (templated), instead of ``job_id``; looked up.
    :param cluster_key: which cluster of the job carries the tag (templated), as for
        ``GradientApplyRecommendationOperator``. Default: the cluster tagged
        ``sync:project-id``, else the project's ``cluster_path``, else the job's only cluster.
    :param gradient_conn_id: connection of type ``gradient`` (templated).
    :param databricks_conn_id: connection of type ``databricks`` (templated; only used with
        ``job_id`` or ``job_name``).
    :param deferrable: wait in the triggerer. Default: ``[operators] default_deferrable``.
    :param poke_interval: seconds (or ``timedelta``) between pokes; default 60.
    :param timeout: seconds (or ``timedelta``) before the sensor gives up; default 2 hours.
    :param gradient_hook_params: keyword arguments for :class:`GradientHook` (timeouts,
        retries); with ``deferrable=True`` they must be plain numbers.
    :param databricks_retry_limit: attempts of each Databricks call in all (default 3), as for
        ``DatabricksRunNowOperator``.
    :param databricks_retry_delay: seconds between Databricks attempts (default 1).
    :param databricks_retry_args: tenacity ``Retrying`` arguments for the Databricks calls,
        replacing ``databricks_retry_limit``/``databricks_retry_delay``.
    :param databricks_hook_params: other keyword arguments for the Databricks hook
        (``timeout_seconds``, ``max_retry_after``). Its retry keys (``retry_limit``,
        ``retry_delay``, ``retry_args``) are deprecated (removed in the next release): they
        still win over the ``databricks_retry_*`` arguments, with a deprecation warning.
    """

    template_fields: Sequence[str] = (
        "project_id",
        "newer_than_recommendation_id",
        "newer_than_time",
        "newer_than",
        "job_id",
        "job_name",
        "cluster_key",
        "gradient_conn_id",
        "databricks_conn_id",
    )
    operator_extra_links = (GradientProjectLink(), DatabricksJobLink())
    ui_color = "#7B61FF"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        project_id: str | None = None,
        newer_than_recommendation_id: str | None = None,
        newer_than_time: str | datetime | None = None,
        newer_than: str | datetime | None = None,
        job_id: int | str | None = None,
        job_name: str | None = None,
        cluster_key: str | None = None,
        gradient_conn_id: str = "gradient_default",
        databricks_conn_id: str = "databricks_default",
        deferrable: bool | None = None,
        poke_interval: timedelta | float = DEFAULT_POKE_INTERVAL,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
        gradient_hook_params: Mapping[str, Any] | None = None,
        databricks_retry_limit: int = DEFAULT_DATABRICKS_RETRY_LIMIT,
        databricks_retry_delay: float = DEFAULT_DATABRICKS_RETRY_DELAY,
        databricks_retry_args: Mapping[str, Any] | None = None,
        databricks_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        if deferrable is None:
            deferrable = conf.getboolean("operators", "default_deferrable", fallback=False)
        if newer_than_recommendation_id is not None and newer_than_time is not None:
            raise ValueError(
                f"{self.task_id}: give newer_than_recommendation_id or newer_than_time, not both."
            )
        if newer_than is not None:
            if newer_than_recommendation_id is not None or newer_than_time is not None:
                raise ValueError(
                    f"{self.task_id}: newer_than is the deprecated spelling of "
                    "newer_than_recommendation_id / newer_than_time: give one of them only."
                )
            warnings.warn(
                f"{self.task_id}: newer_than is deprecated and removed in the next release: "
                "pass newer_than_recommendation_id= (e.g. request.output) or newer_than_time= "
                "(a datetime or an ISO-8601 timestamp).",
                AirflowProviderDeprecationWarning,
                stacklevel=2,
            )
        if job_id is not None and job_name is not None:
            raise ValueError(f"{self.task_id}: give job_id or job_name, not both.")
        if project_id is None and job_id is None and job_name is None:
            raise ValueError(
                f"{self.task_id}: give project_id, or job_id / job_name of the Databricks job "
                "(then the one Gradient project tracking it is used)."
            )
        self.project_id = project_id
        self.newer_than_recommendation_id = newer_than_recommendation_id
        self.newer_than_time = newer_than_time
        self.newer_than = newer_than
        self.job_id = job_id
        self.job_name = job_name
        self.cluster_key = cluster_key
        self.gradient_conn_id = gradient_conn_id
        self.databricks_conn_id = databricks_conn_id
        self.deferrable = deferrable
        self.gradient_hook_params = dict(gradient_hook_params or {})
        self.set_databricks_hook_params(
            retry_limit=databricks_retry_limit,
            retry_delay=databricks_retry_delay,
            retry_args=databricks_retry_args,
            hook_params=databricks_hook_params,
        )

    # --- the three modes ------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        self._persist_links(context)
        if not self.deferrable:
            return super().execute(context)
        from airflow_gradient.triggers.recommendation import GradientRecommendationTrigger

        reference = self.reference
        self.log.info(
            "Deferring: waiting for a SUCCESS recommendation of Gradient project %s (%s), "
            "polling every %ss for at most %ss.",
            self.resolved_project_id,
            reference.describe(),
            self.poke_interval,
            self.timeout,
        )
        self.defer(
            trigger=GradientRecommendationTrigger(
                project_id=self.resolved_project_id,
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
        items = self.gradient_hook.list_recommendations(self.resolved_project_id, per_page=PER_PAGE)
        outcome = decide(items, reference, project_id=self.resolved_project_id, per_page=PER_PAGE)
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
        project = _text(self.project_id)
        if project is not None and project not in message:
            message = f"Gradient project {project}: {message}"
        if status == "success" and isinstance(event.get("recommendation_id"), str):
            rec_id: str = event["recommendation_id"]
            self.log.info("Recommendation %s is SUCCESS: %s", rec_id, message)
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
            f"Waiting for a recommendation of Gradient project {project or '(found by job)'} "
            f"ended with an unexpected event {event!r}."
        )

    # --- the project and the job -------------------------------------------------------

    @cached_property
    def resolved_job_id(self) -> int | None:
        """The Databricks job id from ``job_id`` or ``job_name`` (looked up once per process);
        ``None`` when neither is given."""
        if _text(self.job_id) is None and _text(self.job_name) is None:
            return None
        return self.databricks_hook.resolve_job_id(
            job_id=_text(self.job_id), job_name=_text(self.job_name)
        )

    @cached_property
    def resolved_project_id(self) -> str:
        """``project_id``, else the one project tracking the job (a permanent error if none or
        several do)."""
        from airflow_gradient.core.project_lookup import project_id_for_job

        given = _text(self.project_id)
        if given is not None:
            return given
        job_id = self.resolved_job_id
        if job_id is None:
            raise InvalidArgumentsError(
                f"{self.task_id}: project_id and job_id/job_name rendered empty: give "
                "project_id, or the Databricks job whose Gradient project to wait on."
            )
        found = project_id_for_job(self.gradient_hook.find_projects_for_job(job_id), job_id)
        self.log.info(
            "No project_id given: Gradient project %s is the one tracking Databricks job %s.",
            found,
            job_id,
        )
        return found

    def _persist_links(self, context: Context) -> None:
        project_url = gradient_project_url(
            self.gradient_hook.credentials.base_url, self.resolved_project_id
        )
        GradientProjectLink.persist(context, project_url)
        if self.resolved_job_id is not None:
            DatabricksJobLink.persist(context, self.databricks_hook.job_url(self.resolved_job_id))

    # --- the reference --------------------------------------------------------------------

    @cached_property
    def reference(self) -> Reference:
        """What a recommendation must be newer than; resolved once per task process."""
        from airflow_gradient.core.waiting import Reference, explicit_reference, parse_reference

        try:
            explicit = explicit_reference(self.newer_than_recommendation_id, self.newer_than_time)
        except ValueError as err:
            raise InvalidArgumentsError(f"{self.task_id}: {err}") from None
        if explicit is not None:
            reference = explicit
            if reference.recommendation_id is not None:
                self._check_reference_exists(reference)
        elif self.newer_than not in (None, ""):
            try:
                reference = parse_reference(self.newer_than, source="newer_than")
            except ValueError as err:
                raise InvalidArgumentsError(f"{self.task_id}: {err}") from None
            if reference.recommendation_id is not None:
                self._check_reference_exists(reference)
        elif self.resolved_job_id is not None:
            reference = self._reference_in_force(self.resolved_job_id)
        else:
            reference = Reference(source="no newer_than and no job")
        self.log.info(
            "Waiting for a SUCCESS recommendation of Gradient project %s: %s.",
            self.resolved_project_id,
            reference.describe(),
        )
        return reference

    def _check_reference_exists(self, reference: Reference) -> None:
        from airflow_gradient.exceptions import GradientApiError

        rec_id = reference.recommendation_id
        assert rec_id is not None
        try:
            found = self.gradient_hook.get_recommendation(self.resolved_project_id, rec_id)
        except GradientApiError as err:
            if err.status != 404:
                raise
            raise InvalidArgumentsError(
                f"{self.task_id}: {reference.source}={rec_id!r} is not a recommendation of "
                f"Gradient project {self.resolved_project_id} ({err.api_message or err}). Check "
                f"the project id and the value of {reference.source}."
            ) from None
        self.log.info(
            "Reference recommendation %s of project %s is %s (created %s).",
            rec_id,
            self.resolved_project_id,
            found.get("state"),
            found.get("created_at"),
        )

    def _reference_in_force(self, job_id: int) -> Reference:
        from airflow_gradient.core.waiting import reference_in_force

        project = self.gradient_hook.get_project(self.resolved_project_id)
        job = self.databricks_hook.get_job(job_id)
        return reference_in_force(
            job, project, project_id=self.resolved_project_id, cluster_key=self.cluster_key or None
        )

    def _failure(self, message: str) -> GradientError:
        """FAILURE of a recommendation named by ``newer_than_recommendation_id`` (or
        ``newer_than``) is final (no retries); FAILURE of one newer than the recommendation in
        force or a time is an ordinary error."""
        from airflow_gradient.core.waiting import parse_reference

        try:
            awaited = _text(self.newer_than_recommendation_id) is not None or (
                parse_reference(self.newer_than).recommendation_id is not None
            )
        except ValueError:
            awaited = False
        if awaited:
            return AwaitedRecommendationFailedError(message)
        return RecommendationFailedError(message)


def _text(value: Any) -> str | None:
    """A templated optional argument as text, or ``None`` when it rendered empty."""
    text = "" if value is None else str(value).strip()
    return None if text in ("", "None") else text


def _error_class(permanent: bool) -> type[GradientError]:
    """The class of an ``"error"`` outcome or event: :class:`PermanentError` when a retry would
    meet the same error (a reference that is not the project's, a refused connection)."""
    return PermanentError if permanent else GradientError
