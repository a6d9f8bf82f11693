"""Helpers of the webhook operator tests: a running sandbox, its connections, a job and a runner
(the fixtures are made available to tests/operators by its conftest)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_gradient.sandbox import RequestRecord, Sandbox

WEBHOOK_URL = "https://hooks.example/gradient?token=url-token-123456"
WEBHOOK_USER = "webhook-user-name"
WEBHOOK_PASSWORD = "webhook-password-987654"
SECRETS = (WEBHOOK_URL, "url-token-123456", WEBHOOK_USER, WEBHOOK_PASSWORD)

TASK = {
    "task_key": "ingest",
    "notebook_task": {"notebook_path": "/Repos/etl/ingest"},
    "new_cluster": {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "m5.large",
        "num_workers": 2,
    },
}


def settled_requests(
    webhook_sb: Sandbox,
    service: str | None = None,
    method: str | None = None,
    path: str | None = None,
) -> list[RequestRecord]:
    """``webhook_sb.requests_to(...)`` once the log stops growing.

    The sandbox records a request after its reply is flushed, so a snapshot taken right after
    a call may miss that call's last request (or two): wait until two reads 50 ms apart agree.
    """
    deadline = time.monotonic() + 2.0
    previous = webhook_sb.requests
    while time.monotonic() < deadline:
        time.sleep(0.05)
        current = webhook_sb.requests
        if current == previous:
            break
        previous = current
    return webhook_sb.requests_to(service, method, path)


class FakeTI:
    """The part of a task instance ``execute`` touches: ``xcom_push``."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


@pytest.fixture
def webhook_sb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A fresh sandbox of this test's own (destinations are looked up by name, so they must not
    carry over from another test), its connections and the webhook connection in the env."""
    with Sandbox() as sandbox:
        for name, value in sandbox.connections().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(
            "AIRFLOW_CONN_GRADIENT_WEBHOOK",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": WEBHOOK_URL,
                    "login": WEBHOOK_USER,
                    "password": WEBHOOK_PASSWORD,
                }
            ),
        )
        yield sandbox


@pytest.fixture
def oncall(webhook_sb: Sandbox) -> str:
    """Id of an existing "On-call" destination the job notifies on failure."""
    return str(
        webhook_sb.databricks.create_destination("On-call", "https://hooks.example/oncall")["id"]
    )


@pytest.fixture
def make_job(webhook_sb: Sandbox, oncall: str) -> Callable[..., int]:
    """Create a job with email notifications, an on_failure webhook and a task-level webhook.

    ``on_start`` ids are created as destinations first, so the job only names real ones.
    """

    def make(on_start: list[str] | None = None, name: str = "etl") -> int:
        task = copy.deepcopy(TASK)
        task["webhook_notifications"] = {"on_start": [{"id": oncall}]}
        notifications: dict[str, Any] = {"on_failure": [{"id": oncall}]}
        if on_start is not None:
            notifications["on_start"] = [{"id": i} for i in on_start]
        return webhook_sb.databricks.create_job(
            {
                "name": name,
                "tasks": [task],
                "email_notifications": {"on_failure": ["oncall@acme.example"]},
                "webhook_notifications": notifications,
                "tags": {"team": "data"},
            }
        )

    return make


@pytest.fixture
def destinations(webhook_sb: Sandbox) -> Callable[[int], list[str]]:
    """Create ``n`` extra destinations ("Extra 0", ...); return their ids."""

    def create(n: int) -> list[str]:
        return [
            str(
                webhook_sb.databricks.create_destination(
                    f"Extra {i}", f"https://hooks.example/{i}"
                )["id"]
            )
            for i in range(n)
        ]

    return create


@pytest.fixture
def run_webhook() -> Callable[..., tuple[dict[str, Any], FakeTI]]:
    """Build the operator inside a DAG with ``kwargs`` and execute it; return (XCom, ti)."""

    def execute(**kwargs: Any) -> tuple[dict[str, Any], FakeTI]:
        from airflow.sdk import DAG

        from airflow_gradient.operators.webhook import GradientWebhookOperator

        kwargs.setdefault("databricks_hook_params", {"retry_limit": 1})
        with DAG("t", schedule=None):
            op = GradientWebhookOperator(task_id="wire", **kwargs)
        ti = FakeTI()
        result = op.execute({"ti": ti})  # type: ignore[arg-type]
        return result, ti

    return execute
