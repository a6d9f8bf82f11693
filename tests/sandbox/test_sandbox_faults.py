"""Injected faults: statuses, bodies, Retry-After, delays, dropped connections, latency."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_gradient.sandbox import Sandbox

Settings = Callable[..., dict[str, Any]]
UPDATE = "/api/2.2/jobs/update"


def statuses(sandbox: Sandbox, path: str) -> list[int]:
    return [r.status for r in sandbox.requests_to(path=path)]


def renamed(job_id: int, name: str) -> dict[str, Any]:
    return {"job_id": job_id, "new_settings": {"name": name}}


def test_status_fault_uses_each_service_envelope_and_counts_down(
    fresh_sandbox: Sandbox, gradient: httpx.Client, dbx: httpx.Client
) -> None:
    fresh_sandbox.faults.inject(
        "gradient", "get", "/v1/projects", status=503, times=2, retry_after=7
    )
    fresh_sandbox.faults.inject(
        "databricks", "GET", "/api/2.2/jobs/list", status=429, retry_after="3"
    )
    first = gradient.get("/v1/projects")
    assert first.status_code == 503
    assert first.json()["error"]["code"] == "Service Unavailable"
    assert first.headers["retry-after"] == "7"
    assert gradient.get("/v1/projects", params={"app_id": "x"}).status_code == 503  # query ignored
    assert gradient.get("/v1/projects").status_code == 200
    limited = dbx.get("/api/2.2/jobs/list")
    assert limited.status_code == 429
    assert limited.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert limited.headers["retry-after"] == "3"
    assert dbx.get("/api/2.2/jobs/list").status_code == 200
    assert statuses(fresh_sandbox, "/v1/projects") == [503, 503, 200]
    assert [r.fault for r in fresh_sandbox.requests_to(path="/v1/projects")] == [
        "status",
        "status",
        None,
    ]
    assert fresh_sandbox.faults.pending == []


def test_fault_matches_method_and_exact_path_only(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    project = fresh_sandbox.gradient.create_project(job_id=1)
    fresh_sandbox.faults.inject("gradient", "PUT", f"/v1/projects/{project['id']}", status=500)
    assert gradient.get(f"/v1/projects/{project['id']}").status_code == 200
    assert gradient.get(f"/v1/projects/{project['id']}/recommendations").status_code == 200
    assert len(fresh_sandbox.faults.pending) == 1
    fresh_sandbox.faults.clear()
    assert gradient.put(f"/v1/projects/{project['id']}", json={}).status_code == 200


def test_custom_bodies_html_and_malformed_json(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    fresh_sandbox.faults.inject("gradient", "GET", "/v1/projects", status=502, body=html)
    fresh_sandbox.faults.inject("gradient", "GET", "/v1/projects", status=200, body='{"result": [')
    proxy = gradient.get("/v1/projects")
    assert proxy.status_code == 502
    assert proxy.headers["content-type"].startswith("text/html")
    assert proxy.text == html
    broken = gradient.get("/v1/projects")
    assert broken.status_code == 200
    assert broken.headers["content-type"] == "application/json"
    with pytest.raises(ValueError, match="Expecting"):
        broken.json()


def test_delay_makes_a_client_time_out(fresh_sandbox: Sandbox, gradient: httpx.Client) -> None:
    fresh_sandbox.faults.inject("gradient", "GET", "/v1/projects/products", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        gradient.get("/v1/projects/products", timeout=0.1)
    assert gradient.get("/v1/projects/products", timeout=5).status_code == 200


def test_dropped_connection_before_the_handler_changes_nothing(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    fresh_sandbox.faults.inject("databricks", "POST", UPDATE, drop_connection=True)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        dbx.post(UPDATE, json=renamed(job_id, "changed"))
    assert fresh_sandbox.databricks.get_job(job_id)["settings"]["name"] == "nightly-etl"
    (record,) = fresh_sandbox.requests_to(path=UPDATE)
    assert (record.status, record.fault) == (0, "drop")


def test_dropped_reply_after_the_handler_still_applied_the_update(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    fresh_sandbox.faults.inject("databricks", "POST", UPDATE, drop_connection=True, after=True)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        dbx.post(UPDATE, json=renamed(job_id, "changed"))
    assert fresh_sandbox.databricks.get_job(job_id)["settings"]["name"] == "changed"
    assert statuses(fresh_sandbox, UPDATE) == [0]


def test_error_status_after_the_handler_still_applied_the_update(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    fresh_sandbox.faults.inject("databricks", "POST", UPDATE, status=504, after=True)
    reply = dbx.post(UPDATE, json=renamed(job_id, "changed"))
    assert reply.status_code == 504
    assert reply.json()["error_code"] == "DEADLINE_EXCEEDED"
    assert fresh_sandbox.databricks.get_job(job_id)["settings"]["name"] == "changed"


def test_hook_retries_through_503s(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any], job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    fresh_sandbox.faults.inject("databricks", "POST", UPDATE, status=503, times=2)
    hook_factory(retry_limit=3).update_job(str(job_id), {"name": "after-retries"})
    assert statuses(fresh_sandbox, UPDATE) == [503, 503, 200]
    assert fresh_sandbox.databricks.get_job(job_id)["settings"]["name"] == "after-retries"


def test_hook_gives_up_after_its_retry_limit(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any], job_settings: Settings
) -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    job_id = fresh_sandbox.databricks.create_job(job_settings())
    fresh_sandbox.faults.inject("databricks", "POST", UPDATE, status=503, times=5)
    with pytest.raises(AirflowException, match="failed 2 times"):
        hook_factory(retry_limit=2).update_job(str(job_id), {"name": "never"})
    assert statuses(fresh_sandbox, UPDATE) == [503, 503]


def test_hook_retries_a_dropped_connection(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any], job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    fresh_sandbox.faults.inject("databricks", "GET", "/api/2.2/jobs/get", drop_connection=True)
    page = hook_factory()._do_api_call(("GET", "2.2/jobs/get"), {"job_id": job_id})
    assert page["job_id"] == job_id
    assert statuses(fresh_sandbox, "/api/2.2/jobs/get") == [0, 200]


def test_latency_applies_per_service(
    fresh_sandbox: Sandbox, gradient: httpx.Client, dbx: httpx.Client
) -> None:
    fresh_sandbox.faults.set_latency(1.0, service="gradient")
    with pytest.raises(httpx.ReadTimeout):
        gradient.get("/v1/projects/products", timeout=0.2)
    assert dbx.get("/api/2.2/jobs/list", timeout=0.6).status_code == 200  # other service
    fresh_sandbox.faults.set_latency(0.0, service="gradient")
    fresh_sandbox.faults.set_latency(1.0)  # every service
    with pytest.raises(httpx.ReadTimeout):
        dbx.get("/api/2.2/jobs/list", timeout=0.2)
    fresh_sandbox.faults.clear()
    assert dbx.get("/api/2.2/jobs/list", timeout=5).status_code == 200


def test_inject_rejects_nonsense(fresh_sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="service"):
        fresh_sandbox.faults.inject("s3", "GET", "/")
    with pytest.raises(ValueError, match="times"):
        fresh_sandbox.faults.inject("gradient", "GET", "/", status=500, times=0)
    with pytest.raises(ValueError, match="query"):
        fresh_sandbox.faults.inject("gradient", "GET", "/v1/projects?x=1", status=500)
    with pytest.raises(ValueError, match="status"):
        fresh_sandbox.faults.inject("gradient", "GET", "/", body="<html/>")


def test_request_records_hold_no_secrets(
    fresh_sandbox: Sandbox, gradient: httpx.Client, dbx: httpx.Client, job_settings: Settings
) -> None:
    token = gradient.headers["Authorization"]
    fresh_sandbox.databricks.create_job(copy.deepcopy(job_settings()))
    dbx.get("/api/2.2/jobs/list", params={"limit": 5})
    gradient.get("/v1/projects")
    text = repr(fresh_sandbox.requests)
    for secret in (
        fresh_sandbox.api_key_secret,
        fresh_sandbox.databricks_token,
        token.split()[1],
        fresh_sandbox.api_key_id,
    ):
        assert secret not in text
    listed = fresh_sandbox.requests_to("databricks", "get", "/api/2.2/jobs/list")
    assert listed[0].query == {"limit": "5"}
    assert listed[0].status == 200
    fresh_sandbox.clear_requests()
    assert fresh_sandbox.requests == []
