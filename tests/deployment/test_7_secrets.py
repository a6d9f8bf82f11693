"""Scenario 7 (after the others): no credential in plain text in the database or any log."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from tests.deployment.client import SandboxControl
from tests.secrets_scan import leaks, sandbox_secrets


def test_no_secret_in_postgres_component_logs_or_task_logs(
    deployment: dict[str, Any], sandbox: SandboxControl, script: ModuleType
) -> None:
    tokens = sandbox.tokens()
    assert tokens, "the scenarios before this one requested Gradient tokens"
    everything = sandbox_secrets(
        SimpleNamespace(  # type: ignore[arg-type]
            api_key_id=deployment["gradient_api_key_id"],
            api_key_secret=deployment["gradient_api_key_secret"],
            databricks_token=deployment["databricks_token"],
            gradient=SimpleNamespace(issued_tokens=tokens),
        )
    )
    # The key id names the key, like a user name: Airflow stores a connection's login in plain
    # text on purpose (only password and extra are encrypted). Secret: the key's secret, the
    # PAT, every token.
    secrets = {what: value for what, value in everything.items() if what != "Gradient API key id"}
    url = urlsplit(deployment["database_url"])
    dump = subprocess.run(
        [
            str(script.PG_BIN / "pg_dump"),
            "-h",
            url.hostname or "127.0.0.1",
            "-p",
            str(url.port),
            "-U",
            url.username or "airflow",
            "airflow",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dump.returncode == 0, dump.stderr[-2000:]
    # The dump holds XComs, rendered template fields and the (encrypted) connections.
    assert "COPY public.xcom" in dump.stdout and "COPY public.connection" in dump.stdout
    assert "gradient_default" in dump.stdout
    # The connection row is in the dump (its login in clear), its password is not (encrypted).
    assert deployment["gradient_api_key_id"] in dump.stdout

    component_logs = Path(deployment["logs_dir"])
    task_logs = Path(deployment["airflow_home"]) / "logs"
    assert any(task_logs.rglob("attempt=*.log")), "no task log to scan"
    found = leaks(secrets, [component_logs, task_logs], [dump.stdout])
    assert not found, f"credentials in plain text: {found}"

    # The scan does find a credential where one is on purpose: the deployment's state file.
    assert "Databricks PAT in " + str(script.state_file()) in leaks(secrets, [script.state_file()])
