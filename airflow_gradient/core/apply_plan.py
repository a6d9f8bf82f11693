"""What an apply does: turn (project, recommendation, job, options) into a plan, and judge the
read-back after the write.

The operator fetches, then asks, in order: :func:`check_project` (may the project be applied
to this job?), :func:`no_recommendation_result` (nothing to apply), :func:`prepare` (what the
recommendation makes of the cluster), :func:`plan_apply` (write, or why nothing) and, after
``jobs/update``, :func:`read_back_outcome` (did the write land?). Pure: the one network read a
decision needs (the recommendation a cluster is tagged with) is named by
:attr:`Target.tagged_to_fetch` and fetched by the operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_gradient.core.apply_options import TERRAFORM_GUIDE, ApplyOptions
from airflow_gradient.core.cluster.diff import diff_cluster, format_diff, read_back_differences
from airflow_gradient.core.cluster.locate import ClusterLocation, locate_cluster
from airflow_gradient.core.cluster.merge import (
    applied_recommendation_id,
    merge_recommendation,
    reverted_fields,
)
from airflow_gradient.core.cluster.spec import validate_cluster_spec
from airflow_gradient.core.cluster.update import update_settings_for
from airflow_gradient.core.errors import (
    AutoApplyConflictError,
    DatabricksJobError,
    DatabricksRequestRefusedError,
    InvalidJobReferenceError,
    NoRecommendationError,
    ReadBackMismatchError,
    RecommendationRevertedError,
)
from airflow_gradient.core.guardrails import GuardRails, check_guard_rails
from airflow_gradient.core.recommendation import Recommendation, parse_recommendation
from airflow_gradient.core.redaction import Redactor, redact_changes
from airflow_gradient.core.results import ApplyResult, WriteConfirmation, apply_result

__all__ = [
    "ApplyPlan",
    "ReadBackOutcome",
    "Target",
    "check_project",
    "no_recommendation_result",
    "plan_apply",
    "prepare",
    "read_back_failed_error",
    "read_back_outcome",
]


def check_project(project: Mapping[str, Any], job_id: int, options: ApplyOptions) -> list[str]:
    """Refuse a project that may not be applied to job ``job_id``; return warnings to log.

    :raises AutoApplyConflictError: ``auto_apply_recs`` is on and not allowed.
    :raises DatabricksJobError: the project tunes another job.
    """
    warnings: list[str] = []
    if project.get("auto_apply_recs"):
        if not options.allow_auto_apply_conflict:
            raise AutoApplyConflictError(
                f"Project {options.project_id} has auto_apply_recs on: Gradient applies each "
                "recommendation itself after a run, and this task would race it. Turn "
                'auto-apply off in Gradient (PUT /v1/projects/{id} {"auto_apply_recs": false}) '
                "to let Airflow apply, or pass allow_auto_apply_conflict=True."
            )
        warnings.append(
            f"Project {options.project_id} has auto_apply_recs on: Gradient applies "
            "recommendations itself too. Going ahead because allow_auto_apply_conflict=True."
        )
    tuned = project.get("job_id")
    if tuned not in (None, "") and str(tuned).strip() != str(job_id):
        raise InvalidJobReferenceError(
            f"Gradient project {options.project_id} tunes Databricks job {tuned}, not job "
            f"{job_id}: its recommendations were learned from the runs of that job. Pass "
            f"job_id={tuned}, or the project_id of job {job_id}. The job was not changed."
        )
    return warnings


def no_recommendation_result(job_id: int, options: ApplyOptions) -> tuple[ApplyResult, str]:
    """The result (and the line to log) when the project has no SUCCESS recommendation.

    :raises NoRecommendationError: with ``if_no_recommendation='fail'``.
    """
    message = (
        f"Project {options.project_id} has no SUCCESS recommendation yet; Databricks job "
        f"{job_id} is left as it is."
    )
    if options.if_no_recommendation == "fail":
        raise NoRecommendationError(
            f"{message} Wait for one with GradientRecommendationSensor, or pass "
            "if_no_recommendation='skip'."
        )
    return (
        apply_result(job_id=job_id, dry_run=options.dry_run),
        f"{message} The run goes ahead on the current cluster.",
    )


@dataclass(frozen=True)
class Target:
    """What a recommendation makes of the job's cluster: checked, not yet judged for reverts."""

    job_id: int
    recommendation: Recommendation
    location: ClusterLocation
    merged: dict[str, Any]
    changes: list[dict[str, Any]]
    where: str
    #: fields kept unchecked because the installed databricks-sdk does not know them (to log)
    spec_warnings: tuple[str, ...] = ()

    @property
    def tagged_id(self) -> str | None:
        """The recommendation the cluster is tagged with (in force), if any."""
        return applied_recommendation_id(self.location.spec)

    @property
    def tagged_to_fetch(self) -> str | None:
        """The tagged recommendation, when it must be read to judge a revert (not the latest)."""
        tagged = self.tagged_id
        return tagged if tagged is not None and tagged != self.recommendation.id else None


