"""GradientDatabricksHook against the sandbox, over real sockets: jobs, notification
destinations, the one error mapping, and the retry log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import MutableMapping
from typing import Any

import pytest
import requests
from tenacity import stop_after_attempt, wait_fixed

from airflow_gradient.exceptions import (
    DatabricksJobError,
    DestinationExistsError,
    NotificationDestinationError,
)
from airflow_gradient.hooks.databricks import (
    DatabricksFailure,
    GradientDatabricksHook,
    RedactedBody,
    public_destination,
    read_paged_job,
)
from airflow_gradient.sandbox import Sandbox
from tests.hooks.conftest import logged_text, retry_lines
from tests.operators.webhook_support import (
    SECRETS,
    TASK,
    WEBHOOK_PASSWORD,
    WEBHOOK_URL,
    WEBHOOK_USER,
    settled_requests,
)

DEST = "/api/2.0/notification-destinations"


def fast_hook(retry_limit: int = 1) -> GradientDatabricksHook:
    return GradientDatabricksHook(
        retry_limit=retry_limit,
        retry_args={"stop": stop_after_attempt(retry_limit), "wait": wait_fixed(0.01)},
    )


def destination_ids(sb: Sandbox) -> list[str]:
    return [str(d["id"]) for d in sb.databricks.destinations]


def test_lists_every_page(sb: Sandbox) -> None:
    for i in range(41 - len(destination_ids(sb))):
        sb.databricks.create_destination(f"Extra {i}", f"https://hooks.example/{i}")
    ids = destination_ids(sb)
    assert len(ids) == 41
    sb.clear_requests()
    listed = list(fast_hook().iter_destinations())
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
    hook.create_webhook_destination("Twice", WEBHOOK_URL)
    with pytest.raises(DestinationExistsError, match="'Twice' exists already"):
        hook.create_webhook_destination("Twice", WEBHOOK_URL, password=WEBHOOK_PASSWORD)


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
    body = RedactedBody(
        display_name="G",
        config={"generic_webhook": {"url": WEBHOOK_URL, "username": WEBHOOK_USER}},
    )
    for text in (str(body), repr(body), "%s" % (body,)):  # noqa: UP031 - how loggers format
        assert "generic_webhook" in text
        for secret in SECRETS:
            assert secret not in text
    assert json.loads(json.dumps(body))["config"]["generic_webhook"]["username"] == WEBHOOK_USER


def test_debug_log_of_the_create_request_shows_no_secret(sb: Sandbox, tmp_path: Any) -> None:
    """The provider's hook logs payloads at DEBUG: run a create with Airflow's logging (its
    secrets masker included) forced to DEBUG, check the payload line was logged, then that it
    shows no secret."""
    script = textwrap.dedent(
        f"""
        from airflow.sdk.log import configure_logging
        configure_logging(log_level="DEBUG")
        from airflow_gradient.hooks.databricks import GradientDatabricksHook
        hook = GradientDatabricksHook(retry_limit=1)
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
    assert "debug is on" in output, output
    [payload] = [line for line in output.splitlines() if "Initiating POST request" in line]
    assert "notification-destinations" in payload
    assert "'generic_webhook': '<redacted>'" in payload  # the body was printed, redacted
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
    with pytest.raises(
        DatabricksJobError,
        match=rf"job {job_id}: POST /api/2.2/jobs/update failed \(HTTP 403 PERMISSION",
    ):
        fast_hook().set_job_webhook_notifications(job_id, {"on_start": [{"id": "x"}]})


# --- jobs and the one error mapping -------------------------------------------------------------


def test_unknown_job_says_it_does_not_exist(sb: Sandbox) -> None:
    with pytest.raises(DatabricksJobError, match=r"Databricks job 424242 does not exist \(HTTP"):
        fast_hook().get_job(424242)


