"""Reading credentials from a ``gradient`` connection: URL forms and the plain-http refusal."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import Connection

from airflow_gradient.exceptions import GradientAuthError, InsecureConnectionError
from airflow_gradient.hooks._credentials import DEFAULT_API_URL, credentials_from_connection


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
