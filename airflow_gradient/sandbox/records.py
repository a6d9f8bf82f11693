"""What the sandbox remembers about each request it served.

Only routing facts are kept (service, method, path, query, status): never headers or bodies,
so a record can be printed in a failing test without leaking a token or a key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestRecord:
    """One request as the sandbox answered it.

    :param service: ``"gradient"`` or ``"databricks"``.
    :param method: HTTP method, upper case.
    :param path: URL path without the query string.
    :param status: HTTP status sent, or ``0`` when the connection was dropped without a reply.
    :param query: query-string parameters (last value wins).
    :param fault: kind of injected fault that hit this request (``"status"``, ``"drop"``,
        ``"delay"``), or ``None``.
    :param at: ``time.time()`` when the request arrived.
    :param user_agent: the ``User-Agent`` header the client sent, if any (never a secret).
    """

    service: str
    method: str
    path: str
    status: int
    query: Mapping[str, str] = field(default_factory=dict, hash=False, compare=True)
    fault: str | None = None
    at: float = field(default_factory=time.time, compare=False)
    user_agent: str | None = field(default=None, compare=False)


class RequestLog:
    """Thread-safe, append-only list of :class:`RequestRecord`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        """Append one record."""
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """Return a copy of every record so far, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()
