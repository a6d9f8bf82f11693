"""Run DAG files with ``airflow dags test`` against a sandbox, in a throwaway Airflow home.

The end-to-end half of testing a DAG with the sandbox: :func:`migrate` builds one migrated
SQLite database; :meth:`AirflowHome.create` copies it into a fresh ``AIRFLOW_HOME`` whose dags
folder holds only the given files (so no run pays for ``airflow db migrate`` again nor parses
other DAG files); :meth:`AirflowHome.dags_test` runs one DAG to the end with the sandbox's
connections (:meth:`airflow_gradient.sandbox.Sandbox.connections`) in its environment.

Every process is started in its own session and stopped by process group (:func:`stop`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["AirflowHome", "DagsTestResult", "base_env", "migrate", "stop", "tail"]

#: The ``airflow`` command of this interpreter's environment.
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


def base_env(home: Path, dags: Path) -> dict[str, str]:
    """The environment for the ``airflow`` CLI: isolated home, SQLite, only ``dags``; the
    simple auth manager with everyone admin (for a local ``airflow api-server``)."""
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
    to it: copied too, so that processes started together never race to write one).

    :raises RuntimeError: the migration failed (the end of its output is in the message).
    """
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
    if proc.returncode != 0:
        raise RuntimeError(
            f"airflow db migrate in {home} failed:\n{tail(proc.stdout + proc.stderr)}"
        )
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
        """Raise ``AssertionError`` with the end of the output unless the run succeeded."""
        if self.returncode != 0:
            raise AssertionError(tail(self.output))


@dataclass
class AirflowHome:
    """An ``AIRFLOW_HOME`` with a migrated database and a dags folder of chosen DAG files."""

    home: Path
    dags: Path
    env_vars: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path, database: Path, dag_files: Iterable[Path]) -> AirflowHome:
        """A home under ``root`` holding a copy of ``database`` (from :func:`migrate`) and of
        each of ``dag_files``."""
        home, dags = root / "home", root / "dags"
        dags.mkdir(parents=True)
        home.mkdir(parents=True)
        shutil.copy(database, home / "airflow.db")
        shutil.copy(database.with_name("airflow.cfg"), home / "airflow.cfg")
        for path in dag_files:
            shutil.copy(path, dags / Path(path).name)
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
        """Where the next ``airflow dags test`` of ``dag_id`` writes its output."""
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
        """``airflow dags test dag_id`` to the end (stopped after ``timeout`` seconds).

        :raises TimeoutError: still running after ``timeout`` (the end of its output says
            where it was).
        """
        proc, log = self.start_dags_test(dag_id, env)
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(proc)
            raise TimeoutError(
                f"airflow dags test {dag_id} still running after {timeout}s:\n"
                + tail(log.read_text())
            ) from None
        return DagsTestResult(returncode, log.read_text())

    def stop_all(self) -> None:
        """Stop every ``airflow dags test`` started in this home."""
        for proc in self.processes:
            stop(proc)
