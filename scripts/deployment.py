"""A local multi-process Airflow deployment running airflow-gradient, on 127.0.0.1 only.

    python scripts/deployment.py up [--workers 2] [--dags-folder DIR] [--executor celery|local]
    python scripts/deployment.py restart COMPONENT      # e.g. triggerer, worker_1
    python scripts/deployment.py down

``up`` starts PostgreSQL (metadata database), Redis (Celery broker), the sandbox (Gradient API
and Databricks workspace emulator, its own process), ``airflow scheduler``, ``dag-processor``,
``triggerer``, ``api-server`` and N Celery workers with distinct hostnames; it returns once
all are healthy and prints one JSON line (URLs, credentials, process ids). Everything lives
under ``.deployment/`` (or ``$AIRFLOW_GRADIENT_DEPLOYMENT_DIR``); ``down`` stops all of it,
also after a failed ``up``. Importable: :func:`up`, :func:`restart`, :func:`down`,
:func:`load_state`. Needs the ``deployment`` extra (``pip install -e '.[deployment]'``).

One module on purpose (~500 lines): the processes, their configuration and their health checks
are one lifecycle, read top to bottom.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
LOOPBACK = "127.0.0.1"
AIRFLOW_PROCESSES = ("scheduler", "dag_processor", "triggerer", "api_server")
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
WORKER_CONCURRENCY = 4
HEARTBEAT_TIMEOUT = 20  # seconds without a task heartbeat before its worker counts as dead

LOCAL_SETTINGS = '''"""Cluster policies of this deployment: airflow-gradient's parse-time guard."""

from airflow_gradient.policies import dag_policy  # noqa: F401
'''
HOSTNAME_MODULE = '''"""Task hostnames: each Celery worker of the deployment reports its name."""

import os
import socket


def hostname() -> str:
    return os.environ.get("AIRFLOW_GRADIENT_HOSTNAME") or socket.getfqdn()
