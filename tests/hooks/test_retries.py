"""Retry helpers shared by both hooks (pure; the hook tests cover them over the wire)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import requests

from airflow_gradient.hooks._retries import http_failure_reason, http_request_name
from airflow_gradient.hooks._retry_after import bounded_wait, parse_retry_after

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 GMT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, None),  # a boolean is not a number of seconds (True is not 1.0)
        (False, None),
        ("", None),
        ("2", 2.0),
        (" 0.5 ", 0.5),
        ("0", 0.0),
        (3, 3.0),
        ("-1", 0.0),  # negative: retry now
        (-7.5, 0.0),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-inf", None),
        (float("nan"), None),
        ("soon", None),
        ("Fri, 15 Jan 2027 08:00:02 GMT", 2.0),  # HTTP-date two seconds ahead
        ("Fri, 15 Jan 2027 07:00:00 GMT", 0.0),  # in the past: retry now
        ("Fri, 15 Jan 2027 08:00:02", None),  # no zone: not an HTTP-date
        ("Fri, 99 Foo 2027 08:00:02 GMT", None),
    ],
)
def test_every_form_of_retry_after_has_one_reading(value: Any, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("asked", "backoff", "cap", "remaining", "expected"),
    [
        (2.0, 9.0, 30.0, None, 2.0),  # the server's wait replaces the back-off
        (None, 9.0, 30.0, None, 9.0),
        (60.0, 1.0, 30.0, None, 30.0),  # capped by max_retry_after
        (20.0, 1.0, 30.0, 5.0, 5.0),  # capped by the deadline
        (0.0, 1.0, 30.0, None, 0.0),  # retry now
        (None, float("inf"), 30.0, None, 30.0),
        (None, float("nan"), 30.0, None, 0.0),
        (5.0, 1.0, 30.0, -3.0, 0.0),  # deadline already past: never negative
        (None, -4.0, 30.0, None, 0.0),
    ],
)
def test_the_wait_is_finite_non_negative_and_capped(
    asked: float | None, backoff: float, cap: float, remaining: float | None, expected: float
) -> None:
    wait = bounded_wait(asked, backoff, max_retry_after=cap, remaining=remaining)
    assert wait == expected
    assert math.isfinite(wait) and wait >= 0


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
