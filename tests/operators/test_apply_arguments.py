"""The apply operator's arguments: the project found from the job, the time bound and the
``execution_timeout`` derived from it, guard rails checked at parse time, templated connection
ids, and the Databricks retries spelt as ``DatabricksRunNowOperator`` spells them."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from tenacity import stop_never

from airflow_gradient._compat import AirflowProviderDeprecationWarning
from airflow_gradient.exceptions import ProjectLookupError
from airflow_gradient.operators.apply import (
    EXECUTION_TIMEOUT_MARGIN,
    GradientApplyRecommendationOperator,
)
from airflow_gradient.sandbox import Sandbox

Target = Callable[..., tuple[int, str]]
Run = Callable[..., dict[str, Any]]
#: With the default hook arguments: one Gradient call 120 + 2 x 30 s; one Databricks call
#: 3 attempts of 2 x 180 s and two Retry-After waits capped at 30 s.
GRADIENT, DATABRICKS = 180.0, 3 * 360.0 + 30.0 + 30.0


def apply(**kwargs: Any) -> GradientApplyRecommendationOperator:
    return GradientApplyRecommendationOperator(task_id="apply", **kwargs)


# --- the project found from the job ----------------------------------------------------------


def test_without_project_id_the_one_project_tracking_the_job_is_applied(
    sb: Sandbox, make_target: Target, run_apply: Run
) -> None:
    job_id, project_id = make_target()

    result = run_apply(job_id=job_id)

    assert result["applied"] is True and result["job_id"] == job_id
    assert result["_links"]["gradient_project_url"].endswith(project_id)
    gets = [r.path for r in sb.requests if r.service == "gradient" and r.method == "GET"]
    assert gets[0] == "/v1/projects" and f"/v1/projects/{project_id}" in gets


def test_without_project_id_a_job_name_is_resolved_first(
    sb: Sandbox, make_target: Target, run_apply: Run
) -> None:
    job_id, _ = make_target()
    sb.databricks.update_job(job_id, {"name": "apply-lookup-by-name"})

    assert run_apply(job_name="apply-lookup-by-name")["applied"] is True


@pytest.mark.parametrize("projects", [0, 2])
def test_no_or_several_tracking_projects_fail_without_retries_and_write_nothing(
    sb: Sandbox, make_target: Target, run_apply: Run, projects: int
) -> None:
    job_id, project_id = make_target()
    if projects == 0:
        sb.gradient.update_project(project_id, job_id="999999999")
    else:
        sb.gradient.create_project(job_id=job_id, name="second")
    sb.clear_requests()

    with pytest.raises(ProjectLookupError) as caught:
        run_apply(job_id=job_id)

    message = str(caught.value)
    assert isinstance(caught.value, AirflowFailException)
    assert f"Databricks job {job_id}" in message and "project_id=" in message
    if projects == 2:
        assert project_id in message and "'second'" in message
    else:
        assert "No Gradient project tracks" in message
    assert [r for r in sb.requests if r.service == "databricks" and r.method != "GET"] == []


def test_find_projects_for_job_keeps_only_the_job_s_projects(
    sb: Sandbox, make_target: Target
) -> None:
    from airflow_gradient.hooks.gradient import GradientHook

    job_id, project_id = make_target()
    make_target()  # another job and project

    found = GradientHook().find_projects_for_job(job_id)

    assert [p["id"] for p in found] == [project_id]
    assert GradientHook().find_projects_for_job(str(job_id)) == found
    assert GradientHook().find_projects_for_job(987654321) == []


# --- the time bound and the execution_timeout -------------------------------------------------


def test_the_bound_is_the_sum_of_the_explicit_steps() -> None:
    given = apply(project_id="p", job_id=1)
    assert given.time_bound() == 3600.0  # the README's figure, from the defaults
    assert given.time_bound() == max(GRADIENT, DATABRICKS) + GRADIENT + DATABRICKS + DATABRICKS

    looked_up = apply(job_id=1)  # GET /v1/projects first
    assert looked_up.time_bound() == GRADIENT + given.time_bound()

    by_name = apply(project_id="p", job_name="etl")  # jobs/list before jobs/get
    assert by_name.time_bound() == (
        max(GRADIENT, 2 * DATABRICKS) + GRADIENT + DATABRICKS + DATABRICKS
    )


def test_an_explicit_step_list_has_no_registry_keyed_by_method_name() -> None:
    import airflow_gradient.operators.apply as module

    assert not hasattr(module, "_NETWORK_STEPS") and not hasattr(module, "_network_step")
    steps = module.network_steps(
        1.0, 10.0, module._Pages(job=1, recommendation=1, lookup=False, find_project=True)
    )
    assert [name.split(":")[0] for name, _ in steps][:2] == ["jobs/list", "GET /v1/projects"]
    assert sum(seconds for _, seconds in steps) == 0.0 + 1.0 + 10.0 + 1.0 + 10.0 + 10.0


def test_execution_timeout_defaults_to_the_bound_when_none_is_set() -> None:
    op = apply(project_id="p", job_id=1)
    assert op.execution_timeout is None  # nothing is computed at parse time

    op.pre_execute({})

    assert op.execution_timeout == timedelta(seconds=3600 + EXECUTION_TIMEOUT_MARGIN)


def test_an_execution_timeout_the_user_set_is_kept() -> None:
    from airflow.sdk import DAG

    mine = apply(project_id="p", job_id=1, execution_timeout=timedelta(minutes=5))
    mine.pre_execute({})
    assert mine.execution_timeout == timedelta(minutes=5)

    with DAG(dag_id="d", schedule=None, default_args={"execution_timeout": timedelta(hours=3)}):
        from_defaults = apply(project_id="p", job_id=1)
    from_defaults.pre_execute({})
    assert from_defaults.execution_timeout == timedelta(hours=3)


def test_no_execution_timeout_when_the_retries_are_unbounded() -> None:
    op = apply(project_id="p", job_id=1, databricks_retry_args={"stop": stop_never})
    op.pre_execute({})
    assert op.execution_timeout is None


# --- arguments checked at parse time ----------------------------------------------------------


def test_a_guard_rails_typo_fails_at_parse_time_naming_the_key_and_the_valid_ones() -> None:
    with pytest.raises(
        ValueError, match=r"apply: guard_rails has unknown keys \['max_worker'\]"
    ) as c:
        apply(project_id="p", guard_rails={"max_worker": 8})
    assert "Valid keys: " in str(c.value) and "max_workers" in str(c.value)

    assert apply(project_id="p", guard_rails={"max_workers": 8}).guard_rails == {"max_workers": 8}


def test_connection_ids_are_templated(sb: Sandbox, make_target: Target, run_apply: Run) -> None:
    job_id, project_id = make_target()
    assert {"gradient_conn_id", "databricks_conn_id"} <= set(
        GradientApplyRecommendationOperator.template_fields
    )

    result = run_apply(
        project_id=project_id,
        job_id=job_id,
        gradient_conn_id="{{ params.gradient }}",
        databricks_conn_id="{{ params.databricks }}",
        render={"params": {"gradient": "gradient_default", "databricks": "databricks_default"}},
    )

    assert result["applied"] is True


def test_databricks_retries_as_the_run_now_operator_takes_them() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spelling warns about nothing
        op = apply(
            project_id="p",
            databricks_retry_limit=5,
            databricks_retry_delay=0.25,
            databricks_hook_params={"timeout_seconds": 7},
        )
    hook = op.databricks_hook
    assert (hook.retry_limit, hook.retry_delay, hook.timeout_seconds) == (5, 0.25, 7)


def test_retries_in_databricks_hook_params_still_work_with_a_deprecation_warning() -> None:
    with pytest.warns(AirflowProviderDeprecationWarning, match="databricks_retry_limit="):
        op = apply(project_id="p", databricks_hook_params={"retry_limit": 2})
    assert op.databricks_hook.retry_limit == 2
