"""The webhook operator when the reply to its destination create is lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_gradient.sandbox import Sandbox
from tests.operators.webhook_support import settled_requests

DEST = "/api/2.0/notification-destinations"


def test_lost_create_reply_then_conflict_reuses_the_destination(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    """A create whose reply is lost is retried, gets 409, and the task reuses what it made."""
    from tenacity import stop_after_attempt, wait_fixed

    job_id = make_job()
    webhook_sb.faults.inject("databricks", "POST", DEST, status=503, after=True)
    result, _ = run_webhook(
        job_id=job_id,
        webhook_conn_id="gradient_webhook",
        databricks_hook_params={
            "retry_limit": 2,
            "retry_args": {"stop": stop_after_attempt(2), "wait": wait_fixed(0.01)},
        },
    )
    made = [d for d in webhook_sb.databricks.destinations if d["display_name"] == "Gradient"]
    assert len(made) == 1
    assert result["destination_id"] == made[0]["id"]
    assert result["job_updated"] is True
    assert [r.status for r in settled_requests(webhook_sb, "databricks", "POST", DEST)] == [
        503,
        409,
    ]
