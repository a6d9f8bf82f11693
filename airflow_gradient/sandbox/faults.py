"""Injected faults: error replies, slow replies, dropped connections, added latency.

A fault matches one service, one HTTP method and one exact path (no query string). It hits
the next ``times`` matching requests, either *before* the real handler runs (the request has
no effect on the sandbox state) or, with ``after=True``, *after* it ran (the change is made
server side, then the reply is replaced, delayed or lost). The latter is how a test proves
that a client which lost the reply to ``jobs/update`` must not assume the update failed.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

SERVICES = ("gradient", "databricks")


@dataclass
class Fault:
    """One injected fault; see :meth:`Faults.inject` for the meaning of each field."""

    service: str
    method: str
    path: str
    status: int | None
    remaining: int
    retry_after: float | str | None
    delay: float
    drop_connection: bool
    body: bytes | None
    content_type: str | None
    after: bool

    @property
    def kind(self) -> str:
        """Short name recorded with the request: ``drop``, ``status`` or ``delay``."""
        if self.drop_connection:
            return "drop"
        if self.status is not None:
            return "status"
        return "delay"


def _encode_body(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def _guess_content_type(body: bytes) -> str:
    return "text/html; charset=utf-8" if body.lstrip().startswith(b"<") else "application/json"


class Faults:
    """The fault table shared by both services of a :class:`~airflow_gradient.sandbox.Sandbox`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._latency: dict[str | None, float] = {}

    def inject(
        self,
        service: str,
        method: str,
        path: str,
        *,
        status: int | None = None,
        times: int = 1,
        retry_after: float | str | None = None,
        delay: float = 0.0,
        drop_connection: bool = False,
        body: str | bytes | dict[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
        after: bool = False,
    ) -> Fault:
        """Make the next ``times`` requests ``method path`` to ``service`` misbehave.

        :param service: ``"gradient"`` or ``"databricks"``.
        :param method: HTTP method (any case).
        :param path: exact URL path, without query string.
        :param status: reply with this status instead of the real answer. The body is ``body``
            or, by default, the service's own error envelope for that status.
        :param times: how many matching requests this fault hits.
        :param retry_after: value of a ``Retry-After`` header added to the reply.
        :param delay: seconds to sleep before answering (to trigger client timeouts).
        :param drop_connection: close the socket without sending any reply.
        :param body: raw reply body (text such as HTML or malformed JSON, or a JSON value).
        :param content_type: reply ``Content-Type``; guessed from ``body`` when ``None``.
        :param after: apply the fault after the real handler ran (the request takes effect).
        :return: the fault, whose ``remaining`` counts down as it hits requests.
        """
        if service not in SERVICES:
            raise ValueError(f"service must be one of {SERVICES}, got {service!r}")
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {status}")
        if "?" in path:
            raise ValueError(f"path must not contain a query string: {path!r}")
        raw = _encode_body(body)
        if raw is not None and status is None:
            raise ValueError("body needs a status to go with it")
        fault = Fault(
            service=service,
            method=method.upper(),
            path=path,
            status=status,
            remaining=times,
            retry_after=retry_after,
            delay=float(delay),
            drop_connection=drop_connection,
            body=raw,
            content_type=content_type or (_guess_content_type(raw) if raw is not None else None),
            after=after,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def set_latency(self, seconds: float, service: str | None = None) -> None:
        """Add ``seconds`` of latency to every request (of one service, or of both)."""
        if service is not None and service not in SERVICES:
            raise ValueError(f"service must be one of {SERVICES} or None, got {service!r}")
        if seconds < 0:
            raise ValueError(f"latency must not be negative, got {seconds}")
        with self._lock:
            self._latency[service] = float(seconds)

    def latency(self, service: str) -> float:
        """Latency to add to one request of ``service``."""
        with self._lock:
            return self._latency.get(None, 0.0) + self._latency.get(service, 0.0)

    def take(self, service: str, method: str, path: str) -> Fault | None:
        """Return the first live fault matching this request and count it as used."""
        with self._lock:
            for fault in self._faults:
                if (
                    fault.remaining > 0
                    and fault.service == service
                    and fault.method == method
                    and fault.path == path
                ):
                    fault.remaining -= 1
                    return fault
            return None

    @property
    def pending(self) -> list[Fault]:
        """Faults that will still hit a request."""
        with self._lock:
            return [f for f in self._faults if f.remaining > 0]

    def clear(self) -> None:
        """Remove every fault and every latency setting."""
        with self._lock:
            self._faults.clear()
            self._latency.clear()
