"""GradientHook against the sandbox over real sockets: auth, retries, envelopes, paging."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import MutableMapping
from typing import Any

import pytest

from airflow_gradient.exceptions import (
    GradientApiError,
    GradientAuthError,
    GradientTransportError,
    GradientUnexpectedResponseError,
)
from airflow_gradient.hooks.gradient import GradientHook
from airflow_gradient.sandbox import Sandbox
from tests.hooks.conftest import logged_text, retry_lines

TOKEN = "/v1/auth/token"


def hook(**kwargs: float) -> GradientHook:
    params = {"retry_delay": 0.01, "timeout": 2.0, **kwargs}
    return GradientHook(**params)  # type: ignore[arg-type]


def calls(sb: Sandbox, path: str | None = None) -> list[tuple[str, str, int]]:
    return [
        (r.method, r.path, r.status)
        for r in sb.requests
        if r.service == "gradient" and (path is None or r.path == path)
    ]


def test_token_is_fetched_once_and_shared_by_hooks(sb: Sandbox) -> None:
    assert hook().get_products() == ["aws-databricks", "azure-databricks"]
    hook().get_products()
    assert calls(sb) == [
        ("POST", TOKEN, 200),
        ("GET", "/v1/projects/products", 200),
        ("GET", "/v1/projects/products", 200),
    ]


def test_many_threads_asking_at_once_send_one_token_request(sb: Sandbox) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sb.faults.set_latency(0.05, "gradient")  # the first token request is still out when the
    hooks = [hook() for _ in range(20)]  # others ask
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda h: h.get_products(), hooks))
    for h in hooks:
        h.close()
    assert all(r == ["aws-databricks", "azure-databricks"] for r in results)
    assert calls(sb, TOKEN) == [("POST", TOKEN, 200)]
    assert len(calls(sb, "/v1/projects/products")) == 20


async def test_many_async_waiters_send_one_token_request_over_one_client(sb: Sandbox) -> None:
    from airflow_gradient.hooks.gradient_base import ASYNC_CLIENTS

    sb.faults.set_latency(0.05, "gradient")
    hooks = [hook() for _ in range(200)]
    results = await asyncio.gather(*(h._acall("GET", "/v1/projects/products") for h in hooks))
    assert len(ASYNC_CLIENTS.open_clients()) == 1  # one pool, one SSL context for all 200
    await asyncio.gather(*(h.aclose() for h in hooks))
    assert ASYNC_CLIENTS.open_clients() == []
    assert all(r == ["aws-databricks", "azure-databricks"] for r in results)
    assert calls(sb, TOKEN) == [("POST", TOKEN, 200)]


async def test_other_client_options_get_another_client(sb: Sandbox) -> None:
    from airflow_gradient.hooks.gradient_base import ASYNC_CLIENTS

    short, long = hook(timeout=2.0), hook(timeout=3.0)
    await short._acall("GET", "/v1/projects/products")
    await long._acall("GET", "/v1/projects/products")
    first, second = ASYNC_CLIENTS.open_clients()
    assert first is not second
    await short.aclose()
    await long.aclose()
    assert first.is_closed and second.is_closed


def test_expired_token_is_renewed_once_and_the_call_repeated(sb: Sandbox) -> None:
    h = hook()
    h.get_products()
    sb.gradient.expire_tokens()
    sb.clear_requests()
    assert h.get_products()
    assert calls(sb) == [
        ("GET", "/v1/projects/products", 401),
        ("POST", TOKEN, 200),
        ("GET", "/v1/projects/products", 200),
    ]


def test_a_second_401_is_a_credentials_error(sb: Sandbox) -> None:
    h = hook()
    h.get_products()
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=401, times=2)
    with pytest.raises(GradientAuthError, match="gradient_default"):
        h.get_products()
    assert [c[2] for c in calls(sb, "/v1/projects/products")] == [200, 401, 401]


def test_wrong_key_is_final_and_names_the_connection_not_the_secret(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(sb.connections()["AIRFLOW_CONN_GRADIENT_DEFAULT"])
    conn["password"] = "wrong-secret-value-123"
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", json.dumps(conn))
    with pytest.raises(GradientAuthError) as err:
        hook().get_products()
    assert "gradient_default" in str(err.value)
    assert "wrong-secret-value-123" not in str(err.value)
    assert err.value.status == 401
    assert calls(sb) == [("POST", TOKEN, 401)]


def test_two_503s_then_success_on_a_read(sb: Sandbox) -> None:
    h = hook()
    h.get_products()
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=503, times=2)
    assert h.get_products()
    assert [c[2] for c in calls(sb, "/v1/projects/products")] == [200, 503, 503, 200]


def test_429_retry_after_is_honoured(sb: Sandbox) -> None:
    h = hook(retry_delay=5.0)  # only Retry-After can make this fast
    h.get_products()
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=429, retry_after=0, times=1)
    assert h.get_products()
    assert [c[2] for c in calls(sb, "/v1/projects/products")] == [200, 429, 200]


def test_permanent_500_gives_up_after_the_retry_limit(sb: Sandbox) -> None:
    h = hook(retry_limit=3)
    h.get_products()
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=500, times=10)
    with pytest.raises(GradientApiError) as err:
        h.get_products()
    assert err.value.status == 500
    assert [c[2] for c in calls(sb, "/v1/projects/products")] == [200, 500, 500, 500]


def test_retry_after_beyond_the_time_bound_stops_at_once(sb: Sandbox) -> None:
    h = hook(total_timeout=1.0)
    h.get_products()
    sb.faults.inject(
        "gradient", "GET", "/v1/projects/products", status=429, retry_after=600, times=3
    )
    with pytest.raises(GradientApiError) as err:
        h.get_products()
    assert err.value.status == 429
    assert [c[2] for c in calls(sb, "/v1/projects/products")] == [200, 429]


def test_timeout_and_dropped_connection_are_retried_on_reads(sb: Sandbox) -> None:
    h = hook(timeout=0.3)
    h.get_products()
    slow = sb.faults.inject("gradient", "GET", "/v1/projects/products", delay=1.0, times=1)
    dropped = sb.faults.inject(
        "gradient", "GET", "/v1/projects/products", drop_connection=True, times=1
    )
    assert h.get_products() == ["aws-databricks", "azure-databricks"]
    assert slow.remaining == 0 and dropped.remaining == 0  # both were hit, then a third try


def test_unreachable_host_is_a_transport_error(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(sb.connections()["AIRFLOW_CONN_GRADIENT_DEFAULT"])
    conn["host"] = "http://127.0.0.1:9"  # discard port: nothing listens
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", json.dumps(conn))
    with pytest.raises(GradientTransportError, match="could not be reached"):
        hook(retry_limit=2).get_products()


def test_post_recommendation_is_never_retried(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "j", "tasks": []})
    project = sb.gradient.create_project(job_id=job_id)
    path = f"/v1/projects/{project['id']}/recommendations"
    h = hook()
    h.get_products()
    sb.faults.inject("gradient", "POST", path, status=503, times=1)
    with pytest.raises(GradientApiError):
        h.request_recommendation(project["id"])
    assert [c for c in calls(sb, path) if c[0] == "POST"] == [("POST", path, 503)]


def test_request_recommendation_returns_the_new_id(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "j", "tasks": []})
    project = sb.gradient.create_project(job_id=job_id)
    rec_id = hook().request_recommendation(project["id"])
    assert hook().get_recommendation(project["id"], rec_id)["state"] == "PENDING"


def test_error_envelope_keeps_code_message_and_status(sb: Sandbox) -> None:
    with pytest.raises(GradientApiError) as err:
        hook().get_project("00000000-0000-4000-8000-000000000000")
    assert err.value.status == 404
    assert err.value.code == "Project Not Found"
    assert "00000000-0000-4000-8000-000000000000" in str(err.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, "<html><body>proxy</body></html>"),
        (200, "{not json"),
        (200, {"results": []}),
        (502, "<html>Bad gateway</html>"),
    ],
)
def test_replies_that_are_not_envelopes_are_reported(
    sb: Sandbox, status: int, body: object
) -> None:
    h = hook(retry_limit=1)
    h.get_products()
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=status, body=body)  # type: ignore[arg-type]
    with pytest.raises(GradientUnexpectedResponseError, match=f"HTTP {status}") as err:
        h.get_products()
    assert "Gradient API" in str(err.value)


def test_latest_recommendation_pages_past_other_states(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "j", "tasks": []})
    project_id = sb.gradient.create_project(job_id=job_id)["id"]
    wanted = sb.gradient.add_recommendation(
        project_id, {"num_workers": 2}, state="SUCCESS", created_at="2026-01-01T00:00:00Z"
    )
    for day in range(2, 9):
        sb.gradient.add_recommendation(
            project_id, state="FAILURE", error="x", created_at=f"2026-01-0{day}T00:00:00Z"
        )
    h = hook()
    found = h.get_latest_recommendation(project_id, per_page=3)
    assert found is not None and found["id"] == wanted
    pages = [r.query for r in sb.requests if r.path.endswith("/recommendations")]
    assert len(pages) == 3
    assert h.get_latest_recommendation(project_id, per_page=3, max_pages=2) is None


def test_paging_that_stops_at_its_limit_says_so(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    job_id = sb.databricks.create_job({"name": "j", "tasks": []})
    project_id = sb.gradient.create_project(job_id=job_id)["id"]
    sb.gradient.add_recommendation(
        project_id, {"num_workers": 2}, state="SUCCESS", created_at="2026-01-01T00:00:00Z"
    )
    for day in range(2, 8):
        sb.gradient.add_recommendation(
            project_id, state="FAILURE", error="x", created_at=f"2026-01-0{day}T00:00:00Z"
        )
    h = hook()
    assert h.get_latest_recommendation(project_id, per_page=3, max_pages=2) is None
    warnings = [str(e["event"]) for e in logged if e.get("log_level") == "warning"]
    assert warnings == [
        f"Gradient project {project_id}: none of its newest 6 recommendations (2 pages of 3) "
        "is SUCCESS, and older ones were not read (the paging limit was reached). Requests "
        "keep failing or staying pending: check the project in Gradient."
    ]
    # A short last page means everything was read: no warning.
    logged.clear()
    assert h.get_latest_recommendation(project_id, state="PENDING", per_page=5) is None
    assert [e for e in logged if e.get("log_level") == "warning"] == []


def test_test_connection_reports_both_outcomes(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok, message = hook().test_connection()
    assert ok and "aws-databricks" in message
    conn = json.loads(sb.connections()["AIRFLOW_CONN_GRADIENT_DEFAULT"])
    conn["login"] = "unknown-key"
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", json.dumps(conn))
    ok, message = hook().test_connection()
    assert not ok and "refused the API key" in message


async def test_async_twins_share_the_token_and_parse_the_same(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "j", "tasks": []})
    project_id = sb.gradient.create_project(job_id=job_id)["id"]
    rec_id = sb.gradient.add_recommendation(project_id, {"num_workers": 2}, state="SUCCESS")
    h = hook()
    h.get_products()
    sb.clear_requests()
    items = await h.alist_recommendations(project_id)
    await h.aclose()
    assert [i["id"] for i in items] == [rec_id] and items[0]["state"] == "SUCCESS"
    assert all(path != TOKEN for _, path, _ in calls(sb))
    assert items == h.list_recommendations(project_id)


def test_latest_recommendation_reads_states_in_any_case_and_refuses_garbage(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "j", "tasks": []})
    project_id = sb.gradient.create_project(job_id=job_id)["id"]
    lower = {"id": "r-lower", "state": "success", "recommendation": {"configuration": {}}}
    sb.gradient.add_recommendation(project_id, raw=lower, created_at="2026-01-01T00:00:00Z")
    found = hook().get_latest_recommendation(project_id)
    assert found is not None and found["id"] == "r-lower"

    sb.gradient.add_recommendation(project_id, raw="<html>", created_at="2026-01-02T00:00:00Z")
    with pytest.raises(GradientUnexpectedResponseError, match=f"project {project_id}"):
        hook().get_latest_recommendation(project_id)


# --- every retry is logged at WARNING: attempt, reason, wait; never a secret -----------------


def secrets_of(sb: Sandbox) -> list[str]:
    conn = json.loads(sb.connections()["AIRFLOW_CONN_GRADIENT_DEFAULT"])
    return [conn["login"], conn["password"], *sb.gradient.issued_tokens]


def test_each_retry_is_logged_with_attempt_status_and_wait(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    h = hook(retry_delay=0.02)
    h.get_products()
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=503, times=2)
    assert h.get_products()
    assert retry_lines(logged) == [
        "Gradient API GET /v1/projects/products failed on attempt 1 (HTTP 503 "
        "Service Unavailable); retrying in 0.02 s",
        "Gradient API GET /v1/projects/products failed on attempt 2 (HTTP 503 "
        "Service Unavailable); retrying in 0.04 s",
    ]
    for secret in secrets_of(sb):
        assert secret not in logged_text(logged)


def test_the_logged_wait_is_the_retry_after_asked_for(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    h = hook(retry_delay=5.0, max_retry_after=0.25)
    h.get_products()
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=429, retry_after=0.1)
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=429, retry_after=60)
    assert h.get_products()
    lines = retry_lines(logged)
    assert [line.split("(")[1].split(")")[0] for line in lines] == [
        "HTTP 429 Too Many Requests"
    ] * 2
    assert [line.rsplit(" ", 2)[1] for line in lines] == ["0.10", "0.25"]  # capped


@pytest.mark.parametrize(
    ("retry_after", "logged_wait"),
    [
        ("nan", "0.20"),  # garbage: the back-off (retry_delay) applies
        ("inf", "0.20"),
        ("soon", "0.20"),
        ("-5", "0.00"),  # negative: retry now
        ("0.5", "0.50"),
    ],
)
def test_every_retry_after_form_gives_a_bounded_wait(
    sb: Sandbox, logged: list[MutableMapping[str, Any]], retry_after: str, logged_wait: str
) -> None:
    h = hook(retry_delay=0.2, max_retry_after=2.0)
    h.get_products()
    sb.faults.inject(
        "gradient", "GET", "/v1/projects/products", status=503, retry_after=retry_after
    )
    assert h.get_products()
    [line] = retry_lines(logged)
    assert line.rsplit(" ", 2)[1] == logged_wait
    assert "on attempt 1 (HTTP 503" in line


def test_an_http_date_retry_after_is_the_time_until_that_date(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    from email.utils import formatdate

    h = hook(retry_delay=0.01, max_retry_after=30.0)
    h.get_products()
    when = formatdate(time.time() + 3, usegmt=True)  # whole seconds: between 2 and 3 s ahead
    sb.faults.inject("gradient", "GET", "/v1/projects/products", status=503, retry_after=when)
    assert h.get_products()
    [line] = retry_lines(logged)
    assert 1.5 <= float(line.rsplit(" ", 2)[1]) <= 3.0


def test_a_dropped_connection_is_logged_with_the_error_type(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    h = hook()
    h.get_products()
    sb.faults.inject("gradient", "GET", "/v1/projects/products", drop_connection=True)
    assert h.get_products()
    [line] = retry_lines(logged)
    assert "on attempt 1 (RemoteProtocolError)" in line


def test_the_token_request_retries_are_logged_without_the_key(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    sb.faults.inject("gradient", "POST", TOKEN, status=502)
    assert hook().get_products()
    [line] = retry_lines(logged)
    assert line.startswith(f"Gradient API POST {TOKEN} failed on attempt 1 (HTTP 502")
    for secret in secrets_of(sb):
        assert secret not in logged_text(logged)


def test_a_post_that_is_not_retried_logs_no_retry(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    project = sb.gradient.create_project(
        job_id=sb.databricks.create_job({"name": "j", "tasks": []})
    )
    path = f"/v1/projects/{project['id']}/recommendations"
    sb.faults.inject("gradient", "POST", path, status=503)
    with pytest.raises(GradientApiError):
        hook().request_recommendation(project["id"])
    assert retry_lines(logged) == []


def test_the_async_twin_logs_its_retries_too(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    project = sb.gradient.create_project(
        job_id=sb.databricks.create_job({"name": "j", "tasks": []})
    )
    path = f"/v1/projects/{project['id']}/recommendations"
    sb.faults.inject("gradient", "GET", path, status=500)
    h = hook()

    async def read() -> list[dict[str, object]]:
        try:
            return await h.alist_recommendations(project["id"])
        finally:
            await h.aclose()

    assert asyncio.run(read()) == []
    [line] = retry_lines(logged)
    assert line == (
        f"Gradient API GET {path} failed on attempt 1 (HTTP 500 Internal Server Error); "
        "retrying in 0.01 s"
    )
