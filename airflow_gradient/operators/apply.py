"""GradientApplyRecommendationOperator: write the latest Gradient recommendation into a
Databricks job's cluster, so that the ``DatabricksRunNowOperator`` after it runs on it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_gradient.core.apply_options import (
    IF_NO_RECOMMENDATION,
    ON_BUNDLE,
    ON_REVERT,
    TERRAFORM_GUIDE,
)
from airflow_gradient.exceptions import (
    DatabricksJobError,
    ErrorBoundary,
    GradientError,
    InvalidArgumentsError,
    UnsupportedPathError,
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

    from airflow_gradient.core.apply_options import ApplyOptions
    from airflow_gradient.core.apply_plan import ApplyPlan, ReadBackOutcome, Target
    from airflow_gradient.core.bundles.deployment import BundleFacts
    from airflow_gradient.core.guardrails import GuardRails
    from airflow_gradient.core.redaction import Redactor
    from airflow_gradient.core.results import ApplyResult

__all__ = [
    "IF_NO_RECOMMENDATION",
    "ON_BUNDLE",
    "ON_REVERT",
    "TERRAFORM_GUIDE",
    "GradientApplyRecommendationOperator",
]

RUN_NOW = "DatabricksRunNowOperator"


#: Seconds added to :meth:`GradientApplyRecommendationOperator.time_bound` for the default
#: ``execution_timeout``: the work between the network calls (merge, checks, logging).
EXECUTION_TIMEOUT_MARGIN = 60.0


@dataclass(frozen=True)
class _Pages:
    """What the reads of :meth:`GradientApplyRecommendationOperator.time_bound` take."""

    job: int
    recommendation: int
    lookup: bool  # the job is named by job_name: one more call per page of jobs/list
    find_project: bool  # no project_id: GET /v1/projects after the job id is known


def network_steps(gradient: float, databricks: float, pages: _Pages) -> list[tuple[str, float]]:
    """Every step of ``execute`` that touches the network, in the order it runs, with the most
    seconds it can take: the one list :meth:`~GradientApplyRecommendationOperator.time_bound`
    sums. A step added to ``execute`` is added here.

    :param gradient: bound of one Gradient call.
    :param databricks: bound of one Databricks call.
    :param pages: pages read, and whether the job and the project are looked up.
    """
    lookup = databricks if pages.lookup else 0.0
    job = pages.job * databricks
    recommendations = pages.recommendation * gradient
    if pages.find_project:  # the job id first (jobs/list), then the project, then the reads
        steps = [
            ("jobs/list: the job id of job_name", lookup),
            ("GET /v1/projects: the project tracking the job", gradient),
            ("project, recommendations and job, read concurrently", max(recommendations, job)),
        ]
    else:
        steps = [
            (
                "project, recommendations and job, read concurrently",
                max(recommendations, lookup + job),
            )
        ]
    return [
        *steps,
        ("the recommendation the cluster is tagged with (a revert)", gradient),
        ("jobs/update", databricks),
        ("jobs/get: the read-back", job),
    ]


class GradientApplyRecommendationOperator(
    ErrorBoundary, GradientHookProperty, DatabricksHookProperty, BaseOperator
):
    """Apply the project's newest SUCCESS recommendation to the Databricks job's cluster.

    Place it right before ``DatabricksRunNowOperator``: ``jobs/run-now`` has no cluster
    override, so the recommendation must be in the saved job when the run starts. The cluster
    is located, merged, validated and checked against the guard rails before anything is
    written; an unchanged cluster is not written at all, so re-runs are idempotent.

    :param project_id: Gradient project id (templated). Default: the one project tracking the
        job (``GradientHook.find_projects_for_job``); none or several fail the task without
        retries (:class:`~airflow_gradient.exceptions.ProjectLookupError`), listing what was
        found.
    :param job_id: Databricks job id (templated). With ``job_name`` absent too, both are taken
        from the single downstream ``DatabricksRunNowOperator``.
    :param job_name: Databricks job name (templated), looked up when ``job_id`` is not given.
    :param recommendation_id: apply exactly this recommendation (templated), e.g. the one a
        human approved after a dry run, instead of the newest SUCCESS one. It must be SUCCESS;
        ``if_no_recommendation`` does not apply to it.
    :param cluster_key: which cluster of the job to tune (templated): a ``job_cluster_key``,
        a ``task_key``, or ``job_clusters/<key>`` / ``tasks/<key>``. Default: the cluster tagged
        ``sync:project-id``, else the project's ``cluster_path``, else the job's only cluster.
    :param gradient_conn_id: connection of type ``gradient`` (templated).
    :param databricks_conn_id: connection of type ``databricks`` (templated).
    :param dry_run: compute and log the diff, write nothing.
    :param guard_rails: a :class:`~airflow_gradient.core.guardrails.GuardRails` or a dict of its
        fields; a recommendation that breaks one is refused, listing every violation. A dict is
        checked when the DAG is parsed: an unknown key is a ``ValueError`` naming it and the
        valid keys.
    :param if_no_recommendation: ``"skip"`` (leave the job as it is and succeed, so the run
        goes ahead on the current cluster) or ``"fail"``.
    :param allow_auto_apply_conflict: apply even when the project has ``auto_apply_recs`` on
        (then Gradient applies recommendations too, and the two race).
    :param on_revert: what to do when the cluster is tagged with a recommendation it no longer
        holds (Terraform, Asset Bundles, a job reset or a manual edit reverted it): ``"warn"``
        (log it, leave the job as it is), ``"fail"``, or ``"reapply"`` (write it again).
    :param on_bundle: what to do when a Databricks Asset Bundle owns the job (its next deploy
        reverts the apply): ``"warn"`` (apply, and log the bundle, the target and the command
        that writes the recommendation into the bundle), ``"fail"`` (refuse before any write),
        or ``"apply"`` (apply, log at INFO). Jobs Databricks manages (``SYSTEM_MANAGED``) are
        always refused. The XCom's ``bundle`` holds the facts (``None`` for other jobs).
    :param gradient_hook_params: keyword arguments for :class:`GradientHook` (timeouts, retries).
    :param databricks_retry_limit: attempts of each Databricks call in all (default 3), as for
        ``DatabricksRunNowOperator``.
    :param databricks_retry_delay: seconds between Databricks attempts (default 1), as for
        ``DatabricksRunNowOperator``.
    :param databricks_retry_args: tenacity ``Retrying`` arguments for the Databricks calls,
        replacing ``databricks_retry_limit``/``databricks_retry_delay`` (as for
        ``DatabricksRunNowOperator``).
    :param databricks_hook_params: other keyword arguments for the Databricks hook
        (``timeout_seconds``, ``max_retry_after``). Its retry keys (``retry_limit``,
        ``retry_delay``, ``retry_args``) are deprecated (removed in the next release): they
        still win over the ``databricks_retry_*`` arguments, with a deprecation warning.

    The task ends within :meth:`time_bound` seconds, computed from the hook arguments. Unless
    an ``execution_timeout`` is set (on the task, in ``default_args`` or by
    ``[core] default_task_execution_timeout``), the task sets it when it starts to
    ``time_bound()`` plus :data:`EXECUTION_TIMEOUT_MARGIN` seconds, rounded up (with the
    default hook arguments, ``project_id`` and ``job_id``: 3,600 + 60 s); none when custom
    ``databricks_retry_args`` make the bound unknown. Whatever fails, the job ends either
    exactly as it was or with exactly the merged spec: after ``jobs/update`` (also when that
    call fails) the job is read back, and the read-back decides what is reported. The XCom
    says how the write was confirmed (``write_confirmed_by``: ``"reply and read-back"``, or
    ``"read-back"`` when the update call failed but the change landed, with ``update_error``).
    See docs/reliability.md in the airflow-gradient documentation.
    """

    template_fields: Sequence[str] = (
        "project_id",
        "job_id",
        "job_name",
        "cluster_key",
        "recommendation_id",
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
        job_id: int | str | None = None,
        job_name: str | None = None,
        cluster_key: str | None = None,
        recommendation_id: str | None = None,
        gradient_conn_id: str = "gradient_default",
        databricks_conn_id: str = "databricks_default",
        dry_run: bool = False,
        guard_rails: GuardRails | Mapping[str, Any] | None = None,
        if_no_recommendation: str = "skip",
        allow_auto_apply_conflict: bool = False,
        on_revert: str = "warn",
        on_bundle: str = "warn",
        gradient_hook_params: Mapping[str, Any] | None = None,
        databricks_retry_limit: int = DEFAULT_DATABRICKS_RETRY_LIMIT,
        databricks_retry_delay: float = DEFAULT_DATABRICKS_RETRY_DELAY,
        databricks_retry_args: Mapping[str, Any] | None = None,
        databricks_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_no_recommendation not in IF_NO_RECOMMENDATION:
            raise ValueError(
                f"{self.task_id}: if_no_recommendation must be one of {IF_NO_RECOMMENDATION}, "
                f"not {if_no_recommendation!r}."
            )
        if on_revert not in ON_REVERT:
            raise ValueError(
                f"{self.task_id}: on_revert must be one of {ON_REVERT}, not {on_revert!r}."
            )
        if on_bundle not in ON_BUNDLE:
            raise ValueError(
                f"{self.task_id}: on_bundle must be one of {ON_BUNDLE}, not {on_bundle!r}."
            )
        if job_id is not None and job_name is not None:
            raise ValueError(f"{self.task_id}: give job_id or job_name, not both.")
        if guard_rails is not None:  # not templated: a typo fails the parse, not the run
            from airflow_gradient.core.errors import InvalidGuardRailsError
            from airflow_gradient.core.guardrails import GuardRails

            try:
                GuardRails.from_value(guard_rails)
            except (InvalidGuardRailsError, TypeError) as err:
                raise ValueError(f"{self.task_id}: {err}") from None
        self.project_id = project_id
        self.job_id = job_id
        self.job_name = job_name
        self.cluster_key = cluster_key
        self.recommendation_id = recommendation_id
        self.gradient_conn_id = gradient_conn_id
        self.databricks_conn_id = databricks_conn_id
        # Not ``self.dry_run``: that name is a BaseOperator method.
        self.dry_run_only = dry_run
        self.guard_rails = guard_rails
        self.if_no_recommendation = if_no_recommendation
        self.allow_auto_apply_conflict = allow_auto_apply_conflict
        self.on_revert = on_revert
        self.on_bundle = on_bundle
        self.gradient_hook_params = dict(gradient_hook_params or {})
        self.set_databricks_hook_params(
            retry_limit=databricks_retry_limit,
            retry_delay=databricks_retry_delay,
            retry_args=databricks_retry_args,
            hook_params=databricks_hook_params,
        )

    def pre_execute(self, context: Any) -> None:
        """Default ``execution_timeout`` from :meth:`time_bound` when none is set (the task
        runner reads it after this hook, right before ``execute``)."""
        super().pre_execute(context)
        if self.execution_timeout is not None:
            return
        self.execution_timeout = self.default_execution_timeout()
        if self.execution_timeout is None:
            self.log.warning(
                "No execution_timeout: databricks_retry_args make the Databricks calls "
                "unbounded, so no time bound can be derived. Set execution_timeout."
            )
        else:
            self.log.info(
                "execution_timeout set to %s: time_bound() plus %ss (set execution_timeout "
                "to choose another).",
                self.execution_timeout,
                EXECUTION_TIMEOUT_MARGIN,
            )

    def default_execution_timeout(self) -> timedelta | None:
        """``time_bound()`` plus :data:`EXECUTION_TIMEOUT_MARGIN`, rounded up to a second;
        ``None`` when the bound is unknown."""
        bound = self.time_bound()
        if bound is None:
            return None
        return timedelta(seconds=math.ceil(bound + EXECUTION_TIMEOUT_MARGIN))

    def execute(self, context: Context) -> ApplyResult:
        from airflow_gradient.core.apply_plan import (
            check_project,
            no_recommendation_result,
            plan_apply,
            prepare,
        )
        from airflow_gradient.masking import mask_cluster_secrets

        self._refuse_unsupported_downstream()
        job_id, job_name = self._job_reference(context)
        project_id = _given(self.project_id)
        if project_id is None:
            job_id = self.databricks_hook.resolve_job_id(job_id=job_id, job_name=job_name)
            job_name = None
            project_id = self._project_for_job(job_id)
        options = self._options(project_id)

        project, latest, job = self._read_everything(project_id, job_id, job_name)
        mask_cluster_secrets(job, latest)  # masked in the task log from here on
        job_id = int(job["job_id"])
        bundle = self._bundle_facts(job["settings"], job_id)
        for warning in check_project(project, job_id, options):
            self.log.warning("%s", warning)
        self._persist_links(context, project_id, job_id)
        if latest is None:
            result, message = no_recommendation_result(job_id, options)
            self.log.info("%s", message)
            return _with_bundle(result, bundle)

        target = prepare(project, latest, job, options)
        tagged = self._read_tagged_configuration(project_id, target)
        plan = plan_apply(
            target, job["settings"], options, tagged_configuration=tagged, redactor=_redactor()
        )
        self._log_plan(plan)
        if plan.action != "write":
            return _with_bundle(plan.result(), bundle)
        return _with_bundle(plan.written(self._write(plan)), bundle)

    def time_bound(self, *, job_pages: int = 1, recommendation_pages: int = 1) -> float | None:
        """Most seconds :meth:`execute` can spend on the network, from the hook arguments.

        With the defaults the bound holds for one page of recommendations and one page of the
        job; a project with newer PENDING/FAILURE recommendations on later pages, or a job of
        more than 100 tasks or job clusters, needs ``recommendation_pages``/``job_pages``.

        The sum of the steps of :func:`network_steps` (the one list of what ``execute`` sends):
        the project lookup when no ``project_id`` is given, the three concurrent reads
        (project and recommendations on Gradient, the job on Databricks), the recommendation a
        reverted cluster is tagged with, ``jobs/update`` and the read-back. Each Gradient call
        is bounded by ``GradientHook.call_time_bound`` and each Databricks call by the
        Databricks hook's ``call_time_bound``. ``None`` when custom ``retry_args`` make the
        Databricks calls unbounded. With ``job_name``, one Databricks call per page of
        ``jobs/list`` is counted once (one page).

        :param job_pages: pages of ``jobs/get`` (100 tasks or job clusters a page).
        :param recommendation_pages: pages of recommendations read before a SUCCESS one.
        """
        gradient = self.gradient_hook.call_time_bound()
        databricks = self.databricks_hook.call_time_bound()
        if databricks is None:
            return None
        pages = _Pages(
            job=job_pages,
            recommendation=recommendation_pages,
            lookup=bool(_given(self.job_name)),
            find_project=_given(self.project_id) is None,
        )
        return sum(seconds for _, seconds in network_steps(gradient, databricks, pages))

    # --- steps ----------------------------------------------------------------------------

    def _options(self, project_id: str) -> ApplyOptions:
        from airflow_gradient.core.apply_options import ApplyOptions
        from airflow_gradient.core.guardrails import GuardRails

        return ApplyOptions(
            project_id=project_id,
            cluster_key=self.cluster_key or None,
            dry_run=self.dry_run_only,
            rails=GuardRails.from_value(self.guard_rails),
            if_no_recommendation=self.if_no_recommendation,
            allow_auto_apply_conflict=self.allow_auto_apply_conflict,
            on_revert=self.on_revert,
        )

    def _project_for_job(self, job_id: int) -> str:
        """No ``project_id``: the one Gradient project tracking the job, or a permanent error."""
        from airflow_gradient.core.project_lookup import project_id_for_job

        project_id = project_id_for_job(self.gradient_hook.find_projects_for_job(job_id), job_id)
        self.log.info(
            "No project_id given: Gradient project %s is the one tracking Databricks job %s.",
            project_id,
            job_id,
        )
        return project_id

    def _bundle_facts(self, settings: Mapping[str, Any], job_id: int) -> BundleFacts | None:
        """Log who deploys the job (a bundle's next deploy reverts the apply); refuse per
        ``on_bundle`` (and always for a job Databricks manages) before anything is written."""
        from airflow_gradient.core.bundles.deployment import bundle_decision

        decision = bundle_decision(settings, self.on_bundle, job_id=job_id)
        if decision.level != "none":
            log = self.log.warning if decision.level == "warning" else self.log.info
            log("%s", decision.message)
        return decision.facts

    def _refuse_unsupported_downstream(self) -> None:
        from airflow_gradient.policies import downstream_findings

        findings = downstream_findings(self, self.get_direct_relatives(upstream=False))
        if findings:
            raise UnsupportedPathError(" ".join(findings))

    def _job_reference(self, context: Context) -> tuple[int | str | None, str | None]:
        """``job_id``/``job_name`` from the arguments, else from the downstream run-now task."""
        if self.job_id not in (None, "") or self.job_name:
            return self.job_id, self.job_name
        from airflow_gradient.policies import is_instance_of

        run_now = [
            t for t in self.get_direct_relatives(upstream=False) if is_instance_of(t, RUN_NOW)
        ]
        if len(run_now) != 1:
            raise InvalidArgumentsError(
                f"{self.task_id}: no job_id or job_name given, and {len(run_now)} downstream "
                f"{RUN_NOW} tasks to take it from (need exactly one). Pass job_id= or job_name=."
            )
        task = run_now[0]
        json = self.render_template(getattr(task, "json", None) or {}, context)
        job_id = self.render_template(getattr(task, "job_id", None), context) or json.get("job_id")
        job_name = self.render_template(getattr(task, "job_name", None), context) or json.get(
            "job_name"
        )
        if job_id in (None, "") and not job_name:
            raise InvalidArgumentsError(
                f"{self.task_id}: downstream task {task.task_id!r} names no job_id or job_name."
            )
        self.log.info("Job taken from downstream task %s.", task.task_id)
        return job_id, job_name

    def _read_everything(
        self, project_id: str, job_id: int | str | None, job_name: str | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
        """Project, newest SUCCESS recommendation and the whole job, read concurrently."""
        gradient, databricks = self.gradient_hook, self.databricks_hook

        def read_job() -> dict[str, Any]:
            resolved = databricks.resolve_job_id(job_id=job_id, job_name=job_name)
            return databricks.get_job(resolved)

        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="gradient-read") as pool:
            project = pool.submit(gradient.get_project, project_id)
            pinned = _given(self.recommendation_id)
            latest = (
                pool.submit(gradient.get_recommendation, project_id, pinned)
                if pinned
                else pool.submit(gradient.get_latest_recommendation, project_id)
            )
            job = pool.submit(read_job)
            return project.result(), latest.result(), job.result()

    def _read_tagged_configuration(self, project_id: str, target: Target) -> dict[str, Any] | None:
        """The configuration of the recommendation the cluster is tagged with, when it is not
        the one being applied (to judge a revert); ``None`` when there is none or it is
        unreadable (then no revert is judged)."""
        from airflow_gradient.core.recommendation import parse_recommendation

        tagged = target.tagged_to_fetch
        if tagged is None:
            return None
        try:
            raw = self.gradient_hook.get_recommendation(project_id, tagged)
            return parse_recommendation(raw, project_id=project_id).configuration
        except GradientError as err:  # unreadable: judge no revert
            self.log.info(
                "Cannot check recommendation %s in force on %s: %s", tagged, target.where, err
            )
            return None

    def _log_plan(self, plan: ApplyPlan) -> None:
        from airflow_gradient.core.cluster.diff import format_diff
        from airflow_gradient.core.recommendation import format_metrics

        target, rec = plan.target, plan.target.recommendation
        for warning in target.spec_warnings:
            self.log.warning("%s", warning)
        if plan.revert_warning is not None:
            self.log.warning("%s", plan.revert_warning)
        self.log.info(
            "Recommendation %s (phase %s) for %s chosen because %s; predicted: %s",
            rec.id,
            rec.phase or "unknown",
            target.where,
            target.location.reason,
            format_metrics(rec.metrics),
        )
        self.log.info("Changes to %s:\n%s", target.location.path, format_diff(plan.shown_changes))
        if plan.action == "keep_reverted":
            self.log.warning("%s", plan.reason)
        else:
            self.log.info("%s", plan.reason)

    def _write(self, plan: ApplyPlan) -> ReadBackOutcome:
        """``jobs/update``, then the read-back, which decides what happened (also on failure)."""
        target = plan.target
        assert plan.new_settings is not None  # a "write" plan carries them
        update_error = self._update(target.job_id, plan.new_settings, target.where)
        found = self._read_back(target, update_error)
        return self._judged(target, found, update_error)

    def _update(
        self, job_id: int, new_settings: Mapping[str, Any], where: str
    ) -> DatabricksJobError | None:
        """Send ``jobs/update``; a failure is returned, not raised: the read-back decides."""
        try:
            self.databricks_hook.update_job(job_id, dict(new_settings))
        except DatabricksJobError as err:
            self.log.warning(
                "jobs/update of %s failed: %s. Reading the job back: it decides whether the "
                "change landed.",
                where,
                err,
            )
            return err
        return None

    def _read_back(self, target: Target, update_error: DatabricksJobError | None) -> dict[str, Any]:
        """The job's cluster at the written path, read again (``{}`` when it is gone)."""
        from airflow_gradient.core.apply_plan import read_back_failed_error
        from airflow_gradient.core.cluster.update import cluster_spec_at

        try:
            job = self.databricks_hook.get_job(target.job_id)
        except DatabricksJobError as err:
            raise read_back_failed_error(
                err, target.recommendation.id, target.where, update_error
            ) from err
        return cluster_spec_at(job["settings"], target.location.path) or {}

    def _judged(
        self, target: Target, found: Mapping[str, Any], update_error: DatabricksJobError | None
    ) -> ReadBackOutcome:
        from airflow_gradient.core.apply_plan import read_back_outcome

        outcome = read_back_outcome(
            target.merged,
            found,
            target.location.spec,
            update_error,
            recommendation_id=target.recommendation.id,
            where=target.where,
            redactor=_redactor(),
        )
        if outcome.warning:
            self.log.warning("%s", outcome.message)
        else:
            self.log.info("%s", outcome.message)
        return outcome

    def _persist_links(self, context: Context, project_id: str, job_id: int) -> None:
        GradientProjectLink.persist(
            context, gradient_project_url(self.gradient_hook.credentials.base_url, project_id)
        )
        DatabricksJobLink.persist(context, self.databricks_hook.job_url(job_id))


def _with_bundle(result: ApplyResult, bundle: BundleFacts | None) -> ApplyResult:
    """The result with the job's bundle facts (the XCom's ``bundle`` field)."""
    result["bundle"] = bundle
    return result


def _given(value: Any) -> str | None:
    """A templated optional argument as a string, or ``None`` when it rendered empty."""
    text = "" if value is None else str(value).strip()
    return None if text in ("", "None") else text


def _redactor() -> Redactor:
    """Airflow's redaction: what hides secret values in the XCom, the log and the messages."""
    from airflow_gradient.masking import airflow_redactor

    return airflow_redactor()
