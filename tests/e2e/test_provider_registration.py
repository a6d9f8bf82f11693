"""Airflow discovers the provider through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from airflow_gradient.get_provider_info import get_provider_info


def test_provider_info_names_the_distribution() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-gradient"
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "gradient"
    assert conn_type["hook-class-name"] == "airflow_gradient.hooks.gradient.GradientHook"


def test_airflow_providers_list_shows_the_package(tmp_path: Path) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    proc = subprocess.run(
        [airflow, "providers", "list", "--output", "plain"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "airflow-gradient" in proc.stdout
