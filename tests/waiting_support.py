"""Helpers of the tests of waiting for a recommendation: the request operator, the sensor and
the trigger against the sandbox (real sockets). ``make_project`` is a fixture: the conftests of
tests/sensors, tests/triggers and tests/operators import it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox

RECS = "/v1/projects/{}/recommendations"
TOKEN = "/v1/auth/token"
FAST_HOOK = {"retry_delay": 0.01, "timeout": 5.0, "retry_limit": 2}


def job_settings(tag: str | None = None) -> dict[str, Any]:
    """A job with one job cluster, optionally tagged with the recommendation in force."""
    tags = {"team": "data-eng"}
    if tag is not None:
        tags["sync:recommendation-id"] = tag
    return {
        "name": "nightly-etl",
        "job_clusters": [
            {
                "job_cluster_key": "main",
                "new_cluster": {
                    "spark_version": "15.4.x-scala2.12",
                    "node_type_id": "m5.xlarge",
                    "num_workers": 4,
                    "custom_tags": tags,
                },
            }
        ],
        "tasks": [
            {
                "task_key": "etl",
                "job_cluster_key": "main",
                "notebook_task": {"notebook_path": "/etl"},
            }
        ],
    }


class FakeTaskInstance:
    """What the operators use of ``context["ti"]`` outside a real task run."""

    def __init__(self, first_reschedule: datetime | None = None) -> None:
        self.pushed: dict[str, Any] = {}
        self.first_reschedule = first_reschedule

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def get_first_reschedule_date(self, context: Any) -> datetime | None:
        return self.first_reschedule


def context(ti: FakeTaskInstance | None = None) -> Any:
    return {"ti": ti or FakeTaskInstance(), "params": {}}


@pytest.fixture
def make_project(sb: Sandbox) -> Callable[..., tuple[int, str]]:
    """``make_project(tag=None)`` → ``(job_id, project_id)`` of a fresh job and project."""

    def make(tag: str | None = None) -> tuple[int, str]:
        job_id = sb.databricks.create_job(job_settings(tag))
        project_id = sb.gradient.create_project(job_id=job_id)["id"]
        sb.clear_requests()
        return job_id, project_id

    return make


def gradient_calls(sb: Sandbox, method: str | None = None, path: str | None = None) -> list[str]:
    """``"METHOD path status"`` of the Gradient requests served, oldest first."""
    return [
        f"{r.method} {r.path} {r.status}"
        for r in sb.requests_to("gradient", method=method, path=path)
    ]
