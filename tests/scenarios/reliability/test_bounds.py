"""The time bounds the matrix holds the operator to, and the retry rules behind them."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from tenacity import stop_after_attempt, stop_never, wait_exponential, wait_fixed

from airflow_gradient.exceptions import GradientError, GradientTransportError
from airflow_gradient.hooks.databricks import GradientDatabricksHook, HonourRetryAfter
from airflow_gradient.hooks.gradient import TOKEN_PATH, GradientHook
from airflow_gradient.sandbox import Sandbox
from tests.scenarios.reliability.harness import (
    BOUND_SLACK,
    DATABRICKS_HOOK_PARAMS,
    GRADIENT_HOOK_PARAMS,
    TIMEOUT_DELAY,
)


def test_gradient_call_bound_is_total_timeout_plus_one_attempt() -> None:
    hook = GradientHook(timeout=1.0, total_timeout=5.0)
    assert hook.call_time_bound() == 7.0


def test_databricks_call_bound_with_the_provider_default_backoff() -> None:
    # 3 attempts of up to 2 x 1 s; waits max(1, 2**(n-1)) = 1, 2, each raised to the 2 s
    # Retry-After cap: 2 + 2.
    hook = GradientDatabricksHook(**DATABRICKS_HOOK_PARAMS)
    assert hook.call_time_bound() == 3 * 2.0 + 2.0 + 2.0
    defaults = GradientDatabricksHook()  # retry_limit 3, timeout 180 s, Retry-After cap 30 s
    assert defaults.call_time_bound() == 3 * 360.0 + 30.0 + 30.0


def test_databricks_call_bound_with_custom_retry_args() -> None:
    fixed = GradientDatabricksHook(
        timeout_seconds=2,
        max_retry_after=0.5,
        retry_args={"stop": stop_after_attempt(4), "wait": wait_fixed(1.5)},
    )
    assert fixed.call_time_bound() == 4 * 4.0 + 3 * 1.5
    exponential = GradientDatabricksHook(
        timeout_seconds=1,
        max_retry_after=0.1,
        retry_args={"stop": stop_after_attempt(3), "wait": wait_exponential(0.5, max=0.75)},
    )
    assert exponential.call_time_bound() == 3 * 2.0 + 0.5 + 0.75
    endless = GradientDatabricksHook(retry_args={"stop": stop_never, "wait": wait_fixed(1)})
    assert endless.call_time_bound() is None


def test_operator_bound_composes_the_hook_bounds() -> None:
    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    op = GradientApplyRecommendationOperator(
        task_id="bound",
        project_id="p",
        job_id=1,
        gradient_hook_params=GRADIENT_HOOK_PARAMS,
        databricks_hook_params=DATABRICKS_HOOK_PARAMS,
    )
    gradient, databricks = 7.0, 10.0
    # concurrent reads, then the revert lookup, jobs/update and the read-back
    assert op.time_bound() == max(gradient, databricks) + gradient + databricks + databricks
    assert op.time_bound(job_pages=2, recommendation_pages=3) == (
        max(3 * gradient, 2 * databricks) + gradient + databricks + 2 * databricks
    )
    unbounded = GradientApplyRecommendationOperator(
        task_id="unbounded",
        project_id="p",
        job_id=1,
        databricks_hook_params={"retry_args": {"stop": stop_never}},
    )
    assert unbounded.time_bound() is None


def _state(exception: BaseException | None, base_wait: float = 0.0) -> Any:
    outcome = SimpleNamespace(exception=lambda: exception)
    return SimpleNamespace(outcome=outcome, attempt_number=1, base_wait=base_wait)


def _http_error(retry_after: str | None) -> Exception:
    import requests

    response = requests.Response()
    response.status_code = 429
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return requests.HTTPError(response=response)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [(None, 0.25), ("1", 1.0), ("0.1", 0.25), ("120", 5.0), ("soon", 0.25), ("-3", 0.25)],
)
def test_databricks_waits_honour_retry_after_up_to_the_cap(
    retry_after: str | None, expected: float
) -> None:
    wait = HonourRetryAfter(lambda state: 0.25, cap=5.0)
    assert wait(_state(_http_error(retry_after))) == expected


def test_databricks_hook_uses_the_retry_after_wait() -> None:
    hook = GradientDatabricksHook(retry_limit=2, max_retry_after=3)
    wait = hook.retry_args["wait"]
    assert isinstance(wait, HonourRetryAfter) and wait.cap == 3.0
    assert wait(_state(_http_error("2"))) == 2.0


def test_gradient_token_renewal_and_request_share_one_deadline(sb: Sandbox) -> None:
    hook = GradientHook()
    hook.get_products()  # caches a token
    sb.gradient.expire_tokens()  # the next call gets a 401, renews the token, sends again
    sent: list[tuple[str, str, float | None]] = []
    send = hook._send

    def spy(request: Any) -> Any:
        sent.append((request.method, request.path, request.deadline))
        return send(request)

    hook._send = spy  # type: ignore[method-assign]
    hook.get_products()
    assert [(method, path) for method, path, _ in sent] == [
        ("GET", "/v1/projects/products"),
        ("POST", TOKEN_PATH),
        ("GET", "/v1/projects/products"),
    ]
    deadlines = {deadline for _, _, deadline in sent}
    assert len(deadlines) == 1 and None not in deadlines
    hook.close()


def test_gradient_call_whose_token_never_comes_ends_within_its_bound(sb: Sandbox) -> None:
    sb.faults.inject("gradient", "POST", TOKEN_PATH, delay=TIMEOUT_DELAY, times=50)
    hook = GradientHook(timeout=0.5, retry_limit=10, retry_delay=0.1, total_timeout=1.5)
    started = time.monotonic()
    with pytest.raises(GradientTransportError):
        hook.get_products()
    assert time.monotonic() - started <= hook.call_time_bound() + BOUND_SLACK
    hook.close()


def test_gradient_call_past_its_deadline_is_not_sent(sb: Sandbox) -> None:
    hook = GradientHook(total_timeout=5.0)
    with pytest.raises(GradientTransportError, match="was not sent"):
        hook._send(
            hook._prepare(
                hook.credentials,
                "GET",
                "/v1/projects/products",
                token=None,
                deadline=time.monotonic() - 1,
            )
        )
    assert sb.requests == []
    assert issubclass(GradientTransportError, GradientError)
