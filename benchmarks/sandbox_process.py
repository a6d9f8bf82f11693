"""The sandbox in a child process, driven through a pipe, for benchmarks.

A benchmark that measures the event loop of its own process must not share that process (its
CPU, its GIL, its memory) with the sandbox's server threads: hundreds of connections mean
hundreds of server threads. :class:`RemoteSandbox` starts the sandbox in a child process and
forwards calls to it by dotted name: ``remote.call("gradient.create_project", job_id=1)``.
"""

from __future__ import annotations

import multiprocessing
import os
from functools import reduce
from multiprocessing.connection import Connection
from typing import Any


def _serve(conn: Connection, pythonpath: list[str]) -> None:
    import sys

    sys.path[:0] = [p for p in pythonpath if p not in sys.path]
    from airflow_gradient.sandbox import Sandbox

    with Sandbox() as sb:
        conn.send(sb.connections())
        while True:
            message = conn.recv()
            if message is None:
                break
            kind, name, args, kwargs = message
            try:
                if kind == "setattr":
                    owner, _, attr = name.rpartition(".")
                    setattr(reduce(getattr, owner.split("."), sb) if owner else sb, attr, args[0])
                    conn.send((True, None))
                else:
                    target = reduce(getattr, name.split("."), sb)
                    value = target(*args, **kwargs) if callable(target) else target
                    conn.send((True, value))
            except Exception as err:  # sent back to the benchmark, which raises it
                conn.send((False, repr(err)))


class RemoteSandbox:
    """A :class:`~airflow_gradient.sandbox.Sandbox` running in a child process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        pythonpath = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        self._process = context.Process(target=_serve, args=(child, pythonpath), daemon=True)
        self._process.start()
        self.connections: dict[str, str] = self._conn.recv()

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call (or read) ``sandbox.<name>`` in the child and return the result."""
        self._conn.send(("call", name, args, kwargs))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"sandbox call {name} failed: {value}")
        return value

    def set(self, name: str, value: Any) -> None:
        """Set ``sandbox.<name>`` in the child."""
        self._conn.send(("setattr", name, (value,), {}))
        ok, error = self._conn.recv()
        if not ok:
            raise RuntimeError(f"sandbox setting {name} failed: {error}")

    def close(self) -> None:
        """Stop the sandbox and its process."""
        self._conn.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
