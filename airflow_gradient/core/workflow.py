"""The clusters of a ``DatabricksWorkflowTaskGroup`` job, tuned by Gradient.

The group's launch task replaces the whole job from the DAG on every run (``jobs/reset``), so
nothing written into the job between runs survives. What survives is what the group is given:
its ``job_clusters``. :func:`plan_workflow_clusters` computes that list on every run:

1. the baseline ``job_clusters`` from the DAG;
2. Gradient's cluster template (``sync:*`` tags, ``cluster_log_conf``) merged into the tuned
   cluster, so Gradient can collect every run;
3. the latest usable recommendation merged on top.

Steps 2 and 3 use :func:`~airflow_gradient.core.cluster.merge.merge_recommendation`, the merge
the apply path uses; which cluster is tuned is
:func:`~airflow_gradient.core.cluster.locate.locate_cluster`, the apply path's rule. Pure: no
Airflow, no network, no clock.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from airflow_gradient.core.cluster.diff import diff_cluster
from airflow_gradient.core.cluster.locate import ClusterLocation, locate_cluster
from airflow_gradient.core.cluster.merge import merge_recommendation
from airflow_gradient.core.cluster.spec import validate_cluster_spec
from airflow_gradient.core.errors import (
    InvalidClusterSpecError,
    ProjectLinkError,
    UnsupportedClusterError,
)
from airflow_gradient.core.guardrails import LEARNING_PHASE, GuardRails, check_guard_rails
from airflow_gradient.core.recommendation import (
    Recommendation,
    parse_recommendation,
    state_name,
)
from airflow_gradient.core.redaction import Redactor, redact_changes, secret_values

__all__ = [
    "GroupTask",
    "WorkflowClusters",
    "WorkflowClustersResult",
    "plan_workflow_clusters",
    "project_link_update",
    "workflow_job_name",
]


def workflow_job_name(dag_id: str, group_id: str) -> str:
    """The name the databricks provider gives a workflow group's job: ``<dag_id>.<group_id>``."""
    return f"{dag_id}.{group_id}"


@dataclass(frozen=True)
class GroupTask:
    """What one task of the group puts in the job, as far as compute goes.

    :ivar new_cluster: a task-level cluster; ``dropped`` says the provider drops it from the
        job (``DatabricksNotebookOperator``'s ``new_cluster=`` inside a group).
    """

    task_key: str
    job_cluster_key: str | None = None
    existing_cluster_id: str | None = None
    new_cluster: Mapping[str, Any] | None = None
    dropped: bool = False

    def as_job_task(self) -> dict[str, Any]:
        """The task as the job would hold it (for the locate rule)."""
        task: dict[str, Any] = {"task_key": self.task_key}
        if self.new_cluster:
            task["new_cluster"] = dict(self.new_cluster)
        elif self.job_cluster_key:
            task["job_cluster_key"] = self.job_cluster_key
        elif self.existing_cluster_id:
            task["existing_cluster_id"] = self.existing_cluster_id
        return task


class WorkflowClustersResult(TypedDict):
    """The operator's ``gradient_result`` XCom: what the group's job runs on, and why.

    ``changes`` go from the DAG's baseline cluster to the returned one (template and
    recommendation), secret values hidden; ``recommendation_id`` is the recommendation in
    force (``None``: baseline + template only, ``reason`` says why).
    """

    job_name: str
    job_id: int | None
    dry_run: bool
    cluster_key: str
    cluster_path: str
    recommendation_id: str | None
    phase: str | None
    metrics: dict[str, Any]
    reason: str
    changes: list[dict[str, Any]]
    would_change: list[dict[str, Any]]