def test_update_job_is_the_providers_call_with_failures_mapped(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "etl", "tasks": [TASK]})
    fast_hook().update_job(job_id, {"name": "renamed"})
    assert sb.databricks.get_job(job_id)["settings"]["name"] == "renamed"
    assert sb.databricks.get_job(job_id)["settings"]["tasks"][0]["task_key"] == "ingest"
    sb.faults.inject("databricks", "POST", "/api/2.2/jobs/update", status=400)
    with pytest.raises(DatabricksJobError, match=rf"job {job_id}: POST /api/2.2/jobs/update"):
        fast_hook().update_job(job_id, {"name": "again"})


def test_destination_list_out_of_retries_is_a_destination_error(sb: Sandbox) -> None:
    sb.faults.inject("databricks", "GET", DEST, status=503, times=5)
    with pytest.raises(NotificationDestinationError, match="failed 2 times") as err:
        list(fast_hook(retry_limit=2).iter_destinations())
    assert "Databricks notification destinations: GET /api/2.0/notification-destinations" in str(
        err.value
    )


# --- every retry is logged at WARNING: attempt, reason, wait; never a secret -------------------


def databricks_token(sb: Sandbox) -> str:
    return str(json.loads(sb.connections()["AIRFLOW_CONN_DATABRICKS_DEFAULT"])["password"])


