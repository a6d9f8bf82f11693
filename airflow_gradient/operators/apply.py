"""GradientApplyRecommendationOperator: write the latest Gradient recommendation into a
Databricks job's cluster, so that the ``DatabricksRunNowOperator`` after it runs on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_gradient.exceptions import (
    AutoApplyConflictError,
    DatabricksJobError,
    NoRecommendationError,
    ReadBackMismatchError,
    RecommendationRevertedError,
    UnsupportedPathError,
)
from airflow_gradient.hook_properties import DatabricksHookProperty, GradientHookProperty
from airflow_gradient.links import DatabricksJobLink, GradientProjectLink, gradient_project_url

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_gradient.cluster import ClusterLocation
    from airflow_gradient.guardrails import GuardRails
    from airflow_gradient.recommendation import Recommendation

RUN_NOW = "DatabricksRunNowOperator"
IF_NO_RECOMMENDATION = ("skip", "fail")
ON_REVERT = ("warn", "fail", "reapply")
TERRAFORM_GUIDE = (
    "https://github.com/synccomputingcode/airflow-gradient/blob/main/docs/terraform.md"
)


class GradientApplyRecommendationOperator(
    GradientHookProperty, DatabricksHookProperty, BaseOperator
):
    """Apply the project's newest SUCCESS recommendation to the Databricks job's cluster.

    Place it right before ``DatabricksRunNowOperator``: ``jobs/run-now`` has no cluster
    override, so the recommendation must be in the saved job when the run starts. The cluster
    is located, merged, validated and checked against the guard rails before anything is
    written; an unchanged cluster is not written at all, so re-runs are idempotent.

    :param project_id: Gradient project id (templated).
    :param job_id: Databricks job id (templated). With ``job_name`` absent too, both are taken
        from the single downstream ``DatabricksRunNowOperator``.
    :param job_name: Databricks job name (templated), looked up when ``job_id`` is not given.
    :param recommendation_id: apply exactly this recommendation (templated), e.g. the one a
        human approved after a dry run, instead of the newest SUCCESS one. It must be SUCCESS;
        ``if_no_recommendation`` does not apply to it.
    :param cluster_key: which cluster of the job to tune (templated): a ``job_cluster_key``,
        a ``task_key``, or ``job_clusters/<key>`` / ``tasks/<key>``. Default: the cluster tagged
        ``sync:project-id``, else the project's ``cluster_path``, else the job's only cluster.
    :param gradient_conn_id: connection of type ``gradient``.
    :param databricks_conn_id: connection of type ``databricks``.
    :param dry_run: compute and log the diff, write nothing.
    :param guard_rails: a :class:`~airflow_gradient.guardrails.GuardRails` or a dict of its
        fields; a recommendation that breaks one is refused, listing every violation.
    :param if_no_recommendation: ``"skip"`` (leave the job as it is and succeed, so the run
        goes ahead on the current cluster) or ``"fail"``.
    :param allow_auto_apply_conflict: apply even when the project has ``auto_apply_recs`` on
        (then Gradient applies recommendations too, and the two race).
    :param on_revert: what to do when the cluster is tagged with a recommendation it no longer
        holds (Terraform, Asset Bundles, a job reset or a manual edit reverted it): ``"warn"``
        (log it, leave the job as it is), ``"fail"``, or ``"reapply"`` (write it again).
    :param gradient_hook_params: keyword arguments for :class:`GradientHook` (timeouts, retries).
    :param databricks_hook_params: keyword arguments for the Databricks hook (``retry_limit``,
        ``retry_delay``, ``timeout_seconds``, ``max_retry_after``, ...).

    The task ends within :meth:`time_bound` seconds, computed from the two sets of hook
    parameters; set ``execution_timeout`` above it. Whatever fails, the job ends either exactly
    as it was or with exactly the merged spec: after ``jobs/update`` (also when that call
    fails) the job is read back, and the read-back decides what is reported. The XCom says
    how the write was confirmed (``write_confirmed_by``: ``"reply and read-back"``, or
    ``"read-back"`` when the update call failed but the change landed, with ``update_error``).
    See https://github.com/synccomputingcode/airflow-gradient/blob/main/docs/reliability.md.
    """

    template_fields: Sequence[str] = (
        "project_id",
        "job_id",
        "job_name",
        "cluster_key",
        "recommendation_id",
    )
    operator_extra_links = (GradientProjectLink(), DatabricksJobLink())
    ui_color = "#7B61FF"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        project_id: str,
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
        gradient_hook_params: Mapping[str, Any] | None = None,
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
        if job_id is not None and job_name is not None:
            raise ValueError(f"{self.task_id}: give job_id or job_name, not both.")
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
        self.gradient_hook_params = dict(gradient_hook_params or {})
        self.databricks_hook_params = dict(databricks_hook_params or {})

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_gradient.cluster import (
            diff_cluster,
            format_diff,
            locate_cluster,
            merge_recommendation,
            validate_cluster_spec,
        )
        from airflow_gradient.guardrails import GuardRails, check_guard_rails
        from airflow_gradient.recommendation import format_metrics, parse_recommendation

        self._refuse_unsupported_downstream()
        rails = GuardRails.from_value(self.guard_rails)
        job_id, job_name = self._job_reference(context)

        project, latest, job = self._read_everything(job_id, job_name)
        job_id = int(job["job_id"])
        self._refuse_auto_apply(project)
        self._refuse_other_job(project, job_id)
        self._persist_links(context, job_id)

        if latest is None:
            return self._no_recommendation(job_id)
        rec = parse_recommendation(latest, project_id=self.project_id)
        if not rec.is_applicable:
            raise NoRecommendationError(
                f"Recommendation {rec.id} of project {self.project_id} is {rec.state}"
                + (f" ({rec.error})" if rec.error else "")
                + f"; only a SUCCESS recommendation can be applied. Databricks job {job_id} "
                "is left as it is. Wait for it with GradientRecommendationSensor, or request "
                "a new one."
            )
        settings = job["settings"]
        location = locate_cluster(
            settings,
            job_id=job_id,
            project_id=self.project_id,
            cluster_path=project.get("cluster_path") or None,
            cluster_key=self.cluster_key or None,
        )
        where = f"project {self.project_id}, Databricks job {job_id}, cluster {location.path}"
        merged = merge_recommendation(location.spec, rec.configuration, recommendation_id=rec.id)
        validate_cluster_spec(merged, where=where, existing=location.spec)
        check_guard_rails(location.spec, merged, phase=rec.phase, rails=rails, where=where)
        changes = diff_cluster(location.spec, merged)
        reverted = self._reverted_since_last_apply(location.spec, rec, where)

        self.log.info(
            "Recommendation %s (phase %s) for %s chosen because %s; predicted: %s",
            rec.id,
            rec.phase or "unknown",
            where,
            location.reason,
            format_metrics(rec.metrics),
        )
        self.log.info("Changes to %s:\n%s", location.path, format_diff(changes))

        result: dict[str, Any] = {
            "applied": False,
            "dry_run": self.dry_run_only,
            "job_id": job_id,
            "cluster_key": location.key,
            "cluster_path": location.path,
            "recommendation_id": rec.id,
            "phase": rec.phase,
            "changes": changes,
            "previous_cluster": location.spec,
            "new_cluster": merged,
            "metrics": rec.metrics,
            "reverted_since_last_apply": reverted,
            "write_confirmed_by": None,
            "update_error": None,
        }
        if self.dry_run_only:
            self.log.info("Dry run: job %s left unchanged.", job_id)
        elif not changes:
            self.log.info(
                "Job %s already runs recommendation %s: nothing to write.", job_id, rec.id
            )
        elif reverted and self.on_revert == "warn":
            self.log.warning(
                "on_revert='warn': job %s left as it is. Fix what reverts it, or pass "
                "on_revert='reapply' to write recommendation %s again.",
                job_id,
                rec.id,
            )
            result["new_cluster"] = location.spec
        else:
            result.update(
                self._write(job_id, settings, location, merged, rec_id=rec.id, where=where)
            )
        return result

    def time_bound(self, *, job_pages: int = 1, recommendation_pages: int = 1) -> float | None:
        """Most seconds :meth:`execute` can spend on the network, from the hook parameters.

        The three reads run concurrently (project and recommendations on Gradient, the job on
        Databricks); then at most one Gradient read (the recommendation a reverted cluster is
        tagged with), ``jobs/update`` and the read-back. Each Gradient call is bounded by
        ``GradientHook.call_time_bound`` and each Databricks call by
        ``DatabricksJobsHook.call_time_bound``. ``None`` when custom ``retry_args`` make the
        Databricks calls unbounded. With ``job_name``, add one Databricks call per page of
        ``jobs/list``.

        :param job_pages: pages of ``jobs/get`` (100 tasks or job clusters a page).
        :param recommendation_pages: pages of recommendations read before a SUCCESS one.
        """
        gradient = self.gradient_hook.call_time_bound()
        databricks = self.databricks_hook.call_time_bound()
        if databricks is None:
            return None
        lookup = databricks if self.job_name else 0.0
        reads = max(recommendation_pages * gradient, lookup + job_pages * databricks)
        return reads + gradient + databricks + job_pages * databricks

    # --- steps ----------------------------------------------------------------------------

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
            raise DatabricksJobError(
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
            raise DatabricksJobError(
                f"{self.task_id}: downstream task {task.task_id!r} names no job_id or job_name."
            )
        self.log.info("Job taken from downstream task %s.", task.task_id)
        return job_id, job_name

    def _read_everything(
        self, job_id: int | str | None, job_name: str | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
        """Project, newest SUCCESS recommendation and the whole job, read concurrently."""
        gradient, databricks = self.gradient_hook, self.databricks_hook

        def read_job() -> dict[str, Any]:
            resolved = databricks.resolve_job_id(job_id=job_id, job_name=job_name)
            return databricks.get_job(resolved)

        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="gradient-read") as pool:
            project = pool.submit(gradient.get_project, self.project_id)
            pinned = _given(self.recommendation_id)
            latest = (
                pool.submit(gradient.get_recommendation, self.project_id, pinned)
                if pinned
                else pool.submit(gradient.get_latest_recommendation, self.project_id)
            )
            job = pool.submit(read_job)
            return project.result(), latest.result(), job.result()

    def _refuse_auto_apply(self, project: Mapping[str, Any]) -> None:
        if not project.get("auto_apply_recs"):
            return
        if self.allow_auto_apply_conflict:
            self.log.warning(
                "Project %s has auto_apply_recs on: Gradient applies recommendations itself too. "
                "Going ahead because allow_auto_apply_conflict=True.",
                self.project_id,
            )
            return
        raise AutoApplyConflictError(
            f"Project {self.project_id} has auto_apply_recs on: Gradient applies each "
            "recommendation itself after a run, and this task would race it. Turn auto-apply off "
            'in Gradient (PUT /v1/projects/{id} {"auto_apply_recs": false}) to let Airflow '
            "apply, or pass allow_auto_apply_conflict=True."
        )

    def _refuse_other_job(self, project: Mapping[str, Any], job_id: int) -> None:
        """The project's recommendations were learned from its own job: refuse another one."""
        tuned = project.get("job_id")
        if tuned in (None, "") or str(tuned).strip() == str(job_id):
            return
        raise DatabricksJobError(
            f"Gradient project {self.project_id} tunes Databricks job {tuned}, not job {job_id}: "
            "its recommendations were learned from the runs of that job. Pass "
            f"job_id={tuned}, or the project_id of job {job_id}. The job was not changed."
        )

    def _no_recommendation(self, job_id: int) -> dict[str, Any]:
        message = (
            f"Project {self.project_id} has no SUCCESS recommendation yet; Databricks job "
            f"{job_id} is left as it is."
        )
        if self.if_no_recommendation == "fail":
            raise NoRecommendationError(
                f"{message} Wait for one with GradientRecommendationSensor, or pass "
                "if_no_recommendation='skip'."
            )
        self.log.info("%s The run goes ahead on the current cluster.", message)
        return {
            "applied": False,
            "dry_run": self.dry_run_only,
            "job_id": job_id,
            "cluster_key": None,
            "cluster_path": None,
            "recommendation_id": None,
            "phase": None,
            "changes": [],
            "previous_cluster": None,
            "new_cluster": None,
            "metrics": {},
            "reverted_since_last_apply": False,
            "write_confirmed_by": None,
            "update_error": None,
        }

    def _reverted_since_last_apply(
        self, spec: Mapping[str, Any], latest: Recommendation, where: str
    ) -> bool:
        """Whether the cluster lost the values of the recommendation its tag says is in force."""
        from airflow_gradient.cluster import applied_recommendation_id, format_diff, reverted_fields
        from airflow_gradient.exceptions import GradientError
        from airflow_gradient.recommendation import parse_recommendation

        tagged = applied_recommendation_id(spec)
        if tagged is None:
            return False
        if tagged == latest.id:
            configuration = latest.configuration
        else:
            try:
                raw = self.gradient_hook.get_recommendation(self.project_id, tagged)
                configuration = parse_recommendation(raw, project_id=self.project_id).configuration
            except GradientError as err:
                self.log.info(
                    "Cannot check recommendation %s in force on %s: %s", tagged, where, err
                )
                return False
        lost = reverted_fields(spec, configuration, tagged)
        if not lost:
            return False
        message = (
            f"{where} is tagged with recommendation {tagged} but no longer holds its values: "
            "something reverted it (Terraform apply, Databricks Asset Bundles deploy, a job reset "
            "by DatabricksWorkflowTaskGroup/DatabricksCreateJobsOperator, or a manual edit). "
            f"See {TERRAFORM_GUIDE} (`airflow-gradient terraform ignore-changes`). "
            f"Reverted (now → recommended):\n{format_diff(lost)}"
        )
        if self.on_revert == "fail":
            raise RecommendationRevertedError(f"{message}\nNothing was written (on_revert='fail').")
        self.log.warning("%s", message)
        return True

    def _write(
        self,
        job_id: int,
        settings: Mapping[str, Any],
        location: ClusterLocation,
        merged: Mapping[str, Any],
        *,
        rec_id: str,
        where: str,
    ) -> dict[str, Any]:
        """``jobs/update``, then the read-back, which decides what happened (also on failure)."""
        from airflow_gradient.cluster import update_settings_for

        new_settings = update_settings_for(settings, location, merged)
        update_error: DatabricksJobError | None = None
        try:
            self.databricks_hook.update_job_settings(job_id, new_settings)
        except DatabricksJobError as err:
            update_error = err
            self.log.warning(
                "jobs/update of %s failed: %s. Reading the job back: it decides whether the "
                "change landed.",
                where,
                err,
            )
        return {
            "applied": True,
            **self._check_read_back(
                job_id, location, merged, rec_id=rec_id, where=where, update_error=update_error
            ),
        }

    def _check_read_back(
        self,
        job_id: int,
        location: ClusterLocation,
        expected: Mapping[str, Any],
        *,
        rec_id: str,
        where: str,
        update_error: DatabricksJobError | None = None,
    ) -> dict[str, Any]:
        """Read the job again; the written spec must be there, or another apply replaced it.

        With ``update_error`` (the update call failed: reply lost, retries spent, ...) the
        read-back decides: the spec is there (applied, reply lost), or the cluster is as it was
        (not applied: raise), or something else wrote it (raise).
        """
        from airflow_gradient.cluster import (
            applied_recommendation_id,
            cluster_spec_at,
            format_diff,
            read_back_differences,
        )

        try:
            job = self.databricks_hook.get_job(job_id)
        except DatabricksJobError as err:
            raise self._read_back_failed(err, rec_id, where, update_error) from err
        found = cluster_spec_at(job["settings"], location.path) or {}
        differences = read_back_differences(expected, found)
        if not differences and update_error is None:
            self.log.info("Applied recommendation %s to %s (read back).", rec_id, where)
            return {"write_confirmed_by": "reply and read-back", "update_error": None}
        if not differences:
            self.log.warning(
                "Applied recommendation %s to %s: the jobs/update call failed (%s), but the "
                "read-back shows the job holds it, so the update landed and only its reply was "
                "lost.",
                rec_id,
                where,
                update_error,
            )
            return {"write_confirmed_by": "read-back", "update_error": str(update_error)}
        if update_error is not None and not read_back_differences(location.spec, found):
            raise DatabricksJobError(
                f"Recommendation {rec_id} was NOT applied: jobs/update of {where} failed "
                f"({update_error}), and the read-back shows the cluster unchanged: the job is "
                "as it was. Run the task again to retry. (Should an attempt that timed out still "
                "reach Databricks, it writes exactly the recommended spec, never a part of it.)"
            ) from update_error
        other = applied_recommendation_id(found)
        if other is not None and other != rec_id and update_error is None:
            self.log.warning(
                "Wrote recommendation %s to %s, but another writer has since replaced the whole "
                "cluster with recommendation %s; the job holds that one, unmixed.",
                rec_id,
                where,
                other,
            )
            return {
                "superseded_by": other,
                "new_cluster": found,
                "write_confirmed_by": "reply",
                "update_error": None,
            }
        failed = f" (the jobs/update call itself failed: {update_error})" if update_error else ""
        raise ReadBackMismatchError(
            f"After jobs/update{failed}, {where} does not hold the spec that was written "
            "(another writer, or Databricks changed it). Check the job before the next run. "
            f"Written → found:\n{format_diff(differences)}"
        )

    @staticmethod
    def _read_back_failed(
        err: DatabricksJobError, rec_id: str, where: str, update_error: DatabricksJobError | None
    ) -> DatabricksJobError:
        """The error for a read-back that failed: what is known about the job, and what to do."""
        if update_error is None:
            return DatabricksJobError(
                f"Databricks acknowledged the jobs/update of {where}, but reading the job back "
                f"failed ({err}), so the write is unverified. The job most likely holds "
                f"recommendation {rec_id}; check it before the next run (running this task "
                "again verifies it and writes nothing if it is there)."
            )
        return DatabricksJobError(
            f"Unknown whether recommendation {rec_id} was applied: jobs/update of {where} failed "
            f"({update_error}) and reading the job back failed too ({err}). Databricks applies "
            "an update whole or not at all, so the cluster holds either its previous spec or "
            "the recommended one; check the job before the next run, or run this task again."
        )

    def _persist_links(self, context: Context, job_id: int) -> None:
        GradientProjectLink.persist(
            context, gradient_project_url(self.gradient_hook.credentials.base_url, self.project_id)
        )
        DatabricksJobLink.persist(context, self.databricks_hook.job_url(job_id))


def _given(value: Any) -> str | None:
    """A templated optional argument as a string, or ``None`` when it rendered empty."""
    text = "" if value is None else str(value).strip()
    return None if text in ("", "None") else text