'''


class DeploymentError(RuntimeError):
    """``up`` or ``restart`` could not bring a component to health (its log is named)."""


def state_dir() -> Path:
    return Path(os.environ.get("AIRFLOW_GRADIENT_DEPLOYMENT_DIR") or ROOT / ".deployment")


def state_file() -> Path:
    return state_dir() / "state.json"


def load_state() -> dict[str, Any]:
    """The state ``up`` recorded (``{}`` when there is none)."""
    path = state_file()
    return json.loads(path.read_text()) if path.exists() else {}


def _save_state(state: dict[str, Any]) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def free_port(taken: set[int]) -> int:
    """A free loopback port, never 8793/8794 (Airflow's default log-server ports)."""
    while True:
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            port: int = sock.getsockname()[1]
        if port not in taken and port not in (8793, 8794):
            taken.add(port)
            return port


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, log: Path | None) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # not up yet: keep the last reason for the message
            last = exc
        time.sleep(0.5)
    where = f"; see {log}" if log else ""
    raise DeploymentError(f"{what} not healthy after {timeout:.0f}s (last: {last!r}){where}")


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if _is_root() else argv


# --- processes ------------------------------------------------------------------------------


def _env(state: dict[str, Any], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every process: the deployment's home, no AIRFLOW_* from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": state["airflow_home"],
            "PYTHONPATH": str(Path(state["airflow_home"]) / "config"),
        }
    )
    env.update(extra or {})
    return env


def _spawn(state: dict[str, Any], name: str, argv: list[str], env: dict[str, str]) -> int:
    """Start ``name`` in a session of its own; its session id is how it is found and stopped."""
    log = Path(state["logs_dir"]) / f"{name}.log"
    with log.open("a") as out:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=state["dir"],
        )
    state["pids"][name] = proc.pid
    state["sessions"][name] = [proc.pid, _stat(proc.pid)[1]]
    _save_state(state)
    return proc.pid


def _stat(pid: int | None) -> tuple[str, int, int]:
    """``(state, start time, session id)`` of ``pid`` from /proc; ``("", 0, 0)`` if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (OSError, ValueError):
        return "", 0, 0
    return fields[0], int(fields[19]), int(fields[3])


def _alive(pid: int | None) -> bool:
    return bool(pid) and _stat(pid)[0] not in ("", "Z", "X")


def _members(session: list[int]) -> list[int]:
    """Live processes of a session this deployment started (``[leader pid, start time]``).

    A process counts when its session id is the leader's and it started no earlier than the
    leader did, so a pid reused by somebody else after the session ended is left alone."""
    leader, started = session
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state, start, sid = _stat(int(entry.name))
            if sid == leader and start >= started and state not in ("", "Z", "X"):
                found.append(int(entry.name))
    return found


def _stop_session(session: list[int] | None, grace: float = 15.0) -> bool:
    """TERM every process of ``session``, then KILL what is left; whether any was running."""
    if not session:
        return False
    members = _members(session)
    if not members:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _members(session):
            time.sleep(0.2)
        members = _members(session)
        if not members:
            break
    return True


# --- configuration --------------------------------------------------------------------------


def _airflow_cfg(state: dict[str, Any]) -> str:
    home = Path(state["airflow_home"])
    executor = "CeleryExecutor" if state["executor"] == "celery" else "LocalExecutor"
    sections: dict[str, dict[str, Any]] = {
        "core": {
            "dags_folder": state["dags_folder"],
            "executor": executor,
            "load_examples": "False",
            "auth_manager": SIMPLE_AUTH_MANAGER,
            "simple_auth_manager_users": f"{state['username']}:admin",
            "simple_auth_manager_passwords_file": home / "passwords.json",
            "test_connection": "Enabled",
            "fernet_key": state["fernet_key"],
            "hostname_callable": "deployment_hostname.hostname",
            "execution_api_server_url": f"{state['api_url']}/execution/",
            "parallelism": 32,
            "default_task_retries": 1,
            "default_task_retry_delay": 5,
        },
        "database": {"sql_alchemy_conn": state["database_url"]},
        "logging": {
            "base_log_folder": home / "logs",
            "worker_log_server_port": state["ports"]["worker_log_server"],
            "trigger_log_server_port": state["ports"]["trigger_log_server"],
        },
        "api": {
            "host": LOOPBACK,
            "port": state["ports"]["api_server"],
            "base_url": state["api_url"],
            "secret_key": state["api_secret_key"],
            "expose_config": "False",
        },
        "api_auth": {"jwt_secret": state["jwt_secret"]},
        "scheduler": {
            "scheduler_heartbeat_sec": 2,
            "job_heartbeat_sec": 2,
            "task_instance_heartbeat_timeout": HEARTBEAT_TIMEOUT,
            "task_instance_heartbeat_timeout_detection_interval": 5,
            "scheduler_health_check_threshold": 30,
        },
        "triggerer": {"job_heartbeat_sec": 2, "triggerer_health_check_threshold": 15},
        "dag_processor": {
            "refresh_interval": 5,
            "min_file_process_interval": 30,
            "health_check_threshold": 60,
        },
        "celery": {
            "broker_url": state["broker_url"] or "",
            "result_backend": "db+" + state["database_url"],
            "worker_concurrency": WORKER_CONCURRENCY,
        },
    }
    lines = ["# Written by scripts/deployment.py up; regenerated on every up."]
    for section, options in sections.items():
        lines.append(f"\n[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
    return "\n".join(lines) + "\n"


def _new_state(workers: int, dags_folders: list[Path], executor: str) -> dict[str, Any]:
    from cryptography.fernet import Fernet

    base = state_dir()
    ports: set[int] = set()
    port = {
        name: free_port(ports)
        for name in (
            "postgres",
            "redis",
            "api_server",
            "gradient",
            "databricks",
            "sandbox_control",
            "worker_log_server",
            "trigger_log_server",
        )
    }
    celery = executor == "celery"
    return {
        "id": uuid.uuid4().hex,
        "dir": str(base),
        "executor": executor,
        "workers": workers if celery else 0,
        "api_url": f"http://{LOOPBACK}:{port['api_server']}",
        "username": "admin",
        "password": secrets.token_urlsafe(16),
        "airflow_home": str(base / "home"),
        "dags_folder": str(base / "dags"),
        "extra_dags_folders": [str(p.resolve()) for p in dags_folders],
        "database_url": f"postgresql+psycopg2://airflow@{LOOPBACK}:{port['postgres']}/airflow",
        "broker_url": f"redis://{LOOPBACK}:{port['redis']}/0" if celery else None,
        "gradient_url": f"http://{LOOPBACK}:{port['gradient']}",
        "gradient_api_key_id": f"sbx-key-{secrets.token_hex(6)}",
        "gradient_api_key_secret": f"sbx-secret-{secrets.token_urlsafe(24)}",
        "databricks_url": f"http://{LOOPBACK}:{port['databricks']}",
        "databricks_token": f"dapi{secrets.token_hex(16)}-sbx",
        "sandbox_control_url": f"http://{LOOPBACK}:{port['sandbox_control']}",
        "sandbox_control_token": secrets.token_urlsafe(24),
        "logs_dir": str(base / "logs"),
        "pgdata": None,
        "ports": port,
        "fernet_key": Fernet.generate_key().decode(),
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
        "pids": {},
        "sessions": {},
    }


def _write_files(state: dict[str, Any]) -> None:
    home = Path(state["airflow_home"])
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(exist_ok=True)
    Path(state["logs_dir"]).mkdir(parents=True, exist_ok=True)
    dags = Path(state["dags_folder"])
    dags.mkdir(parents=True, exist_ok=True)
    # The example DAGs plus every --dags-folder, as links the dag-processor follows.
    (dags / "example_dags").symlink_to(ROOT / "example_dags", target_is_directory=True)
    for i, folder in enumerate(state["extra_dags_folders"], start=1):
        (dags / f"extra_{i}").symlink_to(folder, target_is_directory=True)
    (home / "airflow.cfg").write_text(_airflow_cfg(state))
    (home / "config" / "airflow_local_settings.py").write_text(LOCAL_SETTINGS)
    (home / "config" / "deployment_hostname.py").write_text(HOSTNAME_MODULE)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({state["username"]: state["password"]}))
    passwords.chmod(0o600)


# --- components -----------------------------------------------------------------------------


def _run(state: dict[str, Any], name: str, argv: list[str], timeout: float = 300) -> None:
    """Run a setup command; its output goes to ``logs/setup.log`` with secrets masked."""
    proc = subprocess.run(
        argv,
        env=_env(state),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=state["dir"],
    )
    output = proc.stdout + proc.stderr
    for key in ("gradient_api_key_secret", "databricks_token", "password", "fernet_key"):
        output = output.replace(state[key], "***")
    with (Path(state["logs_dir"]) / "setup.log").open("a") as log:
        log.write(f"$ {name}\n{output}\n")
    if proc.returncode != 0:
        raise DeploymentError(f"{name} failed ({proc.returncode}):\n{output[-3000:]}")


def _add_connections(state: dict[str, Any]) -> None:
    """``gradient_default`` and ``databricks_default`` with ``airflow connections add`` (both
    CLIs at once: each pays Airflow's import time), stored encrypted with the Fernet key."""
    gradient = {
        "conn_type": "gradient",
        "host": state["gradient_url"],
        "login": state["gradient_api_key_id"],
        "password": state["gradient_api_key_secret"],
    }
    databricks = {
        "conn_type": "databricks",
        "host": LOOPBACK,
        "port": state["ports"]["databricks"],
        "schema": "http",
        "password": state["databricks_token"],
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                _run,
                state,
                f"airflow connections add {conn_id}",
                [AIRFLOW, "connections", "add", conn_id, "--conn-json", json.dumps(conn)],
            )
            for conn_id, conn in (
                ("gradient_default", gradient),
                ("databricks_default", databricks),
            )
        ]
        for future in futures:
            future.result()


def _start_postgres(state: dict[str, Any]) -> None:
    pgdata = Path(tempfile.mkdtemp(prefix="airflow-gradient-pg-"))
    state["pgdata"] = str(pgdata)
    _save_state(state)
    if _is_root():
        pg = pwd.getpwnam("postgres")
        os.chown(pgdata, pg.pw_uid, pg.pw_gid)
    data = pgdata / "data"
    initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "airflow", "--auth=trust", "-E"]
    _run(state, "initdb", _as_postgres([*initdb, "UTF8", "--no-sync"]))
    argv = [
        str(PG_BIN / "postgres"),
        "-D",
        str(data),
        "-p",
        str(state["ports"]["postgres"]),
        "-h",
        LOOPBACK,
        "-c",
        "unix_socket_directories=",
        "-c",
        "fsync=off",
        "-c",
        "max_connections=200",
    ]
    _spawn(state, "postgres", _as_postgres(argv), _env(state))


def _postgres_ready(state: dict[str, Any]) -> bool:
    import psycopg2

    port = state["ports"]["postgres"]
    conn = psycopg2.connect(host=LOOPBACK, port=port, user="airflow", dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
            if cur.fetchone() is None:
                cur.execute("CREATE DATABASE airflow")
    finally:
        conn.close()
    # The real server's pid (runuser stays in between when started as root).
    pidfile = Path(state["pgdata"]) / "data" / "postmaster.pid"
    state["pids"]["postgres"] = int(pidfile.read_text().split()[0])
    return True


def _redis_argv(state: dict[str, Any]) -> list[str]:
    redis = shutil.which("redis-server")
    if redis is None:
        raise DeploymentError("redis-server is missing: apt-get install -y redis-server")
    port = str(state["ports"]["redis"])
    return [redis, "--port", port, "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]


def _sandbox_env(state: dict[str, Any]) -> dict[str, str]:
    port = state["ports"]
    return _env(
        state,
        {
            "SANDBOX_GRADIENT_PORT": str(port["gradient"]),
            "SANDBOX_DATABRICKS_PORT": str(port["databricks"]),
            "SANDBOX_CONTROL_PORT": str(port["sandbox_control"]),
            "SANDBOX_CONTROL_TOKEN": state["sandbox_control_token"],
            "SANDBOX_API_KEY_ID": state["gradient_api_key_id"],
            "SANDBOX_API_KEY_SECRET": state["gradient_api_key_secret"],
            "SANDBOX_DATABRICKS_TOKEN": state["databricks_token"],
        },
    )


def _celery_hostname(name: str) -> str:
    return f"{name.replace('_', '-')}@airflow-gradient"


def _command(state: dict[str, Any], name: str) -> tuple[list[str], dict[str, str]]:
    """How to start component ``name``: its argv and environment."""
    if name == "postgres":
        raise DeploymentError("postgres is restarted only by down + up")
    if name == "redis":
        return _redis_argv(state), _env(state)
    if name == "sandbox":
        return [sys.executable, str(ROOT / "scripts" / "deployment_sandbox.py")], _sandbox_env(
            state
        )
    if name == "scheduler":
        return [AIRFLOW, "scheduler"], _env(state)
    if name == "dag_processor":
        return [AIRFLOW, "dag-processor"], _env(state)
    if name == "triggerer":
        return [AIRFLOW, "triggerer", "--skip-serve-logs"], _env(state)
    if name == "api_server":
        port = str(state["ports"]["api_server"])
        return [AIRFLOW, "api-server", "-H", LOOPBACK, "-p", port, "-w", "1"], _env(state)
    if name.startswith("worker_") and name[7:].isdigit() and 1 <= int(name[7:]) <= state["workers"]:
        argv = [AIRFLOW, "celery", "worker", "-H", _celery_hostname(name), "--skip-serve-logs"]
        argv += ["-c", str(WORKER_CONCURRENCY), "--without-mingle", "--without-gossip"]
        return argv, _env(state, {"AIRFLOW_GRADIENT_HOSTNAME": name.replace("_", "-")})
    raise DeploymentError(f"Unknown component {name!r}; known: {', '.join(components(state))}")


def components(state: dict[str, Any]) -> list[str]:
    """Every component of the deployment, in start order."""
    names = ["postgres", "sandbox"]
    if state["executor"] == "celery":
        names.append("redis")
    names += list(AIRFLOW_PROCESSES)
    names += [f"worker_{i}" for i in range(1, state["workers"] + 1)]
    return names


# --- health ---------------------------------------------------------------------------------


def _health(state: dict[str, Any]) -> dict[str, Any]:
    reply = httpx.get(f"{state['api_url']}/api/v2/monitor/health", timeout=5)
    reply.raise_for_status()
    health: dict[str, Any] = reply.json()
    return health


def _heartbeat_after(state: dict[str, Any], part: str, since: float) -> bool:
    """Whether ``part`` of the health reply is healthy with a heartbeat newer than ``since``."""
    from datetime import datetime

    info = _health(state).get(part) or {}
    beat = next((v for k, v in info.items() if k.startswith("latest_") and v), None)
    if info.get("status") != "healthy" or beat is None:
        return False
    return datetime.fromisoformat(beat).timestamp() > since


def _workers_answering(state: dict[str, Any], names: list[str]) -> bool:
    from celery import Celery

    app = Celery(broker=state["broker_url"])
    try:
        wanted = {_celery_hostname(n) for n in names}
        replies = app.control.ping(destination=sorted(wanted), timeout=2.0)
        answered = {host for reply in replies for host in reply}
    finally:
        app.close()
    return wanted <= answered


def _sandbox_ready(state: dict[str, Any]) -> bool:
    reply = httpx.get(f"{state['sandbox_control_url']}/health", timeout=5)
    return reply.status_code == 200 and bool(reply.json().get("ok"))


def _api_ready(state: dict[str, Any]) -> bool:
    return httpx.get(f"{state['api_url']}/api/v2/version", timeout=5).status_code == 200


def _wait_healthy(state: dict[str, Any], name: str, since: float, timeout: float = 240) -> None:
    log = Path(state["logs_dir"]) / f"{name}.log"

    def check() -> bool:
        pid = state["pids"].get(name)
        if name != "postgres" and not _alive(pid):
            raise DeploymentError(f"{name} (pid {pid}) exited; see {log}")
        if name == "postgres":
            return _postgres_ready(state)
        if name == "redis":
            import redis

            return bool(redis.Redis(host=LOOPBACK, port=state["ports"]["redis"]).ping())
        if name == "sandbox":
            return _sandbox_ready(state)
        if name == "api_server":
            return _api_ready(state)
        if name in ("scheduler", "triggerer", "dag_processor"):
            return _heartbeat_after(state, name, since)
        return _workers_answering(state, [name])

    def checked() -> bool:
        try:
            return check()
        except DeploymentError:
            raise
        except Exception:
            if name != "postgres" and not _alive(state["pids"].get(name)):
                raise DeploymentError(f"{name} exited; see {log}") from None
            raise

    wait_until(checked, timeout=timeout, what=name, log=log)


# --- commands -------------------------------------------------------------------------------


def public(state: dict[str, Any]) -> dict[str, Any]:
    """The JSON ``up`` prints: how to reach and log into everything, and the process ids."""
    keys = [
        "api_url",
        "username",
        "password",
        "airflow_home",
        "dags_folder",
        "database_url",
        "broker_url",
        "gradient_url",
        "gradient_api_key_id",
        "gradient_api_key_secret",
        "databricks_url",
        "databricks_token",
        "logs_dir",
        "sandbox_control_url",
        "sandbox_control_token",
        "executor",
    ]
    info = {key: state[key] for key in keys}
    info["pids"] = {name: state["pids"].get(name) for name in components(state)}
    return info


def up(
    workers: int = 2, dags_folders: list[Path] | None = None, executor: str = "celery"
) -> dict[str, Any]:
    """Start the whole deployment and wait until it is healthy; return :func:`public`."""
    if load_state():
        raise DeploymentError(f"A deployment is recorded in {state_file()}: run `down` first")
    if executor == "celery" and workers < 1:
        raise DeploymentError("--workers must be at least 1 with the Celery executor")
    shutil.rmtree(state_dir(), ignore_errors=True)
    state = _new_state(workers, list(dags_folders or []), executor)
    _save_state(state)
    _write_files(state)
    started = time.time()
    _start_postgres(state)
    for name in ("sandbox", "redis") if executor == "celery" else ("sandbox",):
        argv, env = _command(state, name)
        _spawn(state, name, argv, env)
    for name in (
        ("postgres", "sandbox", "redis") if executor == "celery" else ("postgres", "sandbox")
    ):
        _wait_healthy(state, name, started)
    _save_state(state)
    _run(state, "airflow db migrate", [AIRFLOW, "db", "migrate"], timeout=600)
    _add_connections(state)
    rest = [n for n in components(state) if n not in ("postgres", "sandbox", "redis")]
    since = time.time()
    for name in rest:
        argv, env = _command(state, name)
        _spawn(state, name, argv, env)
    for name in rest:
        _wait_healthy(state, name, since)
    _save_state(state)
    return public(state)


def restart(name: str) -> dict[str, Any]:
    """Start ``name`` again (stopping it first if it runs) and wait until it is healthy."""
    state = load_state()
    if not state:
        raise DeploymentError("No deployment is recorded: run `up` first")
    argv, env = _command(state, name)
    _stop_session(state["sessions"].get(name))
    since = time.time()
    _spawn(state, name, argv, env)
    _wait_healthy(state, name, since)
    return public(state)


def down() -> list[str]:
    """Stop everything the recorded deployment started; return what was still running."""
    state = load_state()
    if not state:
        return []
    stopped = []
    for name in [n for n in reversed(components(state)) if n != "postgres"]:
        if _stop_session(state["sessions"].get(name)):
            stopped.append(name)
    pg_pid = state["pids"].get("postgres")
    pg_session = state["sessions"].get("postgres")
    if pg_session and pg_pid in _members(pg_session):
        stopped.append("postgres")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pg_pid, signal.SIGINT)  # PostgreSQL's fast shutdown, once the rest stopped
        deadline = time.monotonic() + 30
        while _alive(pg_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    if _stop_session(pg_session, grace=30) and "postgres" not in stopped:
        stopped.append("postgres")
    if state.get("pgdata"):
        shutil.rmtree(state["pgdata"], ignore_errors=True)
    state_file().unlink(missing_ok=True)
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start everything; print one JSON line when healthy")
    p_up.add_argument("--workers", type=int, default=2)
    p_up.add_argument("--dags-folder", action="append", type=Path, default=[])
    p_up.add_argument("--executor", choices=["celery", "local"], default="celery")
    p_restart = sub.add_parser("restart", help="start one component again, wait until healthy")
    p_restart.add_argument("component")
    sub.add_parser("down", help="stop everything up started")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            try:
                info = up(args.workers, args.dags_folder, args.executor)
            except BaseException:
                print("up failed: stopping what it started", file=sys.stderr)
                down()
                raise
        elif args.command == "restart":
            info = restart(args.component)
        else:
            stopped = down()
            print(json.dumps({"stopped": stopped}))
            return 0
    except DeploymentError as exc:
        print(f"deployment: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
