"""Fixtures for the sandbox conformance tests: a running sandbox and real clients for it.

Every client here is the real one (httpx, ``databricks-sdk``'s ``WorkspaceClient``, Airflow's
``DatabricksHook``) talking over real sockets: nothing is mocked.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_gradient.sandbox import Sandbox

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _fixture_settings(name: str) -> dict[str, Any]:
    reply = json.loads((FIXTURES / "jobs" / f"{name}.json").read_text(encoding="utf-8"))
    return copy.deepcopy(reply["settings"])


@pytest.fixture
def job_settings() -> Callable[..., dict[str, Any]]:
    """``job_settings("task_clusters")``: the ``settings`` of a job fixture (a fresh copy).

    The default, ``shared_job_cluster``, loses its ``webhook_notifications`` (its destination
    does not exist in a fresh sandbox).
    """

    def load(name: str = "shared_job_cluster") -> dict[str, Any]:
        settings = _fixture_settings(name)
        if name == "shared_job_cluster":
            settings.pop("webhook_notifications")
        return settings

    return load


@pytest.fixture
def gradient(fresh_sandbox: Sandbox) -> Iterator[httpx.Client]:
    """httpx client for the Gradient API, already holding a valid bearer token."""
    with httpx.Client(base_url=fresh_sandbox.gradient_url, timeout=10) as client:
        reply = client.post(
            "/v1/auth/token",
            json={
                "api_key_id": fresh_sandbox.api_key_id,
                "api_key_secret": fresh_sandbox.api_key_secret,
            },
        )
        assert reply.status_code == 200, reply.text
        client.headers["Authorization"] = f"Bearer {reply.json()['result']['access_token']}"
        yield client


@pytest.fixture
def dbx(fresh_sandbox: Sandbox) -> Iterator[httpx.Client]:
    """httpx client for the Databricks API with the sandbox's token."""
    with httpx.Client(
        base_url=fresh_sandbox.databricks_url,
        timeout=10,
        headers={"Authorization": f"Bearer {fresh_sandbox.databricks_token}"},
    ) as client:
        yield client


@pytest.fixture
def workspace(fresh_sandbox: Sandbox) -> Any:
    """``databricks-sdk`` ``WorkspaceClient`` pointed at the sandbox with its PAT."""
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient(
        host=fresh_sandbox.databricks_url, token=fresh_sandbox.databricks_token, auth_type="pat"
    )


@pytest.fixture
def hook_factory(fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Build Airflow's real ``DatabricksHook`` from ``connections()`` exported as env vars.

    Retries wait 10 ms instead of the hook's default exponential back-off (1 s, 2 s, ...).
    """
    for name, value in fresh_sandbox.connections().items():
        monkeypatch.setenv(name, value)

    def build(retry_limit: int = 3, timeout_seconds: int = 10) -> Any:
        from airflow.providers.databricks.hooks.databricks import DatabricksHook
        from tenacity import stop_after_attempt, wait_fixed

        return DatabricksHook(
            timeout_seconds=timeout_seconds,
            retry_limit=retry_limit,
            retry_args={"stop": stop_after_attempt(retry_limit), "wait": wait_fixed(0.01)},
        )

    return build
