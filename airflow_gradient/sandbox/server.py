"""Sockets of the two emulated services: one HTTP server per service, faults applied here.

Each service runs a stdlib :class:`http.server.ThreadingHTTPServer` on ``127.0.0.1`` in a
daemon thread, speaking HTTP/1.1 with keep-alive and a ``Content-Length`` on every reply.
The stdlib server is used on purpose: it gives byte-level control over the socket, which the
fault injection needs (drop a connection with no reply, reply after a delay, send HTML).

Every reply is JSON in the service's own error shape; nothing the stdlib would render as an
HTML error page, and no traceback, ever reaches a client.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from airflow_gradient.sandbox.faults import Fault, Faults
from airflow_gradient.sandbox.records import RequestLog, RequestRecord
from airflow_gradient.sandbox.routing import Request, Response, Service

LOOPBACK = "127.0.0.1"
MAX_BODY = 64 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    """Threading server that remembers open connections so ``stop`` can close them."""

    daemon_threads = True
    allow_reuse_address = True
    #: Listen backlog: a fleet of triggers connects at once; the default of 5 drops
    #: connections, which the clients then retry a second later.
    request_queue_size = 1024

    def __init__(self, port: int, service: Service, faults: Faults, log: RequestLog) -> None:
        self.service = service
        self.faults = faults
        self.request_log = log
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__((LOOPBACK, port), ServiceRequestHandler)

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


class ServiceRequestHandler(BaseHTTPRequestHandler):
    """Reads one request off the socket, applies latency and faults, asks the server's
    :class:`~airflow_gradient.sandbox.routing.Service` for the reply, records and sends it."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "airflow-gradient-sandbox"
    sys_version = ""

    @property
    def _service(self) -> Service:
        return cast(_Server, self.server).service

    @property
    def _faults(self) -> Faults:
        return cast(_Server, self.server).faults

    @property
    def _request_log(self) -> RequestLog:
        return cast(_Server, self.server).request_log

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``Sandbox.requests`` instead of stderr."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Replace the stdlib's HTML error page with the service's JSON envelope."""
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        response = self._service.error(code, message or phrase)
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

    def _apply(self, fault: Fault, response: Response | None) -> Response | None:
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
                response = self._service.error(fault.status, HTTPStatus(fault.status).phrase)
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
            self._request_log.add(
                RequestRecord(
                    service=self._service.name,
                    method=method,
                    path=path,
                    status=status,
                    query=query,
                    fault=fault.kind if fault is not None else None,
                    at=started,
                    user_agent=self.headers.get("User-Agent"),
                )
            )

        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            unreadable = self._service.error(400, "Could not read the request body")
            unreadable.headers["Connection"] = "close"
            record(unreadable.status)
            with contextlib.suppress(OSError):
                self._send(unreadable)
            return
        try:
            latency = self._faults.latency(self._service.name)
            if latency:
                time.sleep(latency)
            fault = self._faults.take(self._service.name, method, path)
            response: Response | None = None
            if fault is not None and not fault.after:
                response = self._apply(fault, None)
            if response is None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request(method, path, query, headers, body)
                handled = self._service.handle(request)
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


class ServiceServer:
    """One service bound to ``127.0.0.1:port`` and served from a daemon thread."""

    def __init__(self, service: Service, faults: Faults, log: RequestLog, port: int = 0) -> None:
        self.service = service
        self._server = _Server(port, service, faults, log)
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