def test_each_retry_is_logged_with_attempt_status_and_wait(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    job_id = sb.databricks.create_job({"name": "etl", "tasks": [TASK]})
    sb.faults.inject("databricks", "GET", "/api/2.2/jobs/get", status=503, times=2)
    assert fast_hook(retry_limit=3).get_job(job_id)["job_id"] == job_id
    assert retry_lines(logged) == [
        f"Databricks GET /api/2.2/jobs/get failed on attempt {n} (HTTP 503 "
        "TEMPORARILY_UNAVAILABLE); retrying in 0.01 s"
        for n in (1, 2)
    ]
    assert databricks_token(sb) not in logged_text(logged)


def test_the_logged_wait_is_the_retry_after_asked_for(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    hook = GradientDatabricksHook(
        retry_limit=3,
        max_retry_after=0.3,
        retry_args={"stop": stop_after_attempt(3), "wait": wait_fixed(0.01)},
    )
    sb.faults.inject("databricks", "GET", DEST, status=429, retry_after=0.2)
    sb.faults.inject("databricks", "GET", DEST, status=429, retry_after=30)
    list(hook.iter_destinations())
    lines = retry_lines(logged)
    assert [line.rsplit(" ", 2)[1] for line in lines] == ["0.20", "0.30"]  # the second capped
    assert all("(HTTP 429 REQUEST_LIMIT_EXCEEDED)" in line for line in lines)


@pytest.mark.parametrize(
    ("retry_after", "logged_wait"),
    [("nan", "0.01"), ("-3", "0.01"), ("text", "0.01"), ("0.2", "0.20")],
)
def test_retry_after_garbage_keeps_the_provider_back_off(
    sb: Sandbox, logged: list[MutableMapping[str, Any]], retry_after: str, logged_wait: str
) -> None:
    sb.faults.inject("databricks", "GET", DEST, status=503, retry_after=retry_after)
    list(fast_hook(retry_limit=2).iter_destinations())
    [line] = retry_lines(logged)
    assert line.rsplit(" ", 2)[1] == logged_wait


def test_an_http_date_retry_after_is_honoured_by_the_databricks_hook(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    from email.utils import formatdate

    when = formatdate(time.time() + 3, usegmt=True)
    sb.faults.inject("databricks", "GET", DEST, status=429, retry_after=when)
    list(fast_hook(retry_limit=2).iter_destinations())
    [line] = retry_lines(logged)
    assert 1.5 <= float(line.rsplit(" ", 2)[1]) <= 3.0


def test_a_dropped_connection_is_logged_with_the_error_type(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    sb.faults.inject("databricks", "GET", DEST, drop_connection=True)
    list(fast_hook(retry_limit=2).iter_destinations())
    [line] = retry_lines(logged)
    assert line == (
        "Databricks GET /api/2.0/notification-destinations failed on attempt 1 "
        "(ConnectionError); retrying in 0.01 s"
    )


def test_a_create_retry_is_logged_without_the_webhook_secrets(
    sb: Sandbox, logged: list[MutableMapping[str, Any]]
) -> None:
    sb.faults.inject("databricks", "POST", DEST, status=500)
    fast_hook(retry_limit=2).create_webhook_destination(
        "Logged", WEBHOOK_URL, username=WEBHOOK_USER, password=WEBHOOK_PASSWORD
    )
    [line] = retry_lines(logged)
    assert line.startswith(f"Databricks POST {DEST} failed on attempt 1 (HTTP 500")
    for secret in (*SECRETS, databricks_token(sb)):
        assert secret not in logged_text(logged)


def test_a_before_sleep_of_the_users_retry_args_still_runs(sb: Sandbox) -> None:
    seen: list[int] = []
    hook = GradientDatabricksHook(
        retry_limit=2,
        retry_args={
            "stop": stop_after_attempt(2),
            "wait": wait_fixed(0.01),
            "before_sleep": lambda state: seen.append(state.attempt_number),
        },
    )
    sb.faults.inject("databricks", "GET", DEST, status=503)
    list(hook.iter_destinations())
    assert seen == [1]


# --- pure parts: what a failed request tells, and joining the pages of jobs/get ---------------


def _http_error(status: int, body: bytes, url: str) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.request = requests.Request("GET", url).prepare()
    return requests.HTTPError(response=response)


def test_reason_and_request_of_an_http_error_leave_out_body_and_query() -> None:
    err = _http_error(
        503,
        b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "secret-in-message"}',
        "https://db.example/api/2.2/jobs/get?job_id=5&page_token=tok",
    )
    assert DatabricksFailure.of(err).reason == "HTTP 503 TEMPORARILY_UNAVAILABLE"
    assert DatabricksFailure.of(err).request == "GET /api/2.2/jobs/get"


def test_reason_of_a_reply_that_is_not_json_is_the_status() -> None:
    err = _http_error(502, b"<html>bad gateway</html>", "https://db.example/api/x")
    assert DatabricksFailure.of(err).reason == "HTTP 502"


def test_reason_without_a_reply_is_the_error_type() -> None:
    err = requests.ConnectionError("connection refused to https://db.example")
    assert DatabricksFailure.of(err).reason == "ConnectionError"
    assert DatabricksFailure.of(err).request == "API request"


def pages_of(tasks: list[dict[str, Any]], clusters: list[dict[str, Any]], size: int = 100):
    pages = []
    n = max(len(tasks), len(clusters))
    for i, start in enumerate(range(0, max(n, 1), size)):
        page: dict[str, Any] = {
            "job_id": 7,
            "settings": {"tasks": tasks[start : start + size]},
        }
        if clusters[start : start + size]:
            page["settings"]["job_clusters"] = clusters[start : start + size]
        if i == 0:
            page["settings"]["name"] = "big"
        if start + size < n:
            page["next_page_token"] = f"t{i + 1}"
        pages.append(page)
    return pages


def test_joins_every_page_in_order() -> None:
    tasks = [{"task_key": f"t{i}"} for i in range(250)]
    clusters = [{"job_cluster_key": f"c{i}"} for i in range(120)]
    pages = pages_of(tasks, clusters)
    seen: list[str | None] = []

    def fetch(token: str | None) -> dict[str, Any]:
        seen.append(token)
        return pages[0 if token is None else int(token[1:])]

    job = read_paged_job(fetch, 7)
    assert seen == [None, "t1", "t2"]
    assert job["settings"]["tasks"] == tasks
    assert job["settings"]["job_clusters"] == clusters
    assert job["settings"]["name"] == "big"
    assert "next_page_token" not in job


def test_a_server_that_never_stops_paging_is_cut_off() -> None:
    def fetch(token: str | None) -> dict[str, Any]:
        return {"job_id": 7, "settings": {"tasks": [{"task_key": "x"}]}, "next_page_token": "again"}

    with pytest.raises(DatabricksJobError, match="job 7"):
        read_paged_job(fetch, 7)
