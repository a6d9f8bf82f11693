"""Routing and reply shapes shared by the two emulated services (no sockets here).

A :class:`Service` maps ``(method, path)`` to a handler, authenticates, and turns domain
errors into the service's own error envelope; :mod:`airflow_gradient.sandbox.server` feeds it
requests read from a socket.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)


@dataclass
class Request:
    """One parsed HTTP request, as handlers see it."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    """A reply: a JSON value (``None`` means no body), or raw bytes with a content type."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        """Return the bytes of the body."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body).encode("utf-8")


class HttpError(Exception):
    """Raised by a handler to answer with an error reply (already in the service's shape)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[[Request], Response]


class NoRoute(Exception):
    """No route for this path (``allowed`` empty) or not for this method (``allowed`` set)."""

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


@dataclass
class Route:
    """One ``method`` + path pattern; ``{name}`` segments become path parameters."""

    method: str
    regex: re.Pattern[str]
    handler: Handler
    public: bool


class Router:
    """Maps ``(method, path)`` to a handler."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, *, public: bool = False) -> None:
        """Register ``handler`` for ``method pattern`` (e.g. ``/v1/projects/{project_id}``)."""
        regex = re.compile(
            "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/") or "/") + "/?$"
        )
        self._routes.append(Route(method.upper(), regex, handler, public))

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """Return the route and its path parameters, or raise :class:`NoRoute`."""
        allowed: list[str] = []
        for route in self._routes:
            match = route.regex.match(path)
            if match is None:
                continue
            if route.method == method:
                return route, {k: unquote(v) for k, v in match.groupdict().items()}
            allowed.append(route.method)
        raise NoRoute(sorted(set(allowed)))


class Service:
    """Base class of an emulated service: routing, auth and error envelopes.

    Subclasses register routes on ``self.router`` and implement :meth:`error`,
    :meth:`authenticate`, :meth:`not_found` and :meth:`method_not_allowed`.
    """

    name = "service"

    def __init__(self) -> None:
        self.router = Router()

    def error(self, status: int, message: str, code: str | None = None) -> Response:
        """Return an error reply in this service's shape."""
        raise NotImplementedError

    def authenticate(self, request: Request) -> None:
        """Raise :class:`HttpError` when the request is not authenticated."""
        raise NotImplementedError

    def map_error(self, exc: Exception) -> Response | None:
        """Turn a domain error (not found, invalid) into a reply; ``None`` means a bug."""
        return None

    def not_found(self, request: Request) -> Response:
        """Reply for a path no route knows."""
        return self.error(404, f"No route for {request.method} {request.path}")

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        """Reply for a known path called with the wrong method."""
        response = self.error(405, f"Method {request.method} not allowed on {request.path}")
        response.headers["Allow"] = ", ".join(allowed)
        return response

    def handle(self, request: Request) -> Response:
        """Route, authenticate and run one request; any bug becomes a 500 in the envelope."""
        try:
            try:
                route, params = self.router.resolve(request.method, request.path)
            except NoRoute as exc:
                if exc.allowed:
                    return self.method_not_allowed(request, exc.allowed)
                return self.not_found(request)
            request.params = params
            if not route.public:
                self.authenticate(request)
            return route.handler(request)
        except HttpError as exc:
            return exc.response
        except Exception as exc:
            mapped = self.map_error(exc)
            if mapped is not None:
                return mapped
            # A sandbox bug must still look like the service's own error, never a traceback.
            log.exception("sandbox %s failed on %s %s", self.name, request.method, request.path)
            return self.error(500, f"Internal error in the sandbox: {type(exc).__name__}")
