"""Run an example DAG with ``airflow dags test`` against a sandbox, and answer it over REST.

* :func:`migrate` builds one migrated SQLite database; :meth:`AirflowHome.create` copies it into
  a fresh AIRFLOW_HOME with a dags folder holding only the template under test (so a test
  neither pays for ``airflow db migrate`` again nor parses other DAG files).
* :meth:`AirflowHome.dags_test` runs a DAG to the end; :meth:`AirflowHome.start_dags_test`
  starts it in the background (a human-in-the-loop task waits for an answer).
* :class:`ApiServer` runs ``airflow api-server`` on 127.0.0.1 on the same database (simple
  auth manager, everyone admin), for the HITL REST API.

Every process is started in its own session and stopped by process group (:func:`stop`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = ROOT / "example_dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


def load_template(name: str) -> ModuleType:
    """Import ``example_dags/<name>`` as a module (to call one of its task functions)."""
    spec = importlib.util.spec_from_file_location(
        f"template_{Path(name).stem}", EXAMPLE_DAGS / name
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def base_env(home: Path, dags: Path) -> dict[str, str]:
    """The environment for the ``airflow`` CLI: isolated home, SQLite, only ``dags``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # Fixed per home, so the api-server and `dags test` agree whoever writes airflow.cfg.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(16),
        }
    )
    return env


def migrate(home: Path) -> Path:
    """``airflow db migrate`` into ``home``; return the database file (``airflow.cfg`` next
    to it: copied too, so that processes started together never race to write one)."""
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [AIRFLOW, "db", "migrate"],
        env=base_env(home, dags),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return home / "airflow.db"


def tail(text: str, lines: int = 80) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.splitlines()[-lines:])


def stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Stop ``proc`` and its children (its own process group): TERM, then KILL.

    A process that already ended is left alone (its group id may be reused by then)."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children that outlived the leader (uvicorn workers) still carry its group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class DagsTestResult:
    """What ``airflow dags test`` did."""

    returncode: int
    output: str

    def assert_ok(self) -> None:
        assert self.returncode == 0, tail(self.output)