def prepare(
    project: Mapping[str, Any],
    latest: Any,
    job: Mapping[str, Any],
    options: ApplyOptions,
) -> Target:
    """Parse the recommendation, locate the cluster, merge, validate, check the guard rails.

    :param project: the Gradient project.
    :param latest: the recommendation reply to apply (not ``None``).
    :param job: the whole ``jobs/get`` reply.
    :raises NoRecommendationError: the recommendation is not SUCCESS.
    :raises GradientError: whatever the locate, merge, validation or guard rails refuse.
    """
    job_id = int(job["job_id"])
    rec = parse_recommendation(latest, project_id=options.project_id)
    if not rec.is_applicable:
        raise NoRecommendationError(
            f"Recommendation {rec.id} of project {options.project_id} is {rec.state}"
            + (f" ({rec.error})" if rec.error else "")
            + f"; only a SUCCESS recommendation can be applied. Databricks job {job_id} "
            "is left as it is. Wait for it with GradientRecommendationSensor, or request "
            "a new one."
        )
    location = locate_cluster(
        job["settings"],
        job_id=job_id,
        project_id=options.project_id,
        cluster_path=project.get("cluster_path") or None,
        cluster_key=options.cluster_key or None,
    )
    where = f"project {options.project_id}, Databricks job {job_id}, cluster {location.path}"
    merged = merge_recommendation(location.spec, rec.configuration, recommendation_id=rec.id)
    spec_warnings = validate_cluster_spec(merged, where=where, existing=location.spec)
    rails = options.rails or GuardRails()
    check_guard_rails(location.spec, merged, phase=rec.phase, rails=rails, where=where)
    changes = diff_cluster(location.spec, merged)
    return Target(job_id, rec, location, merged, changes, where, tuple(spec_warnings))


Action = Literal["dry_run", "unchanged", "keep_reverted", "write"]


@dataclass(frozen=True)
class ApplyPlan:
    """What to do: ``write`` sends ``new_settings``; any other action writes nothing.

    :ivar reason: one line to log saying what was decided and why.
    :ivar revert_warning: set when the cluster lost the values of the recommendation it is
        tagged with (to log as a warning; secret values hidden).
    :ivar redactor: hides secret values in the results and messages.
    """

    target: Target
    action: Action
    reason: str
    reverted: bool = False
    revert_warning: str | None = None
    new_settings: dict[str, Any] | None = None
    redactor: Redactor = field(kw_only=True, repr=False)

    @property
    def shown_changes(self) -> list[dict[str, Any]]:
        """The target's changes with secret values hidden (for the log)."""
        return redact_changes(self.target.changes, self.redactor)

    def result(self) -> ApplyResult:
        """The result when nothing is written (for a write, see :meth:`written`)."""
        target = self.target
        return apply_result(
            job_id=target.job_id,
            dry_run=self.action == "dry_run",
            location=target.location,
            recommendation=target.recommendation,
            changes=target.changes,
            new_cluster=target.location.spec if self.action == "keep_reverted" else target.merged,
            reverted=self.reverted,
            redactor=self.redactor,
        )

    def written(self, outcome: ReadBackOutcome) -> ApplyResult:
        """The result after ``jobs/update`` and a read-back judged by :func:`read_back_outcome`."""
        target = self.target
        return apply_result(
            job_id=target.job_id,
            dry_run=False,
            applied=True,
            location=target.location,
            recommendation=target.recommendation,
            changes=target.changes,
            new_cluster=outcome.new_cluster if outcome.new_cluster is not None else target.merged,
            reverted=self.reverted,
            write_confirmed_by=outcome.confirmed_by,
            update_error=outcome.update_error,
            superseded_by=outcome.superseded_by,
            redactor=self.redactor,
        )


