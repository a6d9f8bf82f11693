"""`make demo` end to end: the example DAG under `airflow dags test` against the sandbox."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_applies_the_recommendation_and_the_run_uses_it() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "=== What changed in job cluster 'main' ===" in out
    assert 'node_type_id                               | "i3.2xlarge"' in out
    assert '"num_workers": 4' in out
    assert "Demo OK" in out
