"""GradientRequestRecommendationOperator against the sandbox: one POST, or reuse of a PENDING."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from airflow_gradient.exceptions import GradientApiError
from airflow_gradient.operators.request import GradientRequestRecommendationOperator
from airflow_gradient.sandbox import Sandbox
from tests.waiting_support import FAST_HOOK, RECS, FakeTaskInstance, context, gradient_calls


def operator(project_id: str, **kwargs: object) -> GradientRequestRecommendationOperator:
    return GradientRequestRecommendationOperator(
        task_id="request",
        project_id=project_id,
        gradient_hook_params=FAST_HOOK,
        **kwargs,  # type: ignore[arg-type]
    )


def test_requests_one_recommendation_and_returns_its_id(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    ti = FakeTaskInstance()
    rec_id = operator(project_id).execute(context(ti))
    posts = gradient_calls(sb, "POST", RECS.format(project_id))
    assert posts == [f"POST {RECS.format(project_id)} 200"]
    assert sb.gradient.get_recommendation(project_id, rec_id)["state"] == "PENDING"
    assert ti.pushed["gradient_project_url"].endswith(f"/projects/{project_id}")


def test_reuses_a_recent_pending_instead_of_posting(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.add_recommendation(project_id, state="SUCCESS")
    pending = sb.gradient.add_recommendation(
        project_id, state="PENDING", created_at=datetime.now(UTC) - timedelta(minutes=10)
    )
    sb.clear_requests()
    assert operator(project_id).execute(context()) == pending
    assert gradient_calls(sb, "POST", RECS.format(project_id)) == []
    assert len(sb.gradient.recommendations(project_id)) == 2


def test_an_old_pending_is_not_reused(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    old = sb.gradient.add_recommendation(
        project_id, state="PENDING", created_at=datetime.now(UTC) - timedelta(minutes=31)
    )
    new = operator(project_id).execute(context())
    assert new != old
    assert len(gradient_calls(sb, "POST", RECS.format(project_id))) == 1


def test_the_window_is_configurable_and_can_be_switched_off(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    recent = sb.gradient.add_recommendation(
        project_id, state="PENDING", created_at=datetime.now(UTC) - timedelta(minutes=10)
    )
    assert (
        operator(project_id, reuse_pending_within=timedelta(hours=1)).execute(context()) == recent
    )
    assert (
        operator(project_id, reuse_pending_within=timedelta(minutes=5)).execute(context()) != recent
    )
    sb.clear_requests()
    operator(project_id, reuse_pending_within=None).execute(context())
    assert gradient_calls(sb, path=RECS.format(project_id)) == [
        f"POST {RECS.format(project_id)} 200"
    ]


def test_the_post_is_never_retried(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.faults.inject("gradient", "POST", RECS.format(project_id), status=503, times=3)
    with pytest.raises(GradientApiError, match="HTTP 503"):
        operator(project_id).execute(context())
    assert len(gradient_calls(sb, "POST", RECS.format(project_id))) == 1


def test_a_retry_after_a_lost_reply_reuses_the_request_that_went_through(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.faults.inject("gradient", "POST", RECS.format(project_id), drop_connection=True, after=True)
    with pytest.raises(Exception, match="could not be reached"):
        operator(project_id).execute(context())
    [created] = sb.gradient.recommendations(project_id)
    assert operator(project_id).execute(context()) == created["id"]
    assert len(sb.gradient.recommendations(project_id)) == 1


def test_template_fields_and_window_validation() -> None:
    assert GradientRequestRecommendationOperator.template_fields == (
        "project_id",
        "job_id",
        "gradient_conn_id",
    )
    with pytest.raises(ValueError, match="timedelta"):
        GradientRequestRecommendationOperator(
            task_id="r",
            project_id="p",
            reuse_pending_within=30,  # type: ignore[arg-type]
        )