def _revert_warning(
    target: Target,
    tagged_configuration: Mapping[str, Any] | None,
    options: ApplyOptions,
    redactor: Redactor,
) -> str | None:
    """Why the cluster no longer holds the recommendation it is tagged with, or None."""
    tagged = target.tagged_id
    if tagged is None:
        return None
    if tagged == target.recommendation.id:
        tagged_configuration = target.recommendation.configuration
    if tagged_configuration is None:
        return None
    lost = reverted_fields(target.location.spec, tagged_configuration, tagged)
    if not lost:
        return None
    message = (
        f"{target.where} is tagged with recommendation {tagged} but no longer holds its values: "
        "something reverted it (Terraform apply, Databricks Asset Bundles deploy, a job reset "
        "by DatabricksWorkflowTaskGroup/DatabricksCreateJobsOperator, or a manual edit). "
        f"See {TERRAFORM_GUIDE} (`airflow-gradient terraform ignore-changes`). "
        f"Reverted (now → recommended):\n{format_diff(redact_changes(lost, redactor))}"
    )
    if options.on_revert == "fail":
        raise RecommendationRevertedError(f"{message}\nNothing was written (on_revert='fail').")
    return message


def plan_apply(
    target: Target,
    settings: Mapping[str, Any],
    options: ApplyOptions,
    *,
    tagged_configuration: Mapping[str, Any] | None = None,
    redactor: Redactor,
) -> ApplyPlan:
    """Decide whether to write ``target`` into the job whose ``settings`` are given.

    :param tagged_configuration: the configuration of :attr:`Target.tagged_to_fetch`, when it
        was read; ``None`` when there was none to read or it could not be (no revert is judged).
    :param redactor: hides secret values in the plan's messages and results.
    :raises RecommendationRevertedError: reverted and ``on_revert='fail'``.
    """
    warning = _revert_warning(target, tagged_configuration, options, redactor)
    reverted = warning is not None
    job_id, rec_id = target.job_id, target.recommendation.id

    def plan(action: Action, reason: str, new_settings: dict[str, Any] | None = None) -> ApplyPlan:
        return ApplyPlan(target, action, reason, reverted, warning, new_settings, redactor=redactor)

    if options.dry_run:
        return plan("dry_run", f"Dry run: job {job_id} left unchanged.")
    if not target.changes:
        return plan(
            "unchanged", f"Job {job_id} already runs recommendation {rec_id}: nothing to write."
        )
    if reverted and options.on_revert == "warn":
        return plan(
            "keep_reverted",
            f"on_revert='warn': job {job_id} left as it is. Fix what reverts it, or pass "
            f"on_revert='reapply' to write recommendation {rec_id} again.",
        )
    new_settings = update_settings_for(settings, target.location, target.merged)
    return plan("write", f"Writing recommendation {rec_id} to {target.where}.", new_settings)


@dataclass(frozen=True)
class ReadBackOutcome:
    """A write that landed (or was replaced whole by another writer's): what to report."""

    confirmed_by: WriteConfirmation
    message: str
    warning: bool = False
    update_error: str | None = None
    superseded_by: str | None = None
    new_cluster: dict[str, Any] | None = None


