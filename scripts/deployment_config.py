"""Configuration of ``scripts/deployment.py``: the state it records and the files it writes
(``airflow.cfg``, ``airflow_local_settings.py``, the hostname callable, the passwords file)."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path
from typing import Any

from deployment_processes import LOOPBACK, free_port

ROOT = Path(__file__).resolve().parents[1]
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


def airflow_cfg(state: dict[str, Any]) -> str:
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


def new_state(base: Path, workers: int, dags_folders: list[Path], executor: str) -> dict[str, Any]:
    from cryptography.fernet import Fernet

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


def write_files(state: dict[str, Any]) -> None:
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
    (home / "airflow.cfg").write_text(airflow_cfg(state))
    (home / "config" / "airflow_local_settings.py").write_text(LOCAL_SETTINGS)
    (home / "config" / "deployment_hostname.py").write_text(HOSTNAME_MODULE)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({state["username"]: state["password"]}))
    passwords.chmod(0o600)
