"""The sandbox of ``scripts/deployment.py`` as its own process, with a small control API.

Airflow's workers, triggerer and api-server reach the sandbox over its two service ports, like
any real Gradient API and Databricks workspace. Tests and benchmarks, being other processes,
drive and observe it through a third loopback port (the *control* port):

* ``GET /health``: ``{"ok": true}`` (no token needed).
* ``GET /requests``: the request log (routing facts only, see ``Sandbox.requests``).
* ``GET /tokens``: every Gradient access token issued so far (for secret scans).
* ``POST /call`` ``{"target": "gradient.create_project", "kwargs": {...}}``: call one method
  (or set one attribute with ``{"target": ..., "set": value}``) of the ``Sandbox`` or of its
  ``gradient``, ``databricks`` or ``faults`` part; the reply is ``{"result": ...}`` (JSON).

Every control request but ``/health`` needs ``Authorization: Bearer <control token>`` (the
token comes in the environment, ``SANDBOX_CONTROL_TOKEN``). Credentials come in the
environment as well, so that they never appear on a command line.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from airflow_gradient.sandbox import Sandbox

PARTS = ("gradient", "databricks", "faults")


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


def make_handler(sb: Sandbox, token: str) -> type[BaseHTTPRequestHandler]:
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
        server = ThreadingHTTPServer(
            ("127.0.0.1", int(env["SANDBOX_CONTROL_PORT"])),
            make_handler(sb, env["SANDBOX_CONTROL_TOKEN"]),
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
