"""The token cache and the token reply (pure; test_gradient.py covers the wire)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_gradient.exceptions import GradientUnexpectedResponseError
from airflow_gradient.hooks._credentials import GradientCredentials
from airflow_gradient.hooks._token import (
    TOKEN_EXPIRY_MARGIN,
    Token,
    TokenCache,
    parse_expiry,
    token_from_result,
)

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
