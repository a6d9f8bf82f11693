"""The doctor's checks as pure verdicts: is Gradient able to learn from a Databricks job?

Each check takes data already fetched (the job, the project, the runs, ...) and returns a
:class:`Verdict` (``ok`` / ``warn`` / ``fail``, the object, what was found, what to do). No
network, no clock (``now`` is passed in), no Airflow: the CLI (``airflow-gradient doctor``) and
``GradientHealthCheckOperator`` both call these after fetching through the hooks.
"""

from __future__ import annotations

from airflow_gradient.core.health.chain import (
    choose_project,
    cluster_verdict,
    connection_verdict,
    project_verdict,
    runs_verdict,
    template_verdict,
    webhook_verdict,
)
from airflow_gradient.core.health.control import (
    WORKFLOW_GROUP_NAME,
    auto_apply_verdict,
    owner_verdict,
    recommendation_verdict,
)
from airflow_gradient.core.health.verdicts import LEVELS, Level, Verdict, fails_at, summary, worst

__all__ = [
    "LEVELS",
    "WORKFLOW_GROUP_NAME",
    "Level",
    "Verdict",
    "auto_apply_verdict",
    "choose_project",
    "cluster_verdict",
    "connection_verdict",
    "fails_at",
    "owner_verdict",
    "project_verdict",
    "recommendation_verdict",
    "runs_verdict",
    "summary",
    "template_verdict",
    "webhook_verdict",
    "worst",
]
