"""GradientRollbackOperator: put a Databricks job's cluster back the way it was before a
``GradientApplyRecommendationOperator`` changed it, when nothing else has changed it since."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_gradient._compat import AirflowProviderDeprecationWarning
from airflow_gradient.core.apply_options import ON_BUNDLE
from airflow_gradient.exceptions import ErrorBoundary, InvalidArgumentsError
from airflow_gradient.hook_properties import (
    DEFAULT_DATABRICKS_RETRY_DELAY,
    DEFAULT_DATABRICKS_RETRY_LIMIT,
    DatabricksHookProperty,
)
from airflow_gradient.links import DatabricksJobLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_gradient.core.bundles.deployment import BundleFacts
    from airflow_gradient.core.redaction import Redactor
    from airflow_gradient.core.rollback import RollbackPlan
    from airflow_gradient.core.rollback_request import RollbackRequest

DEFAULT_APPLY_TASK_ID = "apply_recommendation"
"""The apply task read when nothing says what to roll back (deprecated; removed next release)."""
APPLY = "GradientApplyRecommendationOperator"


class GradientRollbackOperator(ErrorBoundary, DatabricksHookProperty, BaseOperator):
    """Put back the fields of a job's cluster a Gradient apply task changed (its
    ``rollback_fields``), keeping everything else as the job has it at rollback time.

    The fields are restored only while the job's cluster still holds what the apply wrote in
    them; if someone or something changed one of them since, the task fails with
    :class:`~airflow_gradient.exceptions.RollbackRefusedError`, writes nothing, and shows a
    ``path | before apply | applied | now`` table of the fields the apply changed
    (``force=True`` restores anyway). A field whose old value was a secret is kept in XCom only
    as a digest: the rollback is refused unless the job already holds that value again.

    When the apply wrote nothing (no recommendation, already applied, dry run) the task logs
    why and succeeds without touching the job; so it does when the cluster already holds the
    old values. When there is no apply result at all (the apply failed or did not run), the
    task fails without retries unless ``allow_missing_result=True``: a rollback must not
    silently never happen. A restore sends the whole job cluster
    entry or the whole task with ``jobs/update`` (never ``jobs/reset``) and reads it back.

    Typical use: ``apply >> run >> rollback`` with ``apply_result=apply.output`` and
    ``trigger_rule="one_failed"`` on the rollback, so a failed run puts the cluster back (see
    ``example_dags/gradient_rollback_on_failure.py``).

    The XCom return value: ``rolled_back`` (whether the job was written), ``reason``,
    ``forced``, ``job_id``, ``cluster_path``, ``restored_cluster`` (the spec written, or
    ``None``), ``replaced_cluster`` (the spec it replaced, or ``None``) and ``changes``
    (``path``/``before``/``after`` of each field the rollback changed), secret values hidden.

    :param apply_result: the apply task's return value (templated): ``apply.output``, the
        documented form (the task cannot be misnamed, and the rollback runs after it), or a
        dict with ``applied``, ``dry_run``, ``job_id``, ``cluster_path`` and
        ``rollback_fields`` (a result that applied without ``rollback_fields`` is refused).
    :param apply_task_id: instead of ``apply_result``: the id of the apply task whose XCom says
        what to undo, in full (``group.apply`` inside a task group). It must name a
        ``GradientApplyRecommendationOperator`` of the DAG: checked when the rollback is created
        if that task exists already, by :func:`~airflow_gradient.policies.validate_dag` and
        :func:`~airflow_gradient.policies.dag_policy` when the DAG is complete, and at run time
        (a failure without retries). Default: none; with none of ``apply_result``,
        ``apply_task_id`` and ``cluster_spec``, ``"apply_recommendation"`` is read, with a
        deprecation warning (this default is removed in the next release).
    :param allow_missing_result: succeed without writing when the apply left no result (it
        failed, was skipped or did not run). Default ``False``: no result fails the task
        without retries, since it can also mean the rollback reads the wrong task. Set it with
        ``trigger_rule="one_failed"`` when a failed apply (which writes nothing) should not
        fail the rollback too.
    :param job_id: with ``cluster_key`` and ``cluster_spec``: the Databricks job (templated).
    :param cluster_key: with ``job_id`` and ``cluster_spec``: ``job_clusters/<key>``,
        ``tasks/<key>``, a job cluster key, or the key of a task with its own cluster (templated).
    :param cluster_spec: a ``new_cluster`` spec to restore (templated). There is no apply
        record then, so it is written whatever the cluster holds now; it is validated first.
    :param force: restore the spec from before the apply even when the cluster changed since
        (those changes are undone too; the three-way difference is logged).
    :param databricks_conn_id: connection of type ``databricks`` (templated).
    :param databricks_retry_limit: attempts of each Databricks call in all (default 3), as for
        ``DatabricksRunNowOperator``.
    :param databricks_retry_delay: seconds between Databricks attempts (default 1), as for
        ``DatabricksRunNowOperator``.
    :param databricks_retry_args: tenacity ``Retrying`` arguments for the Databricks calls,
        replacing ``databricks_retry_limit``/``databricks_retry_delay``.
    :param databricks_hook_params: other keyword arguments for the Databricks hook
        (``timeout_seconds``, ``max_retry_after``). Its retry keys (``retry_limit``,
        ``retry_delay``, ``retry_args``) are deprecated (removed in the next release): they
        still win over the ``databricks_retry_*`` arguments, with a deprecation warning.
    :param on_bundle: what to do when a Databricks Asset Bundle owns the job, as for the apply
        operator: ``"warn"`` (restore and log the bundle), ``"fail"`` (refuse before any
        write) or ``"apply"``; ``SYSTEM_MANAGED`` jobs are always refused. A restoring
        rollback's XCom holds the facts in ``bundle``.
    """

    template_fields: Sequence[str] = (
        "apply_result",
        "job_id",
        "cluster_key",
        "cluster_spec",
        "databricks_conn_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "apply_result": "json",
        "cluster_spec": "json",
    }
    operator_extra_links = (DatabricksJobLink(),)
    ui_color = "#7B61FF"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        apply_result: Any = None,
        apply_task_id: str | None = None,
        allow_missing_result: bool = False,
        job_id: int | str | None = None,
        cluster_key: str | None = None,
        cluster_spec: Mapping[str, Any] | str | None = None,
        force: bool = False,
        databricks_conn_id: str = "databricks_default",
        databricks_retry_limit: int = DEFAULT_DATABRICKS_RETRY_LIMIT,
        databricks_retry_delay: float = DEFAULT_DATABRICKS_RETRY_DELAY,
        databricks_retry_args: Mapping[str, Any] | None = None,
        databricks_hook_params: Mapping[str, Any] | None = None,
        on_bundle: str = "warn",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if apply_result is not None and apply_task_id is not None:
            raise ValueError(
                f"{self.task_id}: give apply_result (e.g. apply.output) or apply_task_id, not both."
            )
        if on_bundle not in ON_BUNDLE:
            raise ValueError(
                f"{self.task_id}: on_bundle must be one of {ON_BUNDLE}, not {on_bundle!r}."
            )
        self.on_bundle = on_bundle
        if cluster_spec is not None:
            if apply_result is not None:
                raise ValueError(
                    f"{self.task_id}: give apply_result or cluster_spec (with job_id and "
                    "cluster_key), not both."
                )
            if job_id in (None, "") or not cluster_key:
                raise ValueError(
                    f"{self.task_id}: cluster_spec needs job_id and cluster_key: the job and "
                    "the cluster to restore it into."
                )
        elif job_id not in (None, "") or cluster_key:
            raise ValueError(
                f"{self.task_id}: job_id and cluster_key go with cluster_spec; to undo an apply "
                "task, pass apply_result=<apply task>.output: the job and cluster come from it."
            )
        elif apply_task_id is not None and not apply_task_id:
            raise ValueError(
                f"{self.task_id}: say what to roll back: apply_result=<apply task>.output, or "
                "cluster_spec= with job_id= and cluster_key=."
            )
        elif apply_result is None and apply_task_id is None:
            warnings.warn(
                f"{self.task_id}: nothing says what to roll back, so apply task "
                f"{DEFAULT_APPLY_TASK_ID!r} is read; this default is deprecated and removed in "
                "the next release. Pass apply_result=<apply task>.output.",
                AirflowProviderDeprecationWarning,
                stacklevel=3,
            )
            apply_task_id = DEFAULT_APPLY_TASK_ID
        self.apply_task_id = apply_task_id
        if apply_task_id is not None:
            self._refuse_wrong_apply_task(apply_task_id)
        self.allow_missing_result = allow_missing_result
        self.apply_result = apply_result
        self.job_id = job_id
        self.cluster_key = cluster_key
        self.cluster_spec = cluster_spec
        self.force = force
        self.databricks_conn_id = databricks_conn_id
        self.set_databricks_hook_params(
            retry_limit=databricks_retry_limit,
            retry_delay=databricks_retry_delay,
            retry_args=databricks_retry_args,
            hook_params=databricks_hook_params,
        )

    def _refuse_wrong_apply_task(self, apply_task_id: str) -> None:
        """At parse time: ``apply_task_id`` names a task of the DAG that is no apply task.

        A task defined later cannot be judged yet: :func:`~airflow_gradient.policies.dag_policy`
        (when the DAG is complete) and ``execute`` check that the task exists.
        """
        from airflow_gradient.policies import rollback_finding

        dag = _dag_of(self)
        if dag is None or not dag.has_task(apply_task_id):
            return
        finding = rollback_finding(self, dag)
        if finding:
            raise ValueError(finding)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_gradient.core.cluster.diff import format_diff
        from airflow_gradient.core.redaction import redact_changes
        from airflow_gradient.core.rollback import rollback_plan
        from airflow_gradient.masking import airflow_redactor, mask_cluster_secrets

        redactor = airflow_redactor()
        request = self._request(context)
        job_id = request.job_id
        if job_id is not None:
            DatabricksJobLink.persist(context, self.databricks_hook.job_url(job_id))
        if request.nothing_reason is not None or job_id is None:
            plan = rollback_plan({}, request, redactor=redactor)
            self.log.info("Nothing to roll back: %s", plan.reason)
            return self._result(plan, redactor)

        job = self.databricks_hook.get_job(job_id)
        mask_cluster_secrets(job)
        plan = rollback_plan(job["settings"], request, force=self.force, redactor=redactor)
        if not plan.write or plan.new_settings is None or plan.restored is None:
            self.log.info("%s", plan.reason)
            return self._result(plan, redactor)

        bundle = self._bundle_facts(job["settings"], job_id)
        if plan.forced:
            self.log.warning("%s", plan.reason)
        else:
            self.log.info("%s", plan.reason)
        shown = format_diff(redact_changes(plan.changes, redactor))
        self.log.info("Changes to %s:\n%s", plan.cluster_path, shown)
        self.databricks_hook.update_job(job_id, plan.new_settings)
        self._check_read_back(job_id, str(plan.cluster_path), plan.restored, redactor)
        self.log.info(
            "Rolled back Databricks job %s cluster %s to the spec from before the apply.",
            job_id,
            plan.cluster_path,
        )
        return {**self._result(plan, redactor, rolled_back=True), "bundle": bundle}

    # --- steps ----------------------------------------------------------------------------

    def _bundle_facts(self, settings: Mapping[str, Any], job_id: int) -> BundleFacts | None:
        """Log who deploys the job; refuse per ``on_bundle`` (always for a job Databricks
        manages) before anything is written."""
        from airflow_gradient.core.bundles.deployment import bundle_decision

        decision = bundle_decision(settings, self.on_bundle, job_id=job_id, action="rollback")
        if decision.level != "none":
            log = self.log.warning if decision.level == "warning" else self.log.info
            log("%s", decision.message)
        return decision.facts

    def _request(self, context: Context) -> RollbackRequest:
        """What to roll back: the explicit spec, the given apply result, or the apply's XCom."""
        from airflow_gradient.core.rollback_request import (
            explicit_request,
            request_from_apply_result,
        )

        if self.cluster_spec is not None:
            return explicit_request(self.job_id, self.cluster_key, self.cluster_spec)
        allow_missing = self.allow_missing_result
        if self.apply_task_id is None:
            return request_from_apply_result(
                self.apply_result, source="the given apply_result", allow_missing=allow_missing
            )
        self._refuse_missing_apply_task()
        value = context["ti"].xcom_pull(task_ids=self.apply_task_id)
        return request_from_apply_result(
            value, source=f"apply task {self.apply_task_id!r}", allow_missing=allow_missing
        )

    def _refuse_missing_apply_task(self) -> None:
        """``apply_task_id`` names no apply task of the DAG: fail without retries."""
        from airflow_gradient.policies import rollback_finding

        dag = _dag_of(self)
        finding = rollback_finding(self, dag) if dag is not None else None
        if finding:
            raise InvalidArgumentsError(f"{finding} Nothing was written.")

    def _check_read_back(
        self, job_id: int, path: str, restored: Mapping[str, Any], redactor: Redactor
    ) -> None:
        from airflow_gradient.core.cluster.update import cluster_spec_at
        from airflow_gradient.core.rollback import check_read_back

        found = cluster_spec_at(self.databricks_hook.get_job(job_id)["settings"], path)
        check_read_back(job_id, path, restored, found, redactor=redactor)

    @staticmethod
    def _result(
        plan: RollbackPlan, redactor: Redactor, *, rolled_back: bool = False
    ) -> dict[str, Any]:
        """The XCom return value (JSON-safe; secret values hidden)."""
        from airflow_gradient.core.redaction import redact_changes, redact_cluster

        written = rolled_back and plan.restored is not None and plan.current is not None
        return {
            "rolled_back": rolled_back,
            "reason": plan.reason,
            "forced": plan.forced,
            "job_id": plan.job_id,
            "cluster_path": plan.cluster_path,
            "restored_cluster": redact_cluster(plan.restored or {}, redactor) if written else None,
            "replaced_cluster": redact_cluster(plan.current or {}, redactor) if written else None,
            "changes": redact_changes(plan.changes, redactor) if rolled_back else [],
        }


def _dag_of(task: BaseOperator) -> Any:
    """The DAG ``task`` belongs to, or ``None`` before it is assigned to one."""
    return task.dag if task.has_dag() else None  # type: ignore[no-untyped-call]
