"""Enterprise networks and the User-Agent, over real sockets: a private CA, ``verify: false``,
a proxy from the connection or from ``HTTPS_PROXY``/``NO_PROXY``, and the Databricks side on
the databricks provider's own ``proxies`` extra."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient import __version__
from airflow_gradient.exceptions import GradientTransportError, InsecureConnectionError
from airflow_gradient.hooks.databricks import GradientDatabricksHook
from airflow_gradient.hooks.gradient import GradientHook
from airflow_gradient.sandbox import Sandbox
from tests.hooks.network import PrivateCa, Proxy, TlsFront

PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the proxy variables it is about; none leak in from the machine."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def ca(tmp_path: Path) -> PrivateCa:
    return PrivateCa(tmp_path)


@pytest.fixture
def front(sb: Sandbox, ca: PrivateCa) -> Iterator[TlsFront]:
    """The sandbox's Gradient API behind TLS signed by the private CA."""
    port = int(sb.gradient_url.rsplit(":", 1)[1].split("/")[0])
    with TlsFront(ca, port) as server:
        yield server


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with Proxy() as server:
        yield server


def gradient_connection(
    monkeypatch: pytest.MonkeyPatch, sb: Sandbox, host: str, **extra: Any
) -> None:
    conn = {**sb.connection_json("gradient"), "host": host, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", json.dumps(conn))


def hook() -> GradientHook:
    return GradientHook(retry_limit=1, timeout=5.0)


def _products_async() -> Any:
    async def call() -> Any:
        h = hook()
        try:
            return await h._acall("GET", "/v1/projects/products")
        finally:
            await h.aclose()

    return asyncio.run(call())


@pytest.fixture(params=["sync", "async"])
def products(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """``GET /v1/projects/products`` through the sync hook (httpx) or the async one (aiohttp,
    as triggers use it): the network extras must mean the same on both."""
    if request.param == "sync":
        return lambda: hook().get_products()
    return _products_async


def test_a_private_ca_bundle_is_trusted(
    products: Callable[[], Any],
    sb: Sandbox,
    front: TlsFront,
    ca: PrivateCa,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gradient_connection(monkeypatch, sb, front.url, ca_bundle=str(ca.ca_cert))
    assert products() == ["aws-databricks", "azure-databricks"]


def test_without_the_ca_bundle_the_private_certificate_is_refused(
    products: Callable[[], Any], sb: Sandbox, front: TlsFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    gradient_connection(monkeypatch, sb, front.url)
    # httpx: ConnectError; aiohttp: ClientConnectorCertificateError
    with pytest.raises(GradientTransportError, match=r"could not be reached: .*(Connect|Certif)"):
        products()
    assert sb.requests == []


def test_verify_false_works_and_warns_loudly(
    products: Callable[[], Any],
    sb: Sandbox,
    front: TlsFront,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gradient_connection(monkeypatch, sb, front.url, verify=False)
    with caplog.at_level(logging.WARNING):
        assert products()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("TLS certificate verification is OFF" in w and front.url in w for w in warnings)


def test_a_ca_bundle_that_is_not_a_file_is_refused_by_name(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gradient_connection(monkeypatch, sb, sb.gradient_url, ca_bundle=str(tmp_path / "nope.pem"))
    with pytest.raises(InsecureConnectionError, match=r"nope\.pem.*not a file"):
        hook().get_products()


def test_the_proxy_extra_tunnels_https_through_the_proxy(
    products: Callable[[], Any],
    sb: Sandbox,
    front: TlsFront,
    *,
    ca: PrivateCa,
    proxy: Proxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gradient_connection(
        monkeypatch,
        sb,
        front.url,
        ca_bundle=str(ca.ca_cert),
        proxy=f"http://proxyuser:proxy-pass-7@127.0.0.1:{proxy.port}",
    )
    assert products()
    assert proxy.seen == [f"CONNECT 127.0.0.1:{front.port}"]
    assert proxy.auth[0] is not None and proxy.auth[0].startswith("Basic ")


def test_https_proxy_and_no_proxy_from_the_environment(
    products: Callable[[], Any],
    sb: Sandbox,
    front: TlsFront,
    *,
    ca: PrivateCa,
    proxy: Proxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gradient_connection(monkeypatch, sb, front.url, ca_bundle=str(ca.ca_cert))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    assert products()
    assert proxy.seen == [f"CONNECT 127.0.0.1:{front.port}"]

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert products()
    assert len(proxy.seen) == 1, "NO_PROXY names the host: no tunnel"


def test_a_proxy_extra_that_is_not_a_url_is_refused_without_its_password(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    gradient_connection(monkeypatch, sb, sb.gradient_url, proxy="socks9://u:hunter2@corp:1")
    with pytest.raises(InsecureConnectionError, match="not an http") as err:
        hook().get_products()
    assert "hunter2" not in str(err.value)


def test_the_databricks_side_keeps_the_provider_proxies_extra(
    sb: Sandbox, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {
        **sb.connection_json("databricks"),
        "extra": {"proxies": {"http": f"http://127.0.0.1:{proxy.port}"}},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_DEFAULT", json.dumps(conn))
    job_id = sb.databricks.create_job({"name": "via proxy", "tasks": []})
    assert GradientDatabricksHook(retry_limit=1).get_job(job_id)["job_id"] == job_id
    assert any("/api/2.2/jobs/get" in line for line in proxy.seen)


def test_both_hooks_send_the_airflow_gradient_user_agent(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "ua", "tasks": []})
    GradientHook(retry_limit=1).get_products()
    GradientDatabricksHook(retry_limit=1).get_job(job_id)

    agents = {(r.service, r.user_agent) for r in sb.requests}
    ours = f"airflow-gradient/{__version__}"
    assert {agent for service, agent in agents if service == "gradient"} == {ours}
    [databricks] = [agent for service, agent in agents if service == "databricks"]
    assert databricks is not None
    assert databricks.startswith("databricks-airflow/") and databricks.endswith(f" {ours}")
