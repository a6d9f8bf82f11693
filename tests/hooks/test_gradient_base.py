"""The transport's pure parts: credentials from a connection (URL forms, the plain-http
refusal), the token cache and reply, and the one reading of ``Retry-After`` (the hook tests
cover them over the wire)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest
from airflow.sdk import Connection

from airflow_gradient.exceptions import (
    GradientAuthError,
    GradientUnexpectedResponseError,
    InsecureConnectionError,
)
from airflow_gradient.hooks.gradient_base import (
    DEFAULT_API_URL,
    TOKEN_EXPIRY_MARGIN,
    GradientCredentials,
    Token,
    TokenCache,
    bounded_wait,
    credentials_from_connection,
    parse_expiry,
    parse_retry_after,
    token_from_result,
)

# --- credentials ----------------------------------------------------------------------------


def conn(
    host: str | None = None, *, extra: dict[str, object] | None = None, **kw: object
) -> Connection:
    return Connection(
        conn_id="gradient_test",
        conn_type="gradient",
        host=host,
        login=kw.pop("login", "key-id"),  # type: ignore[arg-type]
        password=kw.pop("password", "key-secret"),  # type: ignore[arg-type]
        extra=json.dumps(extra) if extra else None,
        **kw,  # type: ignore[arg-type]
    )


def test_empty_host_means_the_public_api() -> None:
    assert credentials_from_connection(conn()).base_url == DEFAULT_API_URL


@pytest.mark.parametrize(
    ("host", "kw", "expected"),
    [
        ("https://api.example.com/", {}, "https://api.example.com"),
        ("api.example.com", {}, "https://api.example.com"),
        ("127.0.0.1", {"schema": "http", "port": 8123}, "http://127.0.0.1:8123"),
        ("http://localhost:9000", {}, "http://localhost:9000"),
        ("http://[::1]:9000", {}, "http://[::1]:9000"),
    ],
)
def test_base_url_forms(host: str, kw: dict[str, object], expected: str) -> None:
    assert credentials_from_connection(conn(host, **kw)).base_url == expected


def test_plain_http_to_a_remote_host_is_refused_without_leaking_the_secret() -> None:
    with pytest.raises(InsecureConnectionError, match="allow_insecure_http") as err:
        credentials_from_connection(conn("http://gradient.internal.example:8080"))
    assert "key-secret" not in str(err.value)
    assert "gradient_test" in str(err.value)


def test_plain_http_allowed_by_explicit_extra() -> None:
    creds = credentials_from_connection(
        conn("http://gradient.internal.example", extra={"allow_insecure_http": True})
    )
    assert creds.base_url == "http://gradient.internal.example"


def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(GradientAuthError, match="API key ID"):
        credentials_from_connection(conn("https://api.example.com", password=None))


def test_token_cache_key_does_not_hold_the_secret() -> None:
    creds = credentials_from_connection(conn("https://api.example.com"))
    assert "key-secret" not in repr(creds.cache_key)


# --- the token cache ------------------------------------------------------------------------


KEY = GradientCredentials("https://g.example", "key-id", "key-secret").cache_key


def test_the_cache_key_holds_a_digest_not_the_secret() -> None:
    assert "key-secret" not in repr(KEY)
    other = GradientCredentials("https://g.example", "key-id", "other-secret").cache_key
    assert other != KEY


def test_a_token_is_not_served_within_the_expiry_margin() -> None:
    cache = TokenCache()
    cache.put(KEY, Token("t", expires_at=1000.0))
    assert cache.get(KEY, now=1000.0 - TOKEN_EXPIRY_MARGIN - 1) == "t"
    assert cache.get(KEY, now=1000.0 - TOKEN_EXPIRY_MARGIN) is None


def test_discard_keeps_a_newer_token_of_another_caller() -> None:
    cache = TokenCache()
    cache.put(KEY, Token("new", expires_at=time.time() + 600))
    cache.discard(KEY, "old")
    assert cache.get(KEY, time.time()) == "new"
    cache.discard(KEY, "new")
    assert cache.get(KEY, time.time()) is None


def test_expiry_is_read_as_utc_and_defaults_to_five_minutes() -> None:
    assert parse_expiry("2026-01-01T00:00:00Z") == parse_expiry("2026-01-01T00:00:00+00:00")
    assert parse_expiry("2026-01-01T00:00:00") == parse_expiry("2026-01-01T00:00:00Z")
    before = time.time()
    assert before + 299 <= parse_expiry("soon") <= time.time() + 301
    assert before + 299 <= parse_expiry(None) <= time.time() + 301


@pytest.mark.parametrize("result", [None, [], {}, {"access_token": ""}, {"access_token": 5}])
def test_a_reply_without_a_token_names_the_connection(result: Any) -> None:
    with pytest.raises(GradientUnexpectedResponseError, match="'gradient_x' has no access_token"):
        token_from_result(result, "gradient_x")


def test_a_token_reply_is_read() -> None:
    token = token_from_result(
        {"access_token": "abc", "expires_at_utc": "2030-01-01T00:00:00Z"}, "gradient_x"
    )
    assert token == Token("abc", parse_expiry("2030-01-01T00:00:00Z"))


# --- Retry-After and the wait ---------------------------------------------------------------


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
