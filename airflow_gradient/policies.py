"""Which DAG shapes Gradient cannot work with, found from the task graph alone.

The apply operator asks this module before any API call; the same findings will back an
opt-in cluster policy. Operators are recognised by class name along the MRO, so checking a
DAG imports nothing from the databricks provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SUBMIT_RUN = "DatabricksSubmitRunOperator"

_ONE_TIME_RUN_HELP = (
    "Task {task} is a {op} downstream of {apply}: a one-time run (jobs/runs/submit) has no saved "
    "Databricks job, so there is nothing to write a recommendation into and no job history for "
    "Gradient to learn from. Create the job once (DatabricksCreateJobsOperator, Terraform or "
    "the UI) and run it with DatabricksRunNowOperator after {apply}; see "
    "example_dags/gradient_submit_run_migration.py."
)


def is_instance_of(task: Any, class_name: str) -> bool:
    """True if ``task``'s class or one of its bases is named ``class_name``."""
    return any(cls.__name__ == class_name for cls in type(task).__mro__)


def downstream_findings(apply_task: Any, downstream: Iterable[Any]) -> list[str]:
    """One message per downstream task that makes ``apply_task`` pointless or harmful."""
    findings = []
    for task in downstream:
        if is_instance_of(task, SUBMIT_RUN):
            findings.append(
                _ONE_TIME_RUN_HELP.format(
                    task=repr(task.task_id), op=SUBMIT_RUN, apply=repr(apply_task.task_id)
                )
            )
    return findings
