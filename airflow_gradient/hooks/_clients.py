"""HTTP clients of the Gradient hook: one constructor, and one shared async client per event
loop and client key.

Every client the hook uses is built from :class:`ClientOptions` (the sync ``httpx`` client by
:func:`build_client`, the async ``aiohttp`` one by
:class:`~airflow_gradient.hooks._async_client.AsyncClient`), so everything that shapes a client
(timeouts, pool size, TLS and proxy settings) is in one place and in the key of the shared
clients.

Triggers share async clients: hundreds of deferred sensors in one triggerer use one
connection pool and one SSL context per credential instead of one each. A hook leases the
client (:meth:`SharedAsyncClients.lease`) and returns it (:meth:`SharedAsyncClients.release`);
the last one out closes it, so a cancelled or finished trigger leaves no open socket behind.
Clients are kept per event loop (weakly): a loop that closes takes its clients with it, and a
new loop gets new ones.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    import httpx

    from airflow_gradient.hooks._async_client import AsyncClient


@dataclass(frozen=True)
class ClientOptions:
    """Everything that shapes an HTTP client; hashable, part of the shared-client key."""

    timeout: float
    #: Connections open at most, all kept open between requests, so that a shared client
    #: polling for hundreds of triggers reuses them instead of reconnecting after each wave of
    #: polls. Triggers started together poll together: 1,000 polls at 50 ms of latency drain
    #: through 100 connections in 0.5 s (through 50, in 1 s, late for a 2 s interval).
    max_connections: int = 100
    #: The connection's network extras (see :mod:`airflow_gradient.hooks._network`).
    verify: bool | str = True
    proxy: str | None = field(default=None, repr=False)
    base_url: str = ""

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the sync ``httpx.Client``."""
        import httpx

        limits = httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_connections,
        )
        from airflow_gradient.hooks._network import network_settings

        return {
            "timeout": httpx.Timeout(self.timeout),
            "limits": limits,
            "follow_redirects": False,
            **network_settings(verify=self.verify, proxy=self.proxy, base_url=self.base_url),
        }


@overload
def build_client(options: ClientOptions, *, asynchronous: Literal[False]) -> httpx.Client: ...
@overload
def build_client(options: ClientOptions, *, asynchronous: Literal[True]) -> AsyncClient: ...
def build_client(options: ClientOptions, *, asynchronous: bool) -> httpx.Client | AsyncClient:
    """The one constructor of the hook's HTTP clients: sync (httpx) or async (aiohttp, built
    inside the running loop)."""
    if asynchronous:
        from airflow_gradient.hooks._async_client import AsyncClient

        return AsyncClient(options)
    import httpx

    return httpx.Client(**options.client_kwargs())


#: A shared client's key: the credential's cache key and the options the client is built from.
ClientKey = tuple[tuple[str, str, str], ClientOptions]


@dataclass
class _Shared:
    client: AsyncClient
    users: int = 0


@dataclass(frozen=True)
class Lease:
    """One hook's use of a shared client: give it back with :meth:`SharedAsyncClients.release`."""

    loop: asyncio.AbstractEventLoop
    key: ClientKey
    client: AsyncClient = field(compare=False)


class SharedAsyncClients:
    """Async clients shared per event loop and :data:`ClientKey`, counted by their users."""

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[ClientKey, _Shared]
        ] = weakref.WeakKeyDictionary()

    def lease(self, key: ClientKey) -> Lease:
        """The running loop's client for ``key`` (built on first use), one more user counted."""
        loop = asyncio.get_running_loop()
        clients = self._loops.setdefault(loop, {})
        shared = clients.get(key)
        if shared is None or shared.client.is_closed:
            shared = clients[key] = _Shared(build_client(key[1], asynchronous=True))
        shared.users += 1
        return Lease(loop, key, shared.client)

    async def release(self, lease: Lease) -> None:
        """One user fewer; the last one closes the client (also when its task is cancelled)."""
        clients = self._loops.get(lease.loop, {})
        shared = clients.get(lease.key)
        if shared is None or shared.client is not lease.client:
            return
        shared.users -= 1
        if shared.users > 0:
            return
        del clients[lease.key]
        if lease.loop.is_closed():
            return
        # A cancelled trigger can be cancelled again while it closes, and asyncio.run cancels
        # every task on exit (the closing one too): finish closing the pool, then let the
        # cancellation go on.
        client = lease.client
        closing = asyncio.ensure_future(client.aclose())
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            if closing.cancelled() or not client.is_closed:
                await client.aclose()
            else:
                await closing
            raise

    def open_clients(self) -> list[AsyncClient]:
        """The running loop's shared clients (for tests and benchmarks)."""
        return [s.client for s in self._loops.get(asyncio.get_running_loop(), {}).values()]


ASYNC_CLIENTS = SharedAsyncClients()
