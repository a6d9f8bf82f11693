"""``airflow-gradient sandbox`` as a real process: export lines, one request, clean SIGTERM."""

from __future__ import annotations

import json
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest

RUN_CLI = "import sys; from airflow_gradient.cli import main; sys.exit(main(sys.argv[1:]))"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cli() -> Iterator[subprocess.Popen[str]]:
    """Start the CLI on a chosen Gradient port and an ephemeral Databricks port."""
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "sandbox", "--seed", "demo",
         "--gradient-port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def read_until_serving(process: subprocess.Popen[str], timeout: float = 60) -> list[str]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
            if line.startswith("# Serving"):
                return
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError(f"CLI exited early: {seen} {process.stderr}")
        seen.append(line)
        if line.startswith("# Serving"):
            return seen


def test_cli_prints_exports_serves_and_stops_on_sigterm(cli: subprocess.Popen[str]) -> None:
    lines = read_until_serving(cli)
    exports = {}
    for line in lines:
        if line.startswith("export "):
            name, _, value = shlex.split(line)[1].partition("=")
            exports[name] = value
    gradient = json.loads(exports["AIRFLOW_CONN_GRADIENT_DEFAULT"])
    databricks = json.loads(exports["AIRFLOW_CONN_DATABRICKS_DEFAULT"])
    job_id = exports["GRADIENT_SANDBOX_JOB_ID"]
    assert exports["GRADIENT_SANDBOX_PROJECT_ID"]
    assert exports["GRADIENT_SANDBOX_RECOMMENDATION_ID"]

    url = f"{databricks['schema']}://{databricks['host']}:{databricks['port']}"
    reply = httpx.get(
        f"{url}/api/2.2/jobs/get",
        params={"job_id": job_id},
        headers={"Authorization": f"Bearer {databricks['password']}"},
    )
    assert reply.status_code == 200
    assert reply.json()["settings"]["name"] == "nightly-etl"
    token = httpx.post(
        f"{gradient['host']}/v1/auth/token",
        json={"api_key_id": gradient["login"], "api_key_secret": gradient["password"]},
    )
    assert token.status_code == 200

    cli.send_signal(signal.SIGTERM)
    out, err = cli.communicate(timeout=20)
    assert cli.returncode == 0, err
    assert "# Stopping." in out
    assert "Traceback" not in err
