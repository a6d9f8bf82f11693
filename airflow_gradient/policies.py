"""Which DAG shapes Gradient cannot work with, found from the task graph alone.

The rules: an apply task must not be followed by a one-time run or a job reset before its
``DatabricksRunNowOperator``; a rollback task's ``apply_task_id`` must name an apply task of
the DAG. One set of rules, three ways in:

* the apply operator calls :func:`downstream_findings` with its direct downstream tasks before
  any API call, and refuses to run; the rollback operator calls :func:`rollback_finding` when
  it is created (if the apply task exists already) and before it reads the apply's result;
* :func:`dag_policy` is an opt-in cluster policy: import it in ``airflow_local_settings.py`` and
  a DAG that breaks a rule shows an import error in the UI instead of failing at run time;
* :func:`validate_dag` returns (or raises) the same findings, for users' own DAG tests in CI.

Operators and task groups are recognised by class name along the MRO, so checking a DAG
imports nothing from the databricks provider, and importing this module imports no Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

APPLY = "GradientApplyRecommendationOperator"
WORKFLOW_CLUSTERS = "GradientWorkflowClustersOperator"
ROLLBACK = "GradientRollbackOperator"
RUN_NOW = "DatabricksRunNowOperator"
SUBMIT_RUN = "DatabricksSubmitRunOperator"
CREATE_JOBS = "DatabricksCreateJobsOperator"
#: ``DatabricksTaskOperator`` and ``DatabricksNotebookOperator`` share this base; outside a
#: workflow group its ``execute`` launches a one-time run.
TASK_BASE = "DatabricksTaskBaseOperator"
TASK_OPERATORS = (TASK_BASE, "DatabricksTaskOperator", "DatabricksNotebookOperator")
WORKFLOW_GROUP = "DatabricksWorkflowTaskGroup"
#: The hidden ``<group>.launch`` task of a workflow group: resets the job, then runs it.
WORKFLOW_LAUNCH = "_CreateDatabricksWorkflowOperator"

_SUPPORTED = (
    "Supported: GradientApplyRecommendationOperator >> DatabricksRunNowOperator on a saved "
    "Databricks job."
)

_MIGRATION = "the DAG template example_dags/gradient_submit_run_migration.py of airflow-gradient"

_WORKFLOW_TEMPLATE = "the DAG template example_dags/gradient_workflow_group.py of airflow-gradient"

_ONE_TIME_RUN_HELP = (
    "Task {task} is a {op} downstream of {apply}{where}: it launches a one-time run "
    "(jobs/runs/submit), which has no saved Databricks job, so there is nothing to write a "
    "recommendation into and no job history for Gradient to learn from. Create the job once "
    "and run it with DatabricksRunNowOperator after {apply}; see " + _MIGRATION + "."
)

_CREATE_JOBS_HELP = (
    "Task {task} is a DatabricksCreateJobsOperator downstream of {apply}: when a job with its "
    "name exists, it resets that job (jobs/reset) to the settings in the DAG, wiping the "
    "recommendation {apply} just wrote, on every run. Create the job once instead (a separate "
    "@once DAG, as in " + _MIGRATION + ") and keep {apply} >> DatabricksRunNowOperator here."
)

_WORKFLOW_HELP = (
    "Task group {group} is a DatabricksWorkflowTaskGroup downstream of {apply} (through "
    "{tasks}): its launch task {launch} resets the Databricks job {job} (jobs/reset) from the "
    "DAG at the start of every run, so the recommendation {apply} wrote is gone before the job "
    "runs. {supported} For a workflow defined in the DAG, drop {apply} and feed the group's "
    "job_clusters from GradientWorkflowClustersOperator (job_clusters=<that task>.output): it "
    "merges the recommendation into the clusters the group builds the job from, on every run; "
    "see " + _WORKFLOW_TEMPLATE + ". Or define the workflow once as a Databricks job and run it "
    "with DatabricksRunNowOperator after {apply}."
)

_OVERLAP_HELP = (
    "DAG {dag} allows {runs} active runs, and task {task} (GradientWorkflowClustersOperator) "
    "feeds DatabricksWorkflowTaskGroup {group}: overlapping DAG runs reset the same "
    "Databricks job {job}, and the last reset wins for every run of it in flight (a run may "
    "start on the other run's clusters). Set max_active_runs=1 on the DAG."
)


def is_instance_of(task: Any, class_name: str) -> bool:
    """True if ``task``'s class or one of its bases is named ``class_name``.

    A mapped task (``.partial().expand()``) is judged by the operator class it maps. Uses
    ``__class__``, not ``type()``, so that weak proxies (a task group's ``parent_group``) work.
    """
    classes = list(task.__class__.__mro__)
    operator_class = getattr(task, "operator_class", None)
    if isinstance(operator_class, type):
        classes.extend(operator_class.__mro__)
    return any(cls.__name__ == class_name for cls in classes)


def downstream_findings(apply_task: Any, downstream: Iterable[Any]) -> list[str]:
    """One message per downstream task (or workflow group) that defeats ``apply_task``.

    Each message names the tasks, says why the combination fails and what to do instead.
    Tasks of one ``DatabricksWorkflowTaskGroup`` are reported once, as the group.
    """
    apply = repr(apply_task.task_id)
    findings: list[str] = []
    groups: dict[str, tuple[int, list[Any]]] = {}  # group id -> (its slot in findings, tasks)
    for task in sorted(downstream, key=lambda t: str(t.task_id)):
        group = _workflow_group(task)
        if group is None:
            message = _task_finding(task, apply)
            if message:
                findings.append(message)
            continue
        group_id = str(group.group_id)
        if group_id not in groups:
            groups[group_id] = (len(findings), [])
            findings.append("")
        groups[group_id][1].append(task)
    for group_id, (slot, tasks) in groups.items():
        launch = [t.task_id for t in tasks if is_instance_of(t, WORKFLOW_LAUNCH)]
        findings[slot] = _WORKFLOW_HELP.format(
            group=repr(group_id),
            apply=apply,
            tasks=_some([repr(t.task_id) for t in tasks]),
            launch=repr(launch[0] if launch else f"{group_id}.launch"),
            job=repr(f"{apply_task.dag_id}.{group_id}"),
            supported=_SUPPORTED,
        )
    return findings


def rollback_finding(rollback_task: Any, dag: Any) -> str | None:
    """The message when ``rollback_task``'s ``apply_task_id`` names no apply task of ``dag``
    (a typo, or a task group's prefix left out); ``None`` when it is fine or not used."""
    apply_task_id = getattr(rollback_task, "apply_task_id", None)
    if not isinstance(apply_task_id, str) or not apply_task_id:
        return None
    task = repr(rollback_task.task_id)
    if not dag.has_task(apply_task_id):
        similar = sorted(
            str(t.task_id)
            for t in dag.tasks
            if is_instance_of(t, APPLY) or str(t.task_id).endswith(f".{apply_task_id}")
        )
        found = f"apply tasks of the DAG: {_some(similar)}" if similar else "no apply task"
        return (
            f"Task {task} ({ROLLBACK}) has apply_task_id={apply_task_id!r}, which is no task of "
            f"DAG {dag.dag_id!r} ({found}); it would never find anything to roll back. Pass "
            "apply_result=<apply task>.output instead (inside a task group the id is "
            "'<group>.<task>')."
        )
    named = dag.get_task(apply_task_id)
    if not is_instance_of(named, APPLY):
        return (
            f"Task {task} ({ROLLBACK}) has apply_task_id={apply_task_id!r}, a "
            f"{_class_name(named)}, not a {APPLY}: its result says nothing about what to roll "
            "back. Pass apply_result=<apply task>.output with the apply task."
        )
    return None


def dag_findings(dag: Any) -> list[str]:
    """Findings for every ``GradientApplyRecommendationOperator`` and
    ``GradientRollbackOperator`` of ``dag``.

    Unlike the execute-time check (direct downstream only), this follows every path down from
    each apply task until a ``DatabricksRunNowOperator``: a reset or a one-time run anywhere
    between the apply task and the run is caught, while tasks after the run are not judged.
    Each rollback task's ``apply_task_id`` must name an apply task (:func:`rollback_finding`).
    """
    findings: list[str] = []
    tasks = sorted(dag.tasks, key=lambda t: str(t.task_id))
    for apply_task in (t for t in tasks if is_instance_of(t, APPLY)):
        findings.extend(downstream_findings(apply_task, _reachable_before_run_now(apply_task)))
    for rollback_task in (t for t in tasks if is_instance_of(t, ROLLBACK)):
        finding = rollback_finding(rollback_task, dag)
        if finding:
            findings.append(finding)
    return findings


def validate_dag(dag: Any, *, raise_on_findings: bool = False) -> list[str]:
    """The findings for ``dag``, for a DAG test in CI; empty when the DAG is fine.

    :param raise_on_findings: raise :class:`~airflow_gradient.exceptions.UnsupportedPathError`
        listing every finding instead of returning them.
    """
    findings = dag_findings(dag)
    if findings and raise_on_findings:
        from airflow_gradient.exceptions import UnsupportedPathError

        raise UnsupportedPathError(format_findings(dag, findings))
    return findings


def dag_warnings(dag: Any) -> list[str]:
    """What works but may surprise: a workflow group fed by ``GradientWorkflowClustersOperator``
    in a DAG that allows more than one active run (overlapping runs reset the same job)."""
    runs = getattr(dag, "max_active_runs", 1)
    if not isinstance(runs, int) or runs <= 1:
        return []
    warnings: list[str] = []
    for task in sorted(dag.tasks, key=lambda t: str(t.task_id)):
        if not is_instance_of(task, WORKFLOW_CLUSTERS):
            continue
        for launch in task.get_direct_relatives(upstream=False):
            group = _workflow_group(launch)
            if group is None or not is_instance_of(launch, WORKFLOW_LAUNCH):
                continue
            warnings.append(
                _OVERLAP_HELP.format(
                    dag=repr(dag.dag_id),
                    runs=runs,
                    task=repr(task.task_id),
                    group=repr(group.group_id),
                    job=repr(f"{dag.dag_id}.{group.group_id}"),
                )
            )
    return warnings


def dag_policy(dag: Any) -> None:
    """Cluster policy: refuse at parse time what the apply and rollback operators refuse at
    run time.

    Judges every path from an apply task down to its run (see :func:`dag_findings`). Enable it
    in ``airflow_local_settings.py`` with ``from airflow_gradient.policies import dag_policy``.
    A refused DAG is not loaded and shows an import error (``AirflowClusterPolicyViolation``)
    listing every finding. What only may surprise (:func:`dag_warnings`) is logged as a
    WARNING and issued as a ``UserWarning``; the DAG loads.
    """
    for warning in dag_warnings(dag):
        import logging
        import warnings

        logging.getLogger(__name__).warning("%s", warning)
        warnings.warn(warning, UserWarning, stacklevel=2)
    findings = dag_findings(dag)
    if findings:
        from airflow.exceptions import AirflowClusterPolicyViolation

        raise AirflowClusterPolicyViolation(format_findings(dag, findings))


def format_findings(dag: Any, findings: list[str]) -> str:
    """The findings of ``dag`` as one message, one bullet each."""
    bullets = "\n".join(f"- {finding}" for finding in findings)
    return (
        f"DAG {dag.dag_id!r} has Gradient tasks that cannot work as written "
        f"(airflow_gradient.policies):\n{bullets}"
    )


def _task_finding(task: Any, apply: str) -> str | None:
    """The message for one task outside any workflow group, or None if it is fine."""
    task_id = repr(task.task_id)
    if is_instance_of(task, SUBMIT_RUN):
        return _ONE_TIME_RUN_HELP.format(task=task_id, op=SUBMIT_RUN, apply=apply, where="")
    if any(is_instance_of(task, name) for name in TASK_OPERATORS):
        return _ONE_TIME_RUN_HELP.format(
            task=task_id,
            op=_class_name(task),
            apply=apply,
            where=" outside any DatabricksWorkflowTaskGroup",
        )
    if is_instance_of(task, CREATE_JOBS):
        return _CREATE_JOBS_HELP.format(task=task_id, apply=apply)
    return None


def _workflow_group(task: Any) -> Any | None:
    """The ``DatabricksWorkflowTaskGroup`` that ``task`` belongs to (at any depth), if any."""
    group = getattr(task, "task_group", None)
    while group is not None:
        # ``is_databricks`` is the flag the provider itself looks for.
        if is_instance_of(group, WORKFLOW_GROUP) or getattr(group, "is_databricks", False):
            return group
        group = getattr(group, "parent_group", None)
    return None


def _reachable_before_run_now(apply_task: Any) -> list[Any]:
    """Every task below ``apply_task``, not looking past a ``DatabricksRunNowOperator``."""
    found: dict[str, Any] = {}
    stack = list(apply_task.get_direct_relatives(upstream=False))
    while stack:
        task = stack.pop()
        if task.task_id in found:
            continue
        found[task.task_id] = task
        if not is_instance_of(task, RUN_NOW):
            stack.extend(task.get_direct_relatives(upstream=False))
    return list(found.values())


def _some(items: list[str], limit: int = 3) -> str:
    """``items`` joined, at most ``limit`` of them, then how many more."""
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def _class_name(task: Any) -> str:
    operator_class = getattr(task, "operator_class", None)
    return operator_class.__name__ if isinstance(operator_class, type) else task.__class__.__name__
