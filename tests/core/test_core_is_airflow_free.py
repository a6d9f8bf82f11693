"""Every module under ``airflow_gradient/core/`` imports with Airflow blocked.

The CLI, the Terraform helpers and any other tool use the core without Airflow; a core module
that imports Airflow (directly or through the edge) fails here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import airflow_gradient

CORE = Path(airflow_gradient.__file__).parent / "core"

# Runs in a fresh interpreter: a meta-path finder refuses ``airflow`` and its submodules, then
# every core module is imported; each failure is printed, and the exit status counts them.
_PROBE = """
import importlib, importlib.abc, sys

class BlockAirflow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ImportError(f"airflow is blocked in the core: {name}")
        return None

sys.meta_path.insert(0, BlockAirflow())
failed = 0
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
    except Exception as error:
        failed += 1
        print(f"{module}: {type(error).__name__}: {error}")
loaded = sorted(name for name in sys.modules if name == "airflow" or name.startswith("airflow."))
if loaded:
    failed += 1
    print("airflow modules loaded anyway:", ", ".join(loaded))
sys.exit(failed)
"""


def core_modules() -> list[str]:
    """Every module and package of ``airflow_gradient.core``, by dotted name."""
    root = CORE.parent.parent
    names = []
    for path in sorted(CORE.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def test_the_probe_finds_the_core_modules() -> None:
    modules = core_modules()
    assert "airflow_gradient.core.errors" in modules
    assert "airflow_gradient.core.cluster.locate" in modules
    assert "airflow_gradient.core.terraform" in modules


def test_every_core_module_imports_without_airflow() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *core_modules()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr


def test_the_probe_fails_on_a_module_that_imports_airflow() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, "airflow_gradient.exceptions"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert probe.returncode == 1
    assert "airflow is blocked" in probe.stdout
