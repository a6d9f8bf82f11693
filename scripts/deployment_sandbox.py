"""The sandbox of ``scripts/deployment.py`` as its own process, with a small control API.

Airflow's workers, triggerer and api-server reach the sandbox over its two service ports, like
any real Gradient API and Databricks workspace. Tests and benchmarks, being other processes,
drive and observe it through a third loopback port (the *control* port):

* ``GET /health``: ``{"ok": true}`` (no token needed).
* ``GET /requests``: the request log (routing facts only, see ``Sandbox.requests``).
* ``GET /tokens``: every Gradient access token issued so far (for secret scans).
* ``GET /token-clients``: for each ``POST /v1/auth/token``, the client's process id and
  session id (each component of the deployment runs in a session of its own, so the session
  tells which Celery worker the task process belongs to).
* ``POST /call`` ``{"target": "gradient.create_project", "kwargs": {...}}``: call one method
  (or set one attribute with ``{"target": ..., "set": value}``) of the ``Sandbox`` or of its
  ``gradient``, ``databricks`` or ``faults`` part; the reply is ``{"result": ...}`` (JSON).

Every control request but ``/health`` needs ``Authorization: Bearer <control token>`` (the
token comes in the environment, ``SANDBOX_CONTROL_TOKEN``). Credentials come in the
environment as well, so that they never appear on a command line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from airflow_gradient.sandbox import Sandbox

PARTS = ("gradient", "databricks", "faults")
TOKEN_PATH = "/v1/auth/token"


def _socket_inode(client_port: int, server_port: int) -> str | None:
    """Inode of the client's end of a live loopback connection ``client_port -> server_port``.

    Closed connections in TIME_WAIT may share the client port; they have inode 0."""
    local, remote = f":{client_port:04X}", f":{server_port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[1].endswith(local) and fields[2].endswith(remote) and fields[9] != "0":
                    return fields[9]
    return None


def client_process(client_port: int, server_port: int) -> dict[str, int | None]:
    """``{"pid", "sid"}`` of the process holding the client end of a connection."""
    inode = _socket_inode(client_port, server_port)
    if inode is None:
        return {"pid": None, "sid": None}
    target = f"socket:[{inode}]"
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) == target:
                        with open(f"/proc/{entry.name}/stat") as stat:
                            sid = int(stat.read().rpartition(")")[2].split()[3])
                        return {"pid": int(entry.name), "sid": sid}
    return {"pid": None, "sid": None}


def watch_token_clients(sb: Sandbox) -> list[dict[str, Any]]:
    """Record which process asks for each Gradient token; the list fills as they come.

    The stdlib server runs each connection in a thread started with ``(socket, address)``:
    the client's port is read from there, then its process from /proc."""
    found: list[dict[str, Any]] = []
    routes = sb._server(0).service  # the Gradient service's routes (server 0 once started)
    handle = routes.handle

    def recording(request: Any) -> Any:
        if request.method == "POST" and request.path == TOKEN_PATH:
            args = getattr(threading.current_thread(), "_args", ())
            address = args[1] if len(args) > 1 else None
            server_port = int(sb.gradient_url.rsplit(":", 1)[1])
            client: dict[str, int | None] = {"pid": None, "sid": None}
            for _ in range(5) if address else ():
                client = client_process(address[1], server_port)
                if client["pid"] is not None:
                    break
                time.sleep(0.05)
            found.append({"at": time.time(), **client})
        return handle(request)

    routes.handle = recording  # type: ignore[method-assign]
    return found


def _resolve(sb: Sandbox, target: str) -> tuple[Any, str]:
    """The object that holds ``target``'s last name, and that name."""
    part, _, name = target.rpartition(".")
    if part and part not in PARTS:
        raise ValueError(f"target must be a Sandbox method or one of {PARTS}: got {target!r}")
    if not name or name.startswith("_"):
        raise ValueError(f"target {target!r} names no public attribute")
    return (getattr(sb, part) if part else sb), name


def call(sb: Sandbox, body: dict[str, Any]) -> Any:
    """Run one control call (see the module docstring) and return its JSON-ready result."""
    owner, name = _resolve(sb, str(body.get("target", "")))
    if "set" in body:
        if not hasattr(owner, name):
            raise ValueError(f"{body['target']!r} is not an attribute")
        setattr(owner, name, body["set"])
        return None
    value = getattr(owner, name)
    if callable(value):
        value = value(*body.get("args", []), **body.get("kwargs", {}))
    return value


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def make_handler(
    sb: Sandbox, token: str, token_clients: list[dict[str, Any]]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the sandbox's own request log is what tests read."""

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(_jsonable(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if hmac.compare_digest(given.encode(), token.encode()):
                return True
            self._reply(401, {"error": "control token missing or wrong"})
            return False

        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, {"ok": sb.running})
            elif not self._authorized():
                return
            elif self.path == "/requests":
                self._reply(200, {"requests": sb.requests})
            elif self.path == "/tokens":
                self._reply(200, {"tokens": sb.gradient.issued_tokens})
            elif self.path == "/token-clients":
                self._reply(200, {"token_clients": list(token_clients)})
            else:
                self._reply(404, {"error": f"no control route {self.path}"})

        def do_POST(self) -> None:
            if not self._authorized():
                return
            if self.path != "/call":
                self._reply(404, {"error": f"no control route {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                result = call(sb, body)
            except Exception as exc:  # a bad call is the caller's to see, with its reason
                self._reply(400, {"error": f"{type(exc).__name__}: {exc}"})
                return
            self._reply(200, {"result": result})

    return Handler


def main() -> int:
    """Serve the sandbox and its control API until SIGTERM or SIGINT."""
    env = os.environ
    sb = Sandbox(
        gradient_port=int(env["SANDBOX_GRADIENT_PORT"]),
        databricks_port=int(env["SANDBOX_DATABRICKS_PORT"]),
        api_key_id=env["SANDBOX_API_KEY_ID"],
        api_key_secret=env["SANDBOX_API_KEY_SECRET"],
        databricks_token=env["SANDBOX_DATABRICKS_TOKEN"],
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with sb:
        token_clients = watch_token_clients(sb)
        server = ThreadingHTTPServer(
            ("127.0.0.1", int(env["SANDBOX_CONTROL_PORT"])),
            make_handler(sb, env["SANDBOX_CONTROL_TOKEN"], token_clients),
        )
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        print(f"sandbox: gradient {sb.gradient_url}, databricks {sb.databricks_url}", flush=True)
        stop.wait()
        server.shutdown()
        server.server_close()
    print("sandbox: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