@dataclass(frozen=True)
class WorkflowClusters:
    """What the group runs on this time.

    :ivar job_clusters: the list to hand to the group (baseline + template + recommendation;
        baseline + template on a dry run or without a usable recommendation).
    :ivar recommendation: the recommendation in force, if any.
    :ivar would_change: on a dry run, what the recommendation would change (template → merged).
    """

    job_clusters: list[dict[str, Any]]
    location: ClusterLocation
    recommendation: Recommendation | None
    reason: str
    changes: list[dict[str, Any]]
    would_change: list[dict[str, Any]] = field(default_factory=list)
    spec_warnings: tuple[str, ...] = ()

    def result(
        self, *, job_name: str, job_id: int | None, dry_run: bool, redactor: Redactor
    ) -> WorkflowClustersResult:
        """The XCom record, secret values hidden."""
        rec = self.recommendation
        return WorkflowClustersResult(
            job_name=job_name,
            job_id=job_id,
            dry_run=dry_run,
            cluster_key=self.location.key,
            cluster_path=self.location.path,
            recommendation_id=rec.id if rec else None,
            phase=rec.phase if rec else None,
            metrics=dict(rec.metrics) if rec else {},
            reason=self.reason,
            changes=redact_changes(self.changes, redactor),
            would_change=redact_changes(self.would_change, redactor),
        )


