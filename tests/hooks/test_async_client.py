"""The async side of GradientHook (aiohttp, as triggers use it) over real sockets: shared
connection lookups, transport failures, timeouts, bad bodies, and no leaked socket."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from typing import Any

import pytest

from airflow_gradient.exceptions import (
    GradientApiError,
    GradientTransportError,
    GradientUnexpectedResponseError,
)
from airflow_gradient.hooks.gradient import GradientHook
from airflow_gradient.hooks.gradient_base import ASYNC_CLIENTS
from airflow_gradient.sandbox import Sandbox

PRODUCTS = "/v1/projects/products"


def hook(conn_id: str = "gradient_default", **kwargs: float) -> GradientHook:
    params = {"retry_delay": 0.01, "timeout": 2.0, **kwargs}
    return GradientHook(conn_id, **params)  # type: ignore[arg-type]


async def products(h: GradientHook) -> Any:
    try:
        return await h._acall("GET", PRODUCTS)
    finally:
        await h.aclose()


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every async connection lookup the hook makes (the real lookup still runs)."""
    import airflow.providers.common.compat.connection as compat

    seen: list[str] = []
    real = compat.get_async_connection

    async def counted(conn_id: str) -> Any:
        seen.append(conn_id)
        await asyncio.sleep(0.05)  # still out when the other hooks ask
        return await real(conn_id)

    monkeypatch.setattr(compat, "get_async_connection", counted)
    return seen


async def test_hooks_asking_at_once_share_one_connection_lookup(
    sb: Sandbox, lookups: list[str]
) -> None:
    results = await asyncio.gather(*(products(hook()) for _ in range(50)))
    assert all(r == ["aws-databricks", "azure-databricks"] for r in results)
    assert lookups == ["gradient_default"]
    # Nothing is kept once the lookup is over: a later hook reads the connection afresh.
    await products(hook())
    assert lookups == ["gradient_default", "gradient_default"]


async def test_a_failed_shared_lookup_fails_every_waiter_by_name(
    sb: Sandbox, lookups: list[str]
) -> None:
    results = await asyncio.gather(
        *(products(hook("gradient_missing")) for _ in range(5)), return_exceptions=True
    )
    assert lookups == ["gradient_missing"]
    assert all(isinstance(r, Exception) and "gradient_missing" in str(r) for r in results)


async def test_a_cancelled_waiter_leaves_the_shared_lookup_to_the_others(
    sb: Sandbox, lookups: list[str]
) -> None:
    first = asyncio.create_task(products(hook()))
    others = [asyncio.create_task(products(hook())) for _ in range(3)]
    await asyncio.sleep(0.01)
    first.cancel()
    assert await asyncio.gather(*others) == [["aws-databricks", "azure-databricks"]] * 3
    with pytest.raises(asyncio.CancelledError):
        await first
    assert lookups == ["gradient_default"]


async def test_no_listener_is_a_transport_error_naming_the_call(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    conn = {**sb.connection_json("gradient"), "host": f"http://127.0.0.1:{port}"}
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", json.dumps(conn))
    with pytest.raises(GradientTransportError, match="POST /v1/auth/token could not be reached"):
        await products(hook(retry_limit=2))


async def test_a_dropped_connection_is_retried_then_answered(sb: Sandbox) -> None:
    await products(hook())  # token cached
    sb.faults.inject("gradient", "GET", PRODUCTS, drop_connection=True)
    sb.clear_requests()
    assert await products(hook()) == ["aws-databricks", "azure-databricks"]
    assert [r.status for r in sb.requests if r.path == PRODUCTS] == [0, 200]


async def test_a_reply_slower_than_the_timeout_is_a_transport_error(sb: Sandbox) -> None:
    await products(hook())
    sb.faults.inject("gradient", "GET", PRODUCTS, delay=1.0)
    with pytest.raises(GradientTransportError, match="could not be reached"):
        await products(hook(timeout=0.3, retry_limit=1))


async def test_a_non_json_reply_is_named_with_its_content_type(sb: Sandbox) -> None:
    await products(hook())
    sb.faults.inject("gradient", "GET", PRODUCTS, status=200, body="<html>proxy login</html>")
    with pytest.raises(GradientUnexpectedResponseError, match=r"non-JSON body \(text/html"):
        await products(hook())


def test_errors_and_cancels_leave_no_open_socket(sb: Sandbox) -> None:
    async def mixed() -> None:
        sb.faults.inject("gradient", "GET", PRODUCTS, delay=1.0)
        slow = asyncio.create_task(products(hook(timeout=5.0)))
        ok = await products(hook())
        await asyncio.sleep(0.1)
        slow.cancel()  # mid-request, as the triggerer cancels a trigger
        await asyncio.gather(slow, return_exceptions=True)
        assert ok and ASYNC_CLIENTS.open_clients() == []

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unclosed session, connector or socket raises here
        asyncio.run(mixed())
        gc.collect()


async def test_retries_stop_at_the_retry_limit_counting_the_first_attempt(sb: Sandbox) -> None:
    await products(hook())
    sb.faults.inject("gradient", "GET", PRODUCTS, status=503, times=3)
    sb.clear_requests()
    with pytest.raises(GradientApiError, match="HTTP 503"):
        await products(hook(retry_limit=3))
    assert [r.status for r in sb.requests if r.path == PRODUCTS] == [503, 503, 503]
    assert await products(hook()) == ["aws-databricks", "azure-databricks"]
