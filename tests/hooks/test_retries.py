"""Retry helpers shared by both hooks (pure; the hook tests cover them over the wire)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_gradient.hooks._retries import (
    http_failure_reason,
    http_request_name,
    retry_after_seconds,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("2", 2.0),
        ("0.5", 0.5),
        ("0", 0.0),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        (3, 3.0),
    ],
)
def test_retry_after_in_seconds_only(value: Any, expected: float | None) -> None:
    assert retry_after_seconds(value) == expected


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
    assert http_failure_reason(err) == "HTTP 503 TEMPORARILY_UNAVAILABLE"
    assert http_request_name(err) == "GET /api/2.2/jobs/get"


def test_reason_of_a_reply_that_is_not_json_is_the_status() -> None:
    err = _http_error(502, b"<html>bad gateway</html>", "https://db.example/api/x")
    assert http_failure_reason(err) == "HTTP 502"


def test_reason_without_a_reply_is_the_error_type() -> None:
    err = requests.ConnectionError("connection refused to https://db.example")
    assert http_failure_reason(err) == "ConnectionError"
    assert http_request_name(err) == "API request"
    assert http_failure_reason(None) == "no error"
