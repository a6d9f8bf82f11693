"""HTTP plumbing shared by the two emulated services.

Each service runs a stdlib :class:`http.server.ThreadingHTTPServer` on ``127.0.0.1`` in a
daemon thread, speaking HTTP/1.1 with keep-alive and a ``Content-Length`` on every reply.
The stdlib server is used on purpose: it gives byte-level control over the socket, which the
fault injection needs (drop a connection with no reply, reply after a delay, send HTML).

Every reply is JSON in the service's own error shape; nothing the stdlib would render as an
HTML error page, and no traceback, ever reaches a client.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_gradient.sandbox.faults import Fault, Faults
from airflow_gradient.sandbox.records import RequestLog, RequestRecord

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY = 64 * 1024 * 1024


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


class _Server(ThreadingHTTPServer):
    """Threading server that remembers open connections so ``stop`` can close them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__((LOOPBACK, port), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_open_sockets(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _DroppedConnection(Exception):
    """Internal: the fault asked to close the socket without a reply."""


def _make_handler(
    service: Service, faults: Faults, request_log: RequestLog
) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "airflow-gradient-sandbox"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests read ``Sandbox.requests`` instead of stderr."""

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """Replace the stdlib's HTML error page with the service's JSON envelope."""
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = "Error"
            response = service.error(code, message or phrase)
            if self.request_version == "HTTP/0.9":  # unparsable request line: answer in 1.1
                self.request_version = "HTTP/1.1"
            self.close_connection = True
            response.headers["Connection"] = "close"
            self._send(response, head_only=self.command == "HEAD")

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_PATCH(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def _read_body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size_line = self.rfile.readline(65537)
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(65537)
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0 or length > MAX_BODY:
                raise ValueError(f"Content-Length out of range: {length}")
            return self.rfile.read(length) if length else b""

        def _send(self, response: Response, *, head_only: bool = False) -> None:
            data = response.encode()
            self.send_response(response.status)
            if response.body is not None or response.raw is not None:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if data and not head_only:
                self.wfile.write(data)
            self.wfile.flush()

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        @staticmethod
        def _apply(fault: Fault, response: Response | None) -> Response | None:
            """Sleep, then return the reply ``fault`` asks for (raise to drop the connection)."""
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop_connection:
                raise _DroppedConnection
            if fault.status is not None:
                if fault.body is not None:
                    response = Response(
                        status=fault.status,
                        raw=fault.body,
                        content_type=fault.content_type or "application/json",
                    )
                else:
                    response = service.error(fault.status, HTTPStatus(fault.status).phrase)
            if response is not None and fault.retry_after is not None:
                response.headers["Retry-After"] = str(fault.retry_after)
            return response

        def _handle(self) -> None:
            started = time.time()
            split = urlsplit(self.path)
            path = split.path or "/"
            query = dict(parse_qsl(split.query, keep_blank_values=True))
            method = self.command.upper()
            fault: Fault | None = None

            def record(status: int) -> None:
                # Recorded before the reply goes out, so a client that got its reply (or lost
                # its connection) always finds the request in ``Sandbox.requests``.
                request_log.add(
                    RequestRecord(
                        service=service.name,
                        method=method,
                        path=path,
                        status=status,
                        query=query,
                        fault=fault.kind if fault is not None else None,
                        at=started,
                    )
                )

            try:
                body = self._read_body()
            except (ValueError, OSError):
                self.close_connection = True
                unreadable = service.error(400, "Could not read the request body")
                unreadable.headers["Connection"] = "close"
                record(unreadable.status)
                with contextlib.suppress(OSError):
                    self._send(unreadable)
                return
            try:
                latency = faults.latency(service.name)
                if latency:
                    time.sleep(latency)
                fault = faults.take(service.name, method, path)
                response: Response | None = None
                if fault is not None and not fault.after:
                    response = self._apply(fault, None)
                if response is None:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    request = Request(method, path, query, headers, body)
                    handled = service.handle(request)
                    if fault is not None and fault.after:
                        handled = self._apply(fault, handled) or handled
                    response = handled
            except _DroppedConnection:
                record(0)
                self._drop()
                return
            record(response.status)
            try:
                self._send(response)
            except OSError:  # the client went away (e.g. timed out during a delay)
                self.close_connection = True

    return _Handler


class ServiceServer:
    """One service bound to ``127.0.0.1:port`` and served from a daemon thread."""

    def __init__(self, service: Service, faults: Faults, log: RequestLog, port: int = 0) -> None:
        self.service = service
        self._server = _Server(port, _make_handler(service, faults, log))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{service.name}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The bound port (the ephemeral one when 0 was asked)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close kept-alive connections and release the port."""
        if self._thread.is_alive():  # shutdown() would wait forever on a loop never started
            self._server.shutdown()
        self._server.close_open_sockets()
        self._server.server_close()
        self._thread.join(timeout=5)
