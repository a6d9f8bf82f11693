"""The async HTTP client of the Gradient hook (triggers): an ``aiohttp`` session.

Why not ``httpx.AsyncClient`` like the sync side: in a triggerer polling for hundreds of
deferred sensors, the event loop's CPU per poll is what limits how many fit, and httpx's async
stack (httpcore's pool, which rescans every connection each time a request starts or ends, and
anyio's socket wrappers) cost several milliseconds per poll there against well under one for
aiohttp, the client the databricks provider's triggers use (a dependency of that provider,
declared by this package too). The sync hook keeps httpx.

The session is shaped by the same :class:`~airflow_gradient.hooks._clients.ClientOptions` and
:func:`~airflow_gradient.hooks._network.network_settings` as the sync client, so the network
extras mean the same on both paths: the CA bundle or ``verify`` (the same SSL context object as
the sync client's, so the same trusted CAs), the ``proxy`` extra (its credentials sent as
``Proxy-Authorization``), and without it the ``HTTPS_PROXY``/``NO_PROXY`` environment.
"""

from __future__ import annotations

import functools
import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

    from airflow_gradient.hooks._clients import ClientOptions


@dataclass(frozen=True)
class Reply:
    """A whole reply, read: what :func:`~airflow_gradient.hooks._replies.reply_result` needs."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` if it is not."""
        return jsonlib.loads(self.content)


class AsyncClient:
    """One ``aiohttp.ClientSession`` with its connection pool; built inside a running loop."""

    def __init__(self, options: ClientOptions) -> None:
        import aiohttp

        from airflow_gradient.hooks._network import network_settings

        settings = network_settings(
            verify=options.verify, proxy=options.proxy, base_url=options.base_url
        )
        self._proxy: str | None = None
        self._proxy_auth: aiohttp.BasicAuth | None = None
        proxy_url = options.proxy or environment_proxy(options.base_url)
        if proxy_url:
            from urllib.parse import unquote, urlsplit

            proxy = urlsplit(proxy_url)
            if proxy.username is not None:
                self._proxy_auth = aiohttp.BasicAuth(
                    unquote(proxy.username), unquote(proxy.password or "")
                )
                proxy = proxy._replace(netloc=proxy.netloc.rpartition("@")[2])
            self._proxy = proxy.geturl()
        connector = aiohttp.TCPConnector(
            limit=options.max_connections,
            ssl=settings["verify"],  # False, or an SSL context (shared, or the CA bundle's)
            # Below the idle timeouts of common load balancers (60 s and up), so that a kept
            # connection is not reused just as the server side closes it.
            keepalive_timeout=30.0,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=settings["headers"],
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=options.timeout,
                sock_connect=options.timeout,
                sock_read=options.timeout,
            ),
            # The environment is read once, above: aiohttp's trust_env would read it (and
            # ~/.netrc) again in a worker thread for every request, two thread hops per poll.
            trust_env=False,
            auto_decompress=True,
        )

    @property
    def is_closed(self) -> bool:
        return self._session.closed

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str],
    ) -> Reply:
        """Send one request and read the whole reply. Raises :data:`TRANSPORT_ERRORS` when
        no reply came (connect, read, write failed or timed out)."""
        query = None if params is None else {k: str(v) for k, v in params.items()}
        async with self._session.request(
            method,
            url,
            params=query,
            json=json,
            headers=headers,
            proxy=self._proxy,
            proxy_auth=self._proxy_auth,
            allow_redirects=False,
        ) as response:
            content = await response.read()
            return Reply(response.status, response.headers, content)

    async def aclose(self) -> None:
        await self._session.close()


def environment_proxy(base_url: str) -> str | None:
    """The proxy the standard variables give for ``base_url`` (``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY``; none if ``NO_PROXY`` names its host), as httpx reads them."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    url = urlsplit(base_url)
    if not url.hostname or proxy_bypass(url.hostname):
        return None
    proxies = getproxies()
    return proxies.get(url.scheme) or proxies.get("all") or None


@functools.cache
def transport_errors() -> tuple[type[Exception], ...]:
    """What :meth:`AsyncClient.request` raises when no reply came: aiohttp's client errors and
    timeouts."""
    import aiohttp

    return (aiohttp.ClientError, TimeoutError)
