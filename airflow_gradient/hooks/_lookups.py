"""Async connection lookups of the Gradient hook, shared while in flight.

A triggerer that starts hundreds of Gradient triggers at once (a restart, a burst of deferred
sensors) would otherwise read the same connection hundreds of times before the first poll,
each lookup a hop to a worker thread and, on Airflow 3, a round trip to the supervisor.
"""

from __future__ import annotations

import asyncio
import weakref

from airflow_gradient.hooks._credentials import (
    GradientCredentials,
    credentials_from_connection,
    mask_credentials,
)


async def _read_credentials(conn_id: str) -> GradientCredentials:
    from airflow.providers.common.compat.connection import get_async_connection

    creds = credentials_from_connection(await get_async_connection(conn_id))
    mask_credentials(creds)
    return creds


class SharedLookups:
    """Async connection lookups shared while in flight, per event loop and connection id.

    Callers that ask while a lookup is out wait for it and get its result (or its error);
    nothing is kept after it ends, so the next trigger reads the connection afresh. A caller
    that is cancelled leaves the lookup running for the others.
    """

    def __init__(self) -> None:
        self._pending: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Future[GradientCredentials]]
        ] = weakref.WeakKeyDictionary()

    async def read(self, conn_id: str) -> GradientCredentials:
        loop = asyncio.get_running_loop()
        pending = self._pending.setdefault(loop, {})
        lookup = pending.get(conn_id)
        if lookup is None:
            lookup = pending[conn_id] = asyncio.ensure_future(_read_credentials(conn_id))
            lookup.add_done_callback(lambda done: _forget(pending, conn_id, done))
        return await asyncio.shield(lookup)


def _forget(
    pending: dict[str, asyncio.Future[GradientCredentials]],
    conn_id: str,
    done: asyncio.Future[GradientCredentials],
) -> None:
    if pending.get(conn_id) is done:
        del pending[conn_id]
    if not done.cancelled():
        done.exception()  # retrieved: every waiter that wanted it has raised it already


CREDENTIAL_LOOKUPS = SharedLookups()