def read_back_outcome(
    expected: Mapping[str, Any],
    found: Mapping[str, Any],
    before: Mapping[str, Any],
    update_error: BaseException | None,
    *,
    recommendation_id: str,
    where: str,
    redactor: Redactor,
) -> ReadBackOutcome:
    """Judge the read-back after ``jobs/update``: the five outcomes.

    1. the spec is there and the update replied: confirmed by reply and read-back;
    2. the spec is there but the update failed: it landed, only the reply was lost;
    3. the update failed and the cluster is as it was (``before``): NOT applied (raise);
    4. the update replied and another recommendation replaced the whole cluster since:
       superseded (reported, not an error: the job holds that one, unmixed);
    5. anything else: the job holds neither (raise).

    :param expected: the spec written; ``found``: the job's cluster now (``{}`` if gone);
        ``before``: the cluster before the write; ``update_error``: why ``jobs/update`` failed;
        ``redactor`` hides secret values in the messages.
    :raises DatabricksJobError: outcome 3.
    :raises ReadBackMismatchError: outcome 5.
    """
    rec_id = recommendation_id
    differences = read_back_differences(expected, found)
    if not differences and update_error is None:
        return ReadBackOutcome(
            "reply and read-back", f"Applied recommendation {rec_id} to {where} (read back)."
        )
    if not differences:
        return ReadBackOutcome(
            "read-back",
            f"Applied recommendation {rec_id} to {where}: the jobs/update call failed "
            f"({update_error}), but the read-back shows the job holds it, so the update landed "
            "and only its reply was lost.",
            warning=True,
            update_error=str(update_error),
        )
    if update_error is not None and not read_back_differences(before, found):
        # Refused (a missing permission, a wrong id): a retry would be refused the same way.
        refused = getattr(update_error, "permanent", False)
        raise (DatabricksRequestRefusedError if refused else DatabricksJobError)(
            f"Recommendation {rec_id} was NOT applied: jobs/update of {where} failed "
            f"({update_error}), and the read-back shows the cluster unchanged: the job is "
            "as it was. Run the task again to retry. (Should an attempt that timed out still "
            "reach Databricks, it writes exactly the recommended spec, never a part of it.)"
        ) from update_error
    other = applied_recommendation_id(found)
    if other is not None and other != rec_id and update_error is None:
        return ReadBackOutcome(
            "reply",
            f"Wrote recommendation {rec_id} to {where}, but another writer has since replaced "
            f"the whole cluster with recommendation {other}; the job holds that one, unmixed.",
            warning=True,
            superseded_by=other,
            new_cluster=dict(found),
        )
    failed = f" (the jobs/update call itself failed: {update_error})" if update_error else ""
    raise ReadBackMismatchError(
        f"After jobs/update{failed}, {where} does not hold the spec that was written "
        "(another writer, or Databricks changed it). Check the job before the next run. "
        f"Written → found:\n{format_diff(redact_changes(differences, redactor))}"
    )


def read_back_failed_error(
    error: BaseException, recommendation_id: str, where: str, update_error: BaseException | None
) -> DatabricksJobError:
    """The error for a read-back that failed: what is known about the job, and what to do."""
    rec_id = recommendation_id
    if update_error is None:
        return DatabricksJobError(
            f"Databricks acknowledged the jobs/update of {where}, but reading the job back "
            f"failed ({error}), so the write is unverified. The job most likely holds "
            f"recommendation {rec_id}; check it before the next run (running this task "
            "again verifies it and writes nothing if it is there)."
        )
    return DatabricksJobError(
        f"Unknown whether recommendation {rec_id} was applied: jobs/update of {where} failed "
        f"({update_error}) and reading the job back failed too ({error}). Databricks applies "
        "an update whole or not at all, so the cluster holds either its previous spec or "
        "the recommended one; check the job before the next run, or run this task again."
    )
