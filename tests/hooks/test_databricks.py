"""NotificationDestinationsHook against the sandbox, over real sockets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from airflow_gradient.hooks.notification_destinations import (
    DestinationExistsError,
    NotificationDestinationsHook,
    _RedactedBody,
    public_destination,
)

from airflow_gradient.exceptions import DatabricksJobError, NotificationDestinationError
from airflow_gradient.sandbox import Sandbox
from tests.webhook.conftest import (
    SECRETS,
    TASK,
    WEBHOOK_PASSWORD,
    WEBHOOK_URL,
    WEBHOOK_USER,
    settled_requests,
)

DEST = "/api/2.0/notification-destinations"


def fast_hook(retry_limit: int = 1) -> NotificationDestinationsHook:
    from tenacity import stop_after_attempt, wait_fixed

    return NotificationDestinationsHook(
        retry_limit=retry_limit,
        retry_args={"stop": stop_after_attempt(retry_limit), "wait": wait_fixed(0.01)},
    )


def test_lists_every_page(sb: Sandbox, destinations: Callable[[int], list[str]]) -> None:
    ids = destinations(41)
    sb.clear_requests()
    listed = fast_hook().list_destinations()
    assert [d["id"] for d in listed] == ids
    assert all(set(d) == {"id", "display_name", "destination_type"} for d in listed)
    pages = settled_requests(sb, "databricks", "GET", DEST)
    assert len(pages) == 3
    assert "page_token" not in pages[0].query
    assert all("page_token" in p.query for p in pages[1:])


def test_get_destination_missing_is_none(sb: Sandbox) -> None:
    assert fast_hook().get_destination("no-such-id") is None
    assert fast_hook().get_destination("a/../b") is None  # quoted into one path segment


def test_create_twice_is_a_clear_conflict(sb: Sandbox) -> None:
    hook = fast_hook()
    hook.create_webhook_destination("Gradient", WEBHOOK_URL)
    with pytest.raises(DestinationExistsError, match="'Gradient' exists already"):
        hook.create_webhook_destination("Gradient", WEBHOOK_URL, password=WEBHOOK_PASSWORD)


def test_create_sends_only_what_is_set(sb: Sandbox) -> None:
    created = fast_hook().create_webhook_destination("Plain", "https://hooks.example/p")
    assert created["config"]["generic_webhook"] == {
        "url_set": True,
        "username_set": False,
        "password_set": False,
    }
    stored = next(d for d in sb.databricks.destinations if d["id"] == created["id"])
    assert stored["config"] == {"url": "https://hooks.example/p"}


def test_create_error_never_repeats_the_secrets(sb: Sandbox) -> None:
    echo = f"Invalid URL {WEBHOOK_URL} for user {WEBHOOK_USER} ({WEBHOOK_PASSWORD})"
    sb.faults.inject(
        "databricks",
        "POST",
        DEST,
        status=400,
        body={"error_code": "INVALID_PARAMETER_VALUE", "message": echo},
    )
    with pytest.raises(NotificationDestinationError) as err:
        fast_hook().create_webhook_destination(
            "Gradient", WEBHOOK_URL, username=WEBHOOK_USER, password=WEBHOOK_PASSWORD
        )
    text = str(err.value)
    assert "HTTP 400 INVALID_PARAMETER_VALUE" in text
    assert "workspace admin" in text
    for secret in SECRETS:
        assert secret not in text
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__


def test_public_destination_keeps_flags_only() -> None:
    reply = {
        "id": "1",
        "display_name": "G",
        "destination_type": "WEBHOOK",
        "config": {"generic_webhook": {"url": "https://x", "url_set": True, "password": "p"}},
        "unexpected": "value",
    }
    assert public_destination(reply) == {
        "id": "1",
        "display_name": "G",
        "destination_type": "WEBHOOK",
        "config": {"generic_webhook": {"url_set": True}},
    }


def test_request_body_prints_redacted_but_serializes_whole() -> None:
    body = _RedactedBody(
        display_name="G",
        config={"generic_webhook": {"url": WEBHOOK_URL, "username": WEBHOOK_USER}},
    )
    for text in (str(body), repr(body), "%s" % (body,)):  # noqa: UP031 - how loggers format
        assert "generic_webhook" in text
        for secret in SECRETS:
            assert secret not in text
    assert json.loads(json.dumps(body))["config"]["generic_webhook"]["username"] == WEBHOOK_USER


def test_debug_log_of_the_create_request_shows_no_secret(sb: Sandbox, tmp_path: Any) -> None:
    """The provider's hook logs payloads at DEBUG: run a create with DEBUG logs on."""
    script = textwrap.dedent(
        f"""
        import os
        from airflow_gradient.hooks.notification_destinations import NotificationDestinationsHook
        hook = NotificationDestinationsHook(retry_limit=1)
        hook.log.debug("debug is on")
        hook.create_webhook_destination(
            "Gradient", {WEBHOOK_URL!r}, username={WEBHOOK_USER!r}, password={WEBHOOK_PASSWORD!r}
        )
        """
    )
    env = {
        **os.environ,
        **sb.connections(),
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    if "debug is on" not in output:
        pytest.skip("DEBUG logs are not shown in this environment")
    assert "Initiating POST request" in output
    for secret in SECRETS:
        assert secret not in output


def test_job_notifications_read_first_page_only(sb: Sandbox) -> None:
    tasks = []
    for i in range(150):
        task = json.loads(json.dumps(TASK))
        task["task_key"] = f"t{i}"
        tasks.append(task)
    job_id = sb.databricks.create_job({"name": "big", "tasks": tasks})
    sb.clear_requests()
    assert fast_hook().get_job_webhook_notifications(job_id) == {}
    assert len(settled_requests(sb, "databricks", "GET", "/api/2.2/jobs/get")) == 1


def test_job_update_failure_is_clear(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "etl", "tasks": [TASK]})
    sb.faults.inject(
        "databricks",
        "POST",
        "/api/2.2/jobs/update",
        status=403,
        body={"error_code": "PERMISSION_DENIED", "message": "No CAN_MANAGE."},
    )
    with pytest.raises(DatabricksJobError, match=rf"job {job_id} failed \(HTTP 403 PERMISSION"):
        fast_hook().set_job_webhook_notifications(job_id, {"on_start": [{"id": "x"}]})


def test_lost_create_reply_then_conflict_reuses_the_destination(
    sb: Sandbox, make_job: Callable[..., int], run: Callable[..., Any]
) -> None:
    """A create whose reply is lost is retried, gets 409, and the task reuses what it made."""
    from tenacity import stop_after_attempt, wait_fixed

    job_id = make_job()
    sb.faults.inject("databricks", "POST", DEST, status=503, after=True)
    result, _ = run(
        job_id=job_id,
        webhook_conn_id="gradient_webhook",
        databricks_hook_params={
            "retry_limit": 2,
            "retry_args": {"stop": stop_after_attempt(2), "wait": wait_fixed(0.01)},
        },
    )
    made = [d for d in sb.databricks.destinations if d["display_name"] == "Gradient"]
    assert len(made) == 1
    assert result["destination_id"] == made[0]["id"]
    assert result["job_updated"] is True
    assert [r.status for r in settled_requests(sb, "databricks", "POST", DEST)] == [503, 409]
