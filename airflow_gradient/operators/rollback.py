"""GradientRollbackOperator: put a Databricks job's cluster back the way it was before a
``GradientApplyRecommendationOperator`` changed it, when nothing else has changed it since."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_gradient.exceptions import airflow_errors
from airflow_gradient.hook_properties import DatabricksHookProperty
from airflow_gradient.links import DatabricksJobLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_gradient.core.redaction import Redactor
    from airflow_gradient.core.rollback import RollbackPlan
    from airflow_gradient.core.rollback_request import RollbackRequest

DEFAULT_APPLY_TASK_ID = "apply_recommendation"


class GradientRollbackOperator(DatabricksHookProperty, BaseOperator):
    """Put back the fields of a job's cluster a Gradient apply task changed (its
    ``rollback_fields``), keeping everything else as the job has it at rollback time.

    The fields are restored only while the job's cluster still holds what the apply wrote in
    them; if someone or something changed one of them since, the task fails with
    :class:`~airflow_gradient.exceptions.RollbackRefusedError`, writes nothing, and shows a
    ``path | before apply | applied | now`` table of the fields the apply changed
    (``force=True`` restores anyway). A field whose old value was a secret is kept in XCom only
    as a digest: the rollback is refused unless the job already holds that value again.

    When the apply wrote nothing (no recommendation, already applied, dry run, or it did not
    finish) the task logs why and succeeds without touching the job; so it does when the
    cluster already holds the old values. A restore sends the whole job cluster
    entry or the whole task with ``jobs/update`` (never ``jobs/reset``) and reads it back.

    Typical use: ``apply >> run >> rollback`` with ``trigger_rule="one_failed"`` on the rollback,
    so a failed run puts the cluster back (see ``example_dags/gradient_rollback_on_failure.py``).

    The XCom return value: ``rolled_back`` (whether the job was written), ``reason``,
    ``forced``, ``job_id``, ``cluster_path``, ``restored_cluster`` (the spec written, or
    ``None``), ``replaced_cluster`` (the spec it replaced, or ``None``) and ``changes``
    (``path``/``before``/``after`` of each field the rollback changed), secret values hidden.

    :param apply_task_id: the apply task whose return value (XCom) says what to undo, by its
        full id (``group.apply`` inside a task group); used when neither ``apply_result`` nor
        ``cluster_spec`` is given.
    :param apply_result: an apply task's return value itself (templated), e.g. ``apply.output``
        or a dict with ``applied``, ``dry_run``, ``job_id``, ``cluster_path`` and
        ``rollback_fields`` (a result that applied without ``rollback_fields`` is refused).
    :param job_id: with ``cluster_key`` and ``cluster_spec``: the Databricks job (templated).
    :param cluster_key: with ``job_id`` and ``cluster_spec``: ``job_clusters/<key>``,
        ``tasks/<key>``, a job cluster key, or the key of a task with its own cluster (templated).
    :param cluster_spec: a ``new_cluster`` spec to restore (templated). There is no apply
        record then, so it is written whatever the cluster holds now; it is validated first.
    :param force: restore the spec from before the apply even when the cluster changed since
        (those changes are undone too; the three-way difference is logged).
    :param databricks_conn_id: connection of type ``databricks``.
    :param databricks_hook_params: keyword arguments for the Databricks hook (``retry_limit``,
        ``retry_delay``, ``timeout_seconds``, ...).
    """

    template_fields: Sequence[str] = ("apply_result", "job_id", "cluster_key", "cluster_spec")
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
        apply_task_id: str = DEFAULT_APPLY_TASK_ID,
        apply_result: Mapping[str, Any] | str | None = None,
        job_id: int | str | None = None,
        cluster_key: str | None = None,
        cluster_spec: Mapping[str, Any] | str | None = None,
        force: bool = False,
        databricks_conn_id: str = "databricks_default",
        databricks_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
                "task, pass apply_task_id= (or apply_result=): the job and cluster come from it."
            )
        elif apply_result is None and not apply_task_id:
            raise ValueError(
                f"{self.task_id}: say what to roll back: apply_task_id=, apply_result=, or "
                "cluster_spec= with job_id= and cluster_key=."
            )
        self.apply_task_id = apply_task_id
        self.apply_result = apply_result
        self.job_id = job_id
        self.cluster_key = cluster_key
        self.cluster_spec = cluster_spec
        self.force = force
        self.databricks_conn_id = databricks_conn_id
        self.databricks_hook_params = dict(databricks_hook_params or {})

    @airflow_errors()
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
        return self._result(plan, redactor, rolled_back=True)

    # --- steps ----------------------------------------------------------------------------

    def _request(self, context: Context) -> RollbackRequest:
        """What to roll back: the explicit spec, the given apply result, or the apply's XCom."""
        from airflow_gradient.core.rollback_request import (
            explicit_request,
            request_from_apply_result,
        )

        if self.cluster_spec is not None:
            return explicit_request(self.job_id, self.cluster_key, self.cluster_spec)
        if self.apply_result is not None:
            return request_from_apply_result(self.apply_result, source="the given apply_result")
        value = context["ti"].xcom_pull(task_ids=self.apply_task_id)
        return request_from_apply_result(value, source=f"apply task {self.apply_task_id!r}")

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
