"""GradientHealthCheckOperator: the doctor's checks on one job, from a DAG, with Airflow's alerts.

An operator, not a sensor: a health check is a judgement at one moment, to alert on at once;
a sensor would wait (holding a slot) for the job to become healthy, delaying exactly the alert
it exists for. Failing the task hands the alert to Airflow (``email_on_failure``,
``on_failure_callback``, SLAs); the structured result is in XCom either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_gradient.core.health import LEVELS, fails_at
from airflow_gradient.exceptions import (
    ErrorBoundary,
    GradientError,
    HealthCheckFailedError,
    InvalidArgumentsError,
)
from airflow_gradient.hook_properties import (
    DEFAULT_DATABRICKS_RETRY_DELAY,
    DEFAULT_DATABRICKS_RETRY_LIMIT,
    DatabricksHookProperty,
    GradientHookProperty,
)
from airflow_gradient.links import DatabricksJobLink

if TYPE_CHECKING:
    from airflow.sdk import Context

#: XCom key of the result when the task fails (on success it is also the return value).
RESULT_KEY = "health"


class GradientHealthCheckOperator(
    ErrorBoundary, GradientHookProperty, DatabricksHookProperty, BaseOperator
):
    """Check that Gradient can learn from a Databricks job; fail or warn per ``fail_on``.

    Runs the checks of ``airflow-gradient doctor`` (connections, project, tuned cluster, cluster
    template, ``on_start`` webhook, runs reaching Gradient, the recommendation in force, who
    applies, who owns the job) and logs one line each. Returns (XCom) ``{"job_id",
    "project_id", "status", "checks": [{"check", "level", "object", "message", "remedy"}],
    "stopped"}``; when the task fails, the same result is pushed under the key ``"health"``
    first, for an ``on_failure_callback`` to read.

    :param job_id: Databricks job id (templated).
    :param project_id: Gradient project id (templated; default: the one tracking the job).
    :param fail_on: ``"fail"`` (default): the task fails when a check fails; ``"warn"``: also
        when a check warns. Checks below the level are logged as warnings.
    :param runs: how many of the job's last finished runs must have reached Gradient.
    :param applying_dags: DAG ids that apply recommendations to this job (templated), to
        judge them against the project's ``auto_apply_recs``; ``None``: not known.
    :param gradient_conn_id: connection of type ``gradient`` (templated).
    :param databricks_conn_id: connection of type ``databricks`` (templated).
    :param gradient_hook_params: keyword arguments for :class:`GradientHook`.
    :param databricks_retry_limit: attempts of each Databricks call in all (default 3), as for
        ``DatabricksRunNowOperator``.
    :param databricks_retry_delay: seconds between Databricks attempts (default 1).
    :param databricks_retry_args: tenacity ``Retrying`` arguments for the Databricks calls,
        replacing ``databricks_retry_limit``/``databricks_retry_delay``.
    :param databricks_hook_params: other keyword arguments for the Databricks hook
        (``timeout_seconds``, ``max_retry_after``).
    """

    template_fields: Sequence[str] = (
        "job_id",
        "project_id",
        "fail_on",
        "applying_dags",
        "gradient_conn_id",
        "databricks_conn_id",
    )
    operator_extra_links = (DatabricksJobLink(),)
    ui_color = "#7B61FF"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        job_id: int | str,
        project_id: str | None = None,
        fail_on: str = "fail",
        runs: int = 10,
        applying_dags: Sequence[str] | None = None,
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
        if fail_on not in ("warn", "fail"):
            raise ValueError(f"{self.task_id}: fail_on must be 'warn' or 'fail', not {fail_on!r}.")
        if runs < 1:
            raise ValueError(f"{self.task_id}: runs must be at least 1, not {runs}.")
        self.job_id = job_id
        self.project_id = project_id
        self.fail_on = fail_on
        self.runs = runs
        self.applying_dags = applying_dags
        self.gradient_conn_id = gradient_conn_id
        self.databricks_conn_id = databricks_conn_id
        self.gradient_hook_params = dict(gradient_hook_params or {})
        self.set_databricks_hook_params(
            retry_limit=databricks_retry_limit,
            retry_delay=databricks_retry_delay,
            retry_args=databricks_retry_args,
            hook_params=databricks_hook_params,
        )

    def _job_id(self) -> int:
        try:
            return int(self.job_id)
        except (TypeError, ValueError):
            raise InvalidArgumentsError(
                f"{self.task_id}: job_id {self.job_id!r} is not a Databricks job id."
            ) from None

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_gradient.doctor import examine

        if self.fail_on not in ("warn", "fail"):
            raise InvalidArgumentsError(
                f"{self.task_id}: fail_on rendered to {self.fail_on!r}; use 'warn' or 'fail'."
            )
        job_id = self._job_id()
        DatabricksJobLink.persist(context, self.databricks_hook.job_url(job_id))
        found = examine(
            job_id=job_id,
            project_id=self.project_id or None,
            gradient=self.gradient_hook,
            databricks=self.databricks_hook,
            runs=self.runs,
            applying_dags=list(self.applying_dags) if self.applying_dags is not None else None,
            now=datetime.now(UTC),
        )
        result = found.to_dict()
        for verdict in found.verdicts:
            log = self.log.info if verdict.level == "ok" else self.log.warning
            log("%s", verdict.line())
        if found.stopped:
            context["ti"].xcom_push(key=RESULT_KEY, value=result)
            if found.stopped.startswith("Databricks job"):
                raise InvalidArgumentsError(f"{self.task_id}: {found.stopped}.")
            raise GradientError(f"{self.task_id}: {found.stopped}")  # retried: may be transient
        failing = fails_at(found.verdicts, self.fail_on)  # type: ignore[arg-type]
        if failing:
            context["ti"].xcom_push(key=RESULT_KEY, value=result)
            worst = max(LEVELS.index(v.level) for v in failing)
            raise HealthCheckFailedError(
                f"{self.task_id}: Databricks job {job_id}: {len(failing)} check(s) at "
                f"fail_on={self.fail_on!r} or worse ({LEVELS[worst]}):\n"
                + "\n".join(v.line() for v in failing)
            )
        self.log.info(
            "Databricks job %s: health %s (fail_on=%r).", job_id, found.status, self.fail_on
        )
        return result