def _epoch_ms(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _unusable_reason(
    project_id: str,
    latest: Any,
    job: Mapping[str, Any] | None,
    job_name: str,
) -> tuple[Recommendation | None, str | None]:
    """The recommendation to apply, or why none: (rec, None) or (None, reason)."""
    if job is None:
        return None, (
            f"First run: no Databricks job is named {job_name!r} yet (the group's launch task "
            "creates it), so it runs on the baseline + Gradient's cluster template."
        )
    job_id = job.get("job_id")
    if latest is None:
        return None, (
            f"Project {project_id} has no SUCCESS recommendation yet: job {job_id} runs on the "
            "baseline + Gradient's cluster template, so Gradient can learn from this run."
        )
    rec = parse_recommendation(latest, project_id=project_id)
    if not rec.is_applicable:
        return None, (
            f"Recommendation {rec.id} of project {project_id} is {rec.state}: job {job_id} "
            "runs on the baseline + Gradient's cluster template."
        )
    created = _epoch_ms(rec.created_at)
    job_created = job.get("created_time")
    # Gradient's times have whole seconds: a recommendation of the job's own second is not older.
    if (
        created is not None
        and isinstance(job_created, int)
        and created < job_created // 1000 * 1000
    ):
        return None, (
            f"Recommendation {rec.id} of project {project_id} (created {rec.created_at}) is "
            f"older than Databricks job {job_id} {job_name!r}: it was learned from another job "
            "(the job was deleted and created again?). The job runs on the baseline + Gradient's "
            "cluster template until Gradient recommends from its runs."
        )
    return rec, None


def _held_back_while_learning(rec: Recommendation, rails: GuardRails) -> bool:
    phase = (rec.phase or "").strip()
    return not rails.apply_during_learning and state_name(phase) == LEARNING_PHASE


def project_link_update(
    project: Mapping[str, Any], *, project_id: str, job_id: int, job_name: str, cluster_path: str
) -> dict[str, Any]:
    """The ``PUT /v1/projects/{id}`` body that links the project to the group's job (``{}``:
    already linked).

    :raises ProjectLinkError: the project tracks another Databricks job.
    """
    linked = project.get("job_id")
    if linked not in (None, "") and str(linked).strip() != str(job_id):
        raise ProjectLinkError(
            f"Gradient project {project_id} tracks Databricks job {linked}, not job {job_id} "
            f"{job_name!r} (the job of this workflow group): its recommendations come from that "
            f"job's runs. Use the project of job {job_id}, or a new project for it; or, if job "
            f"{linked} is gone for good, unset the project's job_id in Gradient. Nothing was "
            "changed."
        )
    body: dict[str, Any] = {}
    if linked in (None, ""):
        body["job_id"] = str(job_id)
    if not project.get("cluster_path"):
        body["cluster_path"] = cluster_path
    return body


def _refuse_task_cluster(location: ClusterLocation, tasks: Sequence[GroupTask], where: str) -> None:
    if location.kind != "task":
        return
    task = next((t for t in tasks if t.task_key == location.key), None)
    why = (
        "the databricks provider drops a DatabricksNotebookOperator's new_cluster= inside a "
        "DatabricksWorkflowTaskGroup (only job_cluster_key / existing_cluster_id reach the job)"
        if task is not None and task.dropped
        else "a task-level cluster is built from the task's own arguments, which this operator "
        "cannot change"
    )
    raise UnsupportedClusterError(
        f"{where}: the tuned cluster is the task-level new_cluster of task {location.key!r}, but "
        f"{why}. Move that cluster into the group's job_clusters (the list given to "
        "GradientWorkflowClustersOperator) and give the task job_cluster_key= instead."
    )


def plan_workflow_clusters(
    baseline: Sequence[Mapping[str, Any]],
    tasks: Sequence[GroupTask],
    *,
    template: Mapping[str, Any],
    project: Mapping[str, Any],
    project_id: str,
    latest: Any,
    job: Mapping[str, Any] | None,
    job_name: str,
    cluster_key: str | None = None,
    rails: GuardRails | None = None,
    dry_run: bool = False,
    redactor: Redactor,
) -> WorkflowClusters:
    """The ``job_clusters`` the group runs on this time.

    :param baseline: the DAG's ``job_clusters``.
    :param tasks: the group's tasks (what they run on).
    :param template: Gradient's cluster template for the project.
    :param latest: the newest SUCCESS recommendation reply, or ``None``.
    :param job: the ``jobs/get`` reply of the group's job, ``None`` before its first launch.
    :param redactor: finds plaintext secret values, which may not travel through XCom.
    :raises CoreError: what the locate rule, the validation and the guard rails refuse; a
        task-level tuned cluster; plaintext secrets in the returned list.
    """
    job_id = job.get("job_id") if job is not None else None
    settings = {
        "job_clusters": [copy.deepcopy(dict(c)) for c in baseline],
        "tasks": [t.as_job_task() for t in tasks],
    }
    context = f"workflow group job {job_name!r}" + (f" ({job_id})" if job_id else "")
    location = locate_cluster(
        settings,
        job_id=job_id if job_id is not None else job_name,
        project_id=project_id,
        cluster_path=project.get("cluster_path") or None,
        cluster_key=cluster_key,
    )
    where = f"project {project_id}, {context}, cluster {location.path}"
    _refuse_task_cluster(location, tasks, where)

    templated = merge_recommendation(location.spec, template)
    rec, reason = _unusable_reason(project_id, latest, job, job_name)
    rails = rails or GuardRails()
    if rec is not None and _held_back_while_learning(rec, rails):
        # Refusing the launch would stop the runs Gradient learns from: run, unchanged.
        reason = (
            f"Recommendation {rec.id} of project {project_id} is from the {LEARNING_PHASE} "
            "phase and the guard rail apply_during_learning is off: the job runs on the "
            "baseline + Gradient's cluster template, so Gradient keeps learning."
        )
        rec = None
    final, would_change, warnings = templated, [], []
    if rec is not None:
        merged = merge_recommendation(templated, rec.configuration, recommendation_id=rec.id)
        warnings = validate_cluster_spec(merged, where=where, existing=location.spec)
        check_guard_rails(location.spec, merged, phase=rec.phase, rails=rails, where=where)
        if dry_run:
            would_change = diff_cluster(templated, merged)
            reason = (
                f"Dry run: job {job_name!r} runs on the baseline + Gradient's cluster template; "
                f"recommendation {rec.id} would change {len(would_change)} field(s)."
            )
            rec = None
        else:
            final = merged
            reason = f"Recommendation {rec.id} merged into {location.path} (on every run)."
    clusters = [
        {**copy.deepcopy(dict(c)), "new_cluster": final}
        if c.get("job_cluster_key") == location.key
        else copy.deepcopy(dict(c))
        for c in baseline
    ]
    leaked = secret_values(clusters, redactor)
    if leaked:
        raise InvalidClusterSpecError(
            f"{where}: the job_clusters carry {len(leaked)} plaintext secret value(s) in "
            "spark_conf / spark_env_vars / custom_tags. The list this operator returns travels "
            "to the launch task through XCom, which never holds a secret: use Databricks "
            "secret references ({{secrets/<scope>/<key>}}) for those values."
        )
    return WorkflowClusters(
        job_clusters=clusters,
        location=location,
        recommendation=rec,
        reason=reason or "",
        changes=diff_cluster(location.spec, final),
        would_change=would_change,
        spec_warnings=tuple(warnings),
    )
