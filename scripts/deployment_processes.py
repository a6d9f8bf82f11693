"""Processes of ``scripts/deployment.py``: found by session, stopped by session.

Each component runs in a session of its own (``start_new_session``); a process belongs to it
when its session id is the leader's pid and it started no earlier than the leader. That
survives process titles rewritten by ``setproctitle`` and never touches a reused pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port(taken: set[int]) -> int:
    """A free loopback port, never 8793/8794 (Airflow's default log-server ports)."""
    while True:
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            port: int = sock.getsockname()[1]
        if port not in taken and port not in (8793, 8794):
            taken.add(port)
            return port


def stat(pid: int | None) -> tuple[str, int, int]:
    """``(state, start time, session id)`` of ``pid`` from /proc; ``("", 0, 0)`` if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (OSError, ValueError):
        return "", 0, 0
    return fields[0], int(fields[19]), int(fields[3])


def alive(pid: int | None) -> bool:
    return bool(pid) and stat(pid)[0] not in ("", "Z", "X")


def members(session: list[int]) -> list[int]:
    """Live processes of a session this deployment started (``[leader pid, start time]``).

    A process counts when its session id is the leader's and it started no earlier than the
    leader did, so a pid reused by somebody else after the session ended is left alone."""
    leader, started = session
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state, start, sid = stat(int(entry.name))
            if sid == leader and start >= started and state not in ("", "Z", "X"):
                found.append(int(entry.name))
    return found


def stop_session(session: list[int] | None, grace: float = 15.0) -> bool:
    """TERM every process of ``session``, then KILL what is left; whether any was running."""
    if not session:
        return False
    found = members(session)
    if not found:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and members(session):
            time.sleep(0.2)
        found = members(session)
        if not found:
            break
    return True
