"""The sensor's and the request operator's arguments: explicit references (the deprecated
``newer_than`` kept one release), the project found from the job, links, ``job_name``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_gradient._compat import AirflowProviderDeprecationWarning
from airflow_gradient.exceptions import InvalidArgumentsError, ProjectLookupError
from airflow_gradient.operators.request import GradientRequestRecommendationOperator
from airflow_gradient.sandbox import Sandbox
from airflow_gradient.sensors.recommendation import GradientRecommendationSensor
from tests.waiting_support import FAST_HOOK, FakeTaskInstance, context, gradient_calls

Make = Callable[..., tuple[int, str]]


def sensor(**kwargs: Any) -> GradientRecommendationSensor:
    params: dict[str, Any] = {
        "task_id": "wait",
        "poke_interval": 0.02,
        "timeout": 10,
        "deferrable": False,
        "gradient_hook_params": FAST_HOOK,
        "databricks_retry_limit": 1,
        **kwargs,
    }
    return GradientRecommendationSensor(**params)


@pytest.mark.parametrize("value", ["rec-1", "2026-01-01T00:00:00Z"])
def test_newer_than_still_works_with_a_deprecation_warning(
    sb: Sandbox, make_project: Make, value: str
) -> None:
    _, project_id = make_project()
    sb.gradient.add_recommendation(
        project_id, state="SUCCESS", recommendation_id="rec-1", created_at="2026-01-02T00:00:00Z"
    )

    with pytest.warns(AirflowProviderDeprecationWarning, match="newer_than_recommendation_id="):
        s = sensor(project_id=project_id, newer_than=value)

    assert s.execute(context()) == "rec-1"


def test_an_id_that_looks_like_a_date_is_an_id_with_the_explicit_argument(
    sb: Sandbox, make_project: Make
) -> None:
    """``newer_than`` guessed a time from '2026-01-01...'; the explicit argument does not."""
    _, project_id = make_project()
    sb.gradient.add_recommendation(project_id, state="SUCCESS", recommendation_id="2026-01-01-a")

    assert (
        sensor(project_id=project_id, newer_than_recommendation_id="2026-01-01-a").execute(
            context()
        )
        == "2026-01-01-a"
    )


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"newer_than_recommendation_id": "r", "newer_than_time": "2026-01-01"}, "not both"),
        ({"newer_than": "r", "newer_than_time": "2026-01-01"}, "deprecated spelling"),
        ({"job_id": 1, "job_name": "x"}, "job_id or job_name, not both"),
        ({"project_id": None}, "give project_id, or job_id / job_name"),
    ],
)
def test_conflicting_arguments_fail_at_parse_time(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        sensor(**{"project_id": "p", **kwargs})


def test_a_time_that_is_no_time_fails_without_retries(sb: Sandbox, make_project: Make) -> None:
    _, project_id = make_project()
    with pytest.raises(InvalidArgumentsError, match='newer_than_time="yesterday"') as caught:
        sensor(project_id=project_id, newer_than_time="yesterday").execute(context())
    assert isinstance(caught.value, AirflowFailException)
    assert gradient_calls(sb) == []


def test_the_project_is_found_from_the_job_and_both_links_are_set(
    sb: Sandbox, make_project: Make
) -> None:
    job_id, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="SUCCESS")
    ti = FakeTaskInstance()

    assert sensor(job_id=job_id).execute(context(ti)) == rec_id

    assert "GET /v1/projects 200" in gradient_calls(sb)
    assert ti.pushed["gradient_project_url"].endswith(project_id)
    assert ti.pushed["databricks_job_url"].endswith(f"/jobs/{job_id}")


def test_job_name_is_looked_up(sb: Sandbox, make_project: Make) -> None:
    job_id, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="SUCCESS")
    sb.databricks.update_job(job_id, {"name": "unique-name-for-sensor"})
    ti = FakeTaskInstance()

    s = sensor(project_id=project_id, job_name="unique-name-for-sensor")

    assert s.execute(context(ti)) == rec_id
    assert s.resolved_job_id == job_id
    assert ti.pushed["databricks_job_url"].endswith(f"/jobs/{job_id}")


def test_two_projects_on_the_job_fail_without_retries_listing_both(
    sb: Sandbox, make_project: Make
) -> None:
    job_id, first = make_project()
    second = sb.gradient.create_project(job_id=job_id, name="second")["id"]

    with pytest.raises(ProjectLookupError) as caught:
        sensor(job_id=job_id).execute(context())

    message = str(caught.value)
    assert isinstance(caught.value, AirflowFailException)
    assert f"2 Gradient projects track Databricks job {job_id}" in message
    assert first in message and second in message and "Pass project_id=" in message


def test_the_request_operator_finds_the_project_from_the_job(
    sb: Sandbox, make_project: Make
) -> None:
    job_id, project_id = make_project()
    op = GradientRequestRecommendationOperator(
        task_id="request", job_id=str(job_id), gradient_hook_params=FAST_HOOK
    )
    ti = FakeTaskInstance()

    rec_id = op.execute(context(ti))

    assert sb.gradient.get_recommendation(project_id, rec_id)["state"] == "PENDING"
    assert ti.pushed["gradient_project_url"].endswith(project_id)


def test_the_request_operator_without_a_tracking_project_fails_without_retries(
    sb: Sandbox,
) -> None:
    op = GradientRequestRecommendationOperator(
        task_id="request", job_id="424242", gradient_hook_params=FAST_HOOK
    )
    with pytest.raises(
        ProjectLookupError, match="No Gradient project tracks Databricks job 424242"
    ):
        op.execute(context())
    assert [c for c in gradient_calls(sb) if c.startswith("POST /v1/projects/")] == []


def test_connection_ids_are_templated_everywhere() -> None:
    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator
    from airflow_gradient.operators.rollback import GradientRollbackOperator
    from airflow_gradient.operators.webhook import GradientWebhookOperator

    gradient = (
        GradientApplyRecommendationOperator,
        GradientRecommendationSensor,
        GradientRequestRecommendationOperator,
        GradientWebhookOperator,
    )
    databricks = (
        GradientApplyRecommendationOperator,
        GradientRecommendationSensor,
        GradientRollbackOperator,
        GradientWebhookOperator,
    )
    for cls in gradient:
        assert "gradient_conn_id" in cls.template_fields, cls
    for cls in databricks:
        assert "databricks_conn_id" in cls.template_fields, cls
