"""Run an example DAG with ``airflow dags test`` against a sandbox, and answer it over REST.

* :func:`migrate`, :class:`AirflowHome` (``dags_test``, ``start_dags_test``), :func:`stop` and
  :func:`tail` are the sandbox's (:mod:`airflow_gradient.sandbox.airflow_home`, also used by
  ``benchmarks/fleet.py``); here :class:`AirflowHome` takes example DAGs by file name.
* :class:`ApiServer` runs ``airflow api-server`` on 127.0.0.1 on the same database (simple
  auth manager, everyone admin), for the HITL REST API.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import httpx

from airflow_gradient.sandbox import airflow_home as sandbox_home
from airflow_gradient.sandbox.airflow_home import (
    AIRFLOW,
    stop,
    tail,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE_DAGS = ROOT / "example_dags"


def load_template(name: str) -> ModuleType:
    """Import ``example_dags/<name>`` as a module (to call one of its task functions)."""
    spec = importlib.util.spec_from_file_location(
        f"template_{Path(name).stem}", EXAMPLE_DAGS / name
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class AirflowHome(sandbox_home.AirflowHome):
    """:class:`airflow_gradient.sandbox.airflow_home.AirflowHome` whose dags folder holds
    example DAGs, named by file (``"gradient_fleet.py"``)."""

    @classmethod
    def create(cls, root: Path, database: Path, templates: Iterable[str | Path]) -> AirflowHome:
        home = super().create(root, database, [EXAMPLE_DAGS / name for name in templates])
        assert isinstance(home, AirflowHome)
        return home


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
