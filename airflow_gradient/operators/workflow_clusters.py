"""GradientWorkflowClustersOperator: the ``job_clusters`` of a ``DatabricksWorkflowTaskGroup``,
tuned by Gradient on every run.

The group's launch task rebuilds its Databricks job from the DAG on every run (``jobs/reset``),
so a recommendation written into the job is gone before the job runs. This operator runs
before the launch and returns the list the group builds the job from::

    clusters = GradientWorkflowClustersOperator(
        task_id="gradient_clusters", project_id=PROJECT, job_clusters=BASELINE
    )
    with DatabricksWorkflowTaskGroup(
        group_id="workflow",
        databricks_conn_id="databricks_default",
        job_clusters=clusters.output,
        extra_job_params=clusters.extra_job_params_output,  # provider >= 7.10
    ):
        DatabricksNotebookOperator(task_id="etl", job_cluster_key="main", ...)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperator, XComArg

from airflow_gradient.exceptions import ErrorBoundary, GradientApiError, InvalidArgumentsError
from airflow_gradient.hook_properties import (
    DEFAULT_DATABRICKS_RETRY_DELAY,
    DEFAULT_DATABRICKS_RETRY_LIMIT,
    DatabricksHookProperty,
    GradientHookProperty,
)
from airflow_gradient.links import DatabricksJobLink, GradientProjectLink, gradient_project_url

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_gradient.core.guardrails import GuardRails
    from airflow_gradient.core.workflow import GroupTask, WorkflowClusters

__all__ = ["EXTRA_JOB_PARAMS_KEY", "RESULT_KEY", "GradientWorkflowClustersOperator"]

#: XCom key of the group's ``extra_job_params`` (the caller's, plus Gradient's on_start webhook).
EXTRA_JOB_PARAMS_KEY = "extra_job_params"
#: XCom key of the :class:`~airflow_gradient.core.workflow.WorkflowClustersResult`.
RESULT_KEY = "gradient_result"


class GradientWorkflowClustersOperator(
    ErrorBoundary, GradientHookProperty, DatabricksHookProperty, BaseOperator
):
    """Return a workflow group's ``job_clusters`` with Gradient's template and recommendation.

    On every run: the baseline ``job_clusters``, Gradient's cluster template (``sync:*`` tags,
    ``cluster_log_conf``) merged into the tuned cluster, and the project's newest SUCCESS
    recommendation merged on top (the apply operator's merge, locate rule and guard rails).
    Without a usable recommendation (first run, none yet, one older than the job) it returns
    baseline + template and logs why. Guard-rail and configuration errors fail the task at
    once, so the launch never runs. Once the job exists the project is linked to it
    (``job_id``, ``cluster_path``) if it was not; a project tracking another job is refused.

    :param job_clusters: the baseline ``job_clusters`` of the group (templated).
    :param project_id: Gradient project id (templated). Optional once the job exists and
        exactly one project tracks it.
    :param job_name: the group's job name (templated). Default: ``<dag_id>.<group_id>`` of the
        one ``DatabricksWorkflowTaskGroup`` whose launch task consumes this task's output.
    :param cluster_key: which job cluster to tune (templated); default: the apply rule (tag
        ``sync:project-id``, the project's ``cluster_path``, the only cluster).
    :param extra_job_params: the group's own ``extra_job_params`` (templated); returned under
        XCom key ``extra_job_params`` with Gradient's ``on_start`` webhook added (see
        :attr:`extra_job_params_output`).
    :param dry_run: return baseline + template and log what the recommendation would change
        (templated: ``"true"``/``"false"`` render to a bool).
    :param guard_rails: a :class:`~airflow_gradient.core.guardrails.GuardRails` or a dict.
    :param link_project: set the project's ``job_id``/``cluster_path`` when unset.
    :param gradient_conn_id: connection of type ``gradient`` (templated).
    :param databricks_conn_id: connection of type ``databricks`` (templated).
    :param gradient_hook_params: keyword arguments for :class:`GradientHook` (timeouts, retries).
    :param databricks_retry_limit: attempts of each Databricks call in all (default 3), as for
        ``DatabricksRunNowOperator``.
    :param databricks_retry_delay: seconds between Databricks attempts (default 1).
    :param databricks_retry_args: tenacity ``Retrying`` arguments for the Databricks calls,
        replacing ``databricks_retry_limit``/``databricks_retry_delay``.
    :param databricks_hook_params: other keyword arguments for the Databricks hook
        (``timeout_seconds``, ``max_retry_after``).
    """

    template_fields: Sequence[str] = (
        "job_clusters",
        "project_id",
        "job_name",
        "cluster_key",
        "extra_job_params",
        "dry_run_only",
        "gradient_conn_id",
        "databricks_conn_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "job_clusters": "json",
        "extra_job_params": "json",
    }
    operator_extra_links = (GradientProjectLink(), DatabricksJobLink())
    ui_color = "#7B61FF"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        job_clusters: list[dict[str, Any]],
        project_id: str | None = None,
        job_name: str | None = None,
        cluster_key: str | None = None,
        extra_job_params: Mapping[str, Any] | None = None,
        dry_run: bool | str = False,
        guard_rails: GuardRails | Mapping[str, Any] | None = None,
        link_project: bool = True,
        gradient_conn_id: str = "gradient_default",
        databricks_conn_id: str = "databricks_default",
        gradient_hook_params: Mapping[str, Any] | None = None,
        databricks_retry_limit: int = DEFAULT_DATABRICKS_RETRY_LIMIT,
        databricks_retry_delay: float = DEFAULT_DATABRICKS_RETRY_DELAY,
        databricks_retry_args: Mapping[str, Any] | None = None,
        databricks_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_clusters = job_clusters
        self.project_id = project_id
        self.job_name = job_name
        self.cluster_key = cluster_key
        self.extra_job_params = dict(extra_job_params or {})
        # Not ``self.dry_run``: that name is a BaseOperator method.
        self.dry_run_only = dry_run
        self.guard_rails = guard_rails
        self.link_project = link_project
        self.gradient_conn_id = gradient_conn_id
        self.databricks_conn_id = databricks_conn_id
        self.gradient_hook_params = dict(gradient_hook_params or {})
        self.set_databricks_hook_params(
            retry_limit=databricks_retry_limit,
            retry_delay=databricks_retry_delay,
            retry_args=databricks_retry_args,
            hook_params=databricks_hook_params,
        )

    @property
    def extra_job_params_output(self) -> XComArg:
        """The group's ``extra_job_params`` with Gradient's ``on_start`` webhook, as an
        ``XComArg`` (the launch task templates ``extra_job_params`` from provider 7.10)."""
        return XComArg(self, key=EXTRA_JOB_PARAMS_KEY)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_gradient.core.guardrails import GuardRails
        from airflow_gradient.core.workflow import plan_workflow_clusters, project_link_update
        from airflow_gradient.masking import airflow_redactor, mask_cluster_secrets

        baseline = self._baseline()
        dry_run = _flag(self.dry_run_only, "dry_run", self.task_id)
        job_name, tasks = self._group(context)
        reads = self._read_everything(job_name)
        found, job, project_id = reads.job_id, reads.job, reads.project_id
        project, template, latest = reads.project, reads.template, reads.latest
        mask_cluster_secrets(baseline, template, latest, job)
        self._persist_links(context, project_id, found)

        if job is not None:  # a job Databricks manages is refused; a bundle's is named
            self._check_owner(job["settings"], found)
        link: dict[str, Any] = {}
        if found is not None:  # refuse a project of another job before anything else
            link = project_link_update(
                project, project_id=project_id, job_id=found, job_name=job_name, cluster_path=""
            )
        if project.get("auto_apply_recs"):
            self.log.warning(
                "Project %s has auto_apply_recs on: what Gradient writes into job %r is replaced "
                "by the group's jobs/reset at the next launch. This task applies the "
                "recommendation on every run instead; auto-apply can be turned off.",
                project_id,
                job_name,
            )
        plan = plan_workflow_clusters(
            baseline,
            tasks,
            template=template,
            project=project,
            project_id=project_id,
            latest=latest,
            job=job,
            job_name=job_name,
            cluster_key=self.cluster_key or None,
            rails=GuardRails.from_value(self.guard_rails),
            dry_run=dry_run,
            redactor=airflow_redactor(),
        )
        self._log_plan(plan, job_name)
        if found is not None and self.link_project:
            link = project_link_update(
                project,
                project_id=project_id,
                job_id=found,
                job_name=job_name,
                cluster_path=plan.location.path,
            )
            self._link(project_id, link, found, dry_run)
        context["ti"].xcom_push(
            key=EXTRA_JOB_PARAMS_KEY,
            value=self._extra_job_params(reads.destination, job, job_name),
        )
        result = plan.result(
            job_name=job_name, job_id=found, dry_run=dry_run, redactor=airflow_redactor()
        )
        context["ti"].xcom_push(key=RESULT_KEY, value=result)
        return plan.job_clusters

    # --- steps ----------------------------------------------------------------------------

    def _baseline(self) -> list[dict[str, Any]]:
        clusters = self.job_clusters
        if not isinstance(clusters, list) or not all(isinstance(c, Mapping) for c in clusters):
            raise InvalidArgumentsError(
                f"{self.task_id}: job_clusters must be a list of {{'job_cluster_key', "
                f"'new_cluster'}} objects, got {type(clusters).__name__} after rendering."
            )
        return [dict(c) for c in clusters]

    def _group(self, context: Context) -> tuple[str, list[GroupTask]]:
        """The job name and the tasks of the group whose launch consumes this task's output."""
        from airflow_gradient.core.workflow import workflow_job_name
        from airflow_gradient.workflow_group import consuming_launches, group_tasks

        launches = consuming_launches(self)
        if self.job_name:
            name = str(self.job_name)
        elif len(launches) == 1 and launches[0].task_group is not None:
            name = workflow_job_name(self.dag_id, str(launches[0].task_group.group_id))
        else:
            raise InvalidArgumentsError(
                f"{self.task_id}: no job_name given, and {len(launches)} "
                "DatabricksWorkflowTaskGroup launch tasks consume this task's output (need "
                "exactly one): pass the group "
                "job_clusters=<this task>.output, or give job_name='<dag_id>.<group_id>'."
            )
        return name, group_tasks(launches[0]) if len(launches) == 1 else []

    def _read_everything(self, job_name: str) -> _Reads:
        """The job (by name), the project, its template, its newest SUCCESS recommendation and
        Gradient's webhook destination, read concurrently where one does not need another."""
        databricks, gradient = self.databricks_hook, self.gradient_hook

        def read_job() -> tuple[int | None, dict[str, Any] | None]:
            found = databricks.find_job_id(job_name)
            return found, (databricks.get_job(found) if found is not None else None)

        with ThreadPoolExecutor(max_workers=5, thread_name_prefix="gradient-read") as pool:
            job = pool.submit(read_job)
            given = _given(self.project_id)
            project_id = given or self._project_id(job.result()[0], job_name)
            project = pool.submit(gradient.get_project, project_id)
            template = pool.submit(gradient.get_cluster_template, project_id)
            latest = pool.submit(gradient.get_latest_recommendation, project_id)
            destination = pool.submit(lambda: self._gradient_destination(project.result()))
            found, settings = job.result()
            return _Reads(
                found,
                settings,
                project_id,
                project.result(),
                template.result(),
                latest.result(),
                destination.result(),
            )

    def _project_id(self, job_id: int | None, job_name: str) -> str:
        """The one project that tracks the job (``project_id`` was not given)."""
        if job_id is None:
            raise InvalidArgumentsError(
                f"{self.task_id}: no project_id given and no Databricks job is named "
                f"{job_name!r} yet, so no project can track it. Pass project_id= (needed until "
                "the first launch has created the job and linked the project)."
            )
        project_id = self._tracking_project(job_id, job_name)
        self.log.info("Project %s tracks job %s: using it.", project_id, job_id)
        return project_id

    def _check_owner(self, settings: Mapping[str, Any], job_id: int | None) -> None:
        """The bundle rule of the apply operator: ``SYSTEM_MANAGED`` is refused; a job an Asset
        Bundle deploys is named (the group's reset and the bundle's deploy fight over it)."""
        from airflow_gradient.core.bundles.deployment import bundle_decision

        decision = bundle_decision(
            settings, "warn", job_id=job_id or "", action="workflow group's jobs/reset"
        )
        if decision.level != "none":
            self.log.warning("%s", decision.message)

    def _tracking_project(self, job_id: int, job_name: str) -> str:
        """The id of the one Gradient project tracking ``job_id`` (the apply operator's rule);
        none or several is a :class:`ProjectLookupError` listing what was found."""
        from airflow_gradient.core.project_lookup import project_id_for_job

        return project_id_for_job(self.gradient_hook.find_projects_for_job(job_id), job_id)

    def _log_plan(self, plan: WorkflowClusters, job_name: str) -> None:
        from airflow_gradient.core.cluster.diff import format_diff
        from airflow_gradient.core.recommendation import format_metrics
        from airflow_gradient.core.redaction import redact_changes
        from airflow_gradient.masking import airflow_redactor

        redactor = airflow_redactor()
        for warning in plan.spec_warnings:
            self.log.warning("%s", warning)
        self.log.info("%s", plan.reason)
        rec = plan.recommendation
        if rec is not None:
            self.log.info(
                "Recommendation %s (phase %s) for %s chosen because %s; predicted: %s",
                rec.id,
                rec.phase or "unknown",
                plan.location.path,
                plan.location.reason,
                format_metrics(rec.metrics),
            )
        self.log.info(
            "Cluster %s of job %r, DAG baseline -> what the group runs on:\n%s",
            plan.location.path,
            job_name,
            format_diff(redact_changes(plan.changes, redactor)),
        )
        if plan.would_change:
            self.log.info(
                "Dry run: the recommendation would change:\n%s",
                format_diff(redact_changes(plan.would_change, redactor)),
            )

    def _link(self, project_id: str, body: Mapping[str, Any], job_id: int, dry_run: bool) -> None:
        if not body:
            return
        if dry_run:
            self.log.info("Dry run: project %s not linked (would set %s).", project_id, body)
            return
        self.gradient_hook.update_project(project_id, body)
        self.log.info("Project %s now tracks Databricks job %s (%s).", project_id, job_id, body)

    def _extra_job_params(
        self, destination: str | None, job: Mapping[str, Any] | None, job_name: str
    ) -> dict[str, Any]:
        """The caller's ``extra_job_params`` with Gradient's ``on_start`` destination."""
        from airflow_gradient.core.webhooks import event_destination_ids, wire_on_start

        params = dict(self.extra_job_params)
        if destination is None:
            return params
        if job is not None:
            previous = (job.get("settings") or {}).get("webhook_notifications")
            if destination not in event_destination_ids(previous, job_id=job.get("job_id")):
                self.log.warning(
                    "The last launch of job %r did not carry Gradient's on_start destination %s: "
                    "pass extra_job_params=<this task>.extra_job_params_output to the group "
                    "(provider >= 7.10), or the static form on 7.9 (see docs/workflow-group.md).",
                    job_name,
                    destination,
                )
        wired = wire_on_start(params.get("webhook_notifications"), destination)
        if wired is not None:
            params["webhook_notifications"] = wired
        return params

    def _gradient_destination(self, project: Mapping[str, Any]) -> str | None:
        """The notification destination Gradient listens on (its workspace's ``webhook_id``)."""
        workspace_id = project.get("workspace_id")
        if not workspace_id:
            self.log.warning(
                "Project %s names no workspace_id: no on_start webhook added.", project.get("id")
            )
            return None
        try:
            workspace = self.gradient_hook.get_workspace(str(workspace_id))
        except GradientApiError as err:
            self.log.warning(
                "Gradient workspace %s could not be read (%s): no on_start webhook added.",
                workspace_id,
                err,
            )
            return None
        webhook_id = workspace.get("webhook_id")
        if not isinstance(webhook_id, str) or not webhook_id:
            self.log.warning(
                "Gradient workspace %s has no webhook_id: no on_start webhook added.", workspace_id
            )
            return None
        return webhook_id

    def _persist_links(self, context: Context, project_id: str, job_id: int | None) -> None:
        GradientProjectLink.persist(
            context, gradient_project_url(self.gradient_hook.credentials.base_url, project_id)
        )
        if job_id is not None:
            DatabricksJobLink.persist(context, self.databricks_hook.job_url(job_id))


@dataclass(frozen=True)
class _Reads:
    """Everything :meth:`GradientWorkflowClustersOperator.execute` reads before deciding."""

    job_id: int | None
    job: dict[str, Any] | None
    project_id: str
    project: dict[str, Any]
    template: dict[str, Any]
    latest: dict[str, Any] | None
    destination: str | None


def _given(value: Any) -> str | None:
    """A templated optional argument as a string, or ``None`` when it rendered empty."""
    text = "" if value is None else str(value).strip()
    return None if text in ("", "None") else text


def _flag(value: Any, name: str, task_id: str) -> bool:
    """A bool argument that may have been given as a template (``"true"``/``"false"``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", "", "none"):
        return False
    raise InvalidArgumentsError(f"{task_id}: {name} rendered to {value!r}, not true or false.")