@dataclass
class AirflowHome:
    """An AIRFLOW_HOME with a migrated database and a dags folder of chosen templates."""

    home: Path
    dags: Path
    env_vars: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path, database: Path, templates: Iterable[str]) -> AirflowHome:
        home, dags = root / "home", root / "dags"
        dags.mkdir(parents=True)
        home.mkdir(parents=True)
        shutil.copy(database, home / "airflow.db")
        shutil.copy(database.with_name("airflow.cfg"), home / "airflow.cfg")
        for name in templates:
            shutil.copy(EXAMPLE_DAGS / name, dags / name)
        return cls(home=home, dags=dags, env_vars=base_env(home, dags))

    def env(
        self,
        connections: Mapping[str, str] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """The base environment plus ``AIRFLOW_CONN_*`` and ``AIRFLOW_VAR_<NAME>`` entries."""
        env = dict(self.env_vars)
        env.update(connections or {})
        for name, value in (variables or {}).items():
            text = value if isinstance(value, str) else json.dumps(value)
            env[f"AIRFLOW_VAR_{name.upper()}"] = text
        return env

    def log(self, dag_id: str) -> Path:
        return self.home / f"dags-test-{dag_id}-{len(self.processes)}.log"

    def start_dags_test(
        self, dag_id: str, env: Mapping[str, str]
    ) -> tuple[subprocess.Popen[Any], Path]:
        """``airflow dags test dag_id`` in the background; output goes to the returned log."""
        log = self.log(dag_id)
        with log.open("w") as out:
            proc = subprocess.Popen(
                [AIRFLOW, "dags", "test", dag_id],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(proc)
        return proc, log

    def dags_test(
        self, dag_id: str, env: Mapping[str, str], timeout: float = 150
    ) -> DagsTestResult:
        """``airflow dags test dag_id`` to the end (stopped after ``timeout`` seconds)."""
        proc, log = self.start_dags_test(dag_id, env)
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(proc)
            raise AssertionError(
                f"airflow dags test {dag_id} still running after {timeout}s:\n"
                + tail(log.read_text())
            ) from None
        return DagsTestResult(returncode, log.read_text())

    def stop_all(self) -> None:
        for proc in self.processes:
            stop(proc)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], str | None] = lambda: None,
    interval: float = 0.5,
) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds, or
    at once when ``alive`` reports a reason to stop (a process that exited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        dead = alive()
        if dead:
            raise AssertionError(f"Gave up waiting for {what}: {dead}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class ApiServer:
    """``airflow api-server`` on 127.0.0.1 sharing an :class:`AirflowHome`'s database."""

    def __init__(self, airflow_home: AirflowHome) -> None:
        self.airflow_home = airflow_home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = airflow_home.home / "api-server.log"
        self.proc: subprocess.Popen[Any] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=20.0)

    def launch(self) -> ApiServer:
        """Start the server; :meth:`wait_ready` waits until it answers."""
        argv = [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                # The core API serves the HITL endpoints; `dags test` runs its own execution API.
                [*argv, "--workers", "1", "--apps", "core"],
                env=self.airflow_home.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 150) -> ApiServer:
        wait_until(self._healthy, timeout=timeout, what="the api-server", alive=self._exited)
        return self

    def _healthy(self) -> bool:
        try:
            return self.client.get("/api/v2/version").status_code == 200
        except httpx.TransportError:
            return False

    def _exited(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            return f"api-server exited {self.proc.returncode}:\n{tail(self.log.read_text())}"
        return None

    def stop(self) -> None:
        self.client.close()
        if self.proc is not None:
            stop(self.proc)

    # --- the REST calls the HITL tests need -------------------------------------------------

    def get(self, path: str) -> Any:
        reply = self.client.get(path)
        assert reply.status_code == 200, f"GET {path}: {reply.status_code} {reply.text}"
        return reply.json()

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        runs: list[dict[str, Any]] = self.get(f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
        return runs

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any] | None:
        reply = self.client.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
        )
        if reply.status_code == 404:
            return None
        assert reply.status_code == 200, f"{reply.status_code} {reply.text}"
        ti: dict[str, Any] = reply.json()
        return ti

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return {ti["task_id"]: ti["state"] for ti in self.get(path)["task_instances"]}

    def hitl_details(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        details: dict[str, Any] = self.get(self._hitl_path(dag_id, run_id, task_id))
        return details

    def respond(self, dag_id: str, run_id: str, task_id: str, option: str) -> dict[str, Any]:
        """Answer a human-in-the-loop task, as the UI's "Required actions" page does."""
        path = self._hitl_path(dag_id, run_id, task_id)
        reply = self.client.patch(path, json={"chosen_options": [option]})
        assert reply.status_code == 200, f"PATCH {path}: {reply.status_code} {reply.text}"
        answer: dict[str, Any] = reply.json()
        return answer

    @staticmethod
    def _hitl_path(dag_id: str, run_id: str, task_id: str) -> str:
        run = quote(run_id, safe="")
        return f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/-1/hitlDetails"

    def wait_for_input(
        self, dag_id: str, task_id: str, dags_test: subprocess.Popen[Any], log: Path, timeout: float
    ) -> str:
        """Wait until ``task_id`` of the (only) run of ``dag_id`` awaits input; its run id."""

        def dags_test_exited() -> str | None:
            if dags_test.poll() is None:
                return None
            return f"airflow dags test exited {dags_test.returncode}:\n{tail(log.read_text())}"

        def awaiting() -> str | None:
            runs = self.dag_runs(dag_id)
            if not runs:
                return None
            run_id: str = runs[-1]["dag_run_id"]
            ti = self.task_instance(dag_id, run_id, task_id)
            return run_id if ti and ti.get("state") == "awaiting_input" else None

        run_id: str = wait_until(
            awaiting,
            timeout=timeout,
            what=f"{dag_id}.{task_id} to await input",
            alive=dags_test_exited,
            interval=1.0,
        )
        return run_id
