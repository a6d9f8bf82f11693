"""A DAG file importing our operators pays for nothing heavy at parse time.

One fresh interpreter parses the same DAG without the Gradient task first (``BASELINE``), then
the example DAG; what the second parse adds is what the Gradient task costs.
``benchmarks/dag_parse.py`` measures the time this costs; this test pins which modules load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "example_dags" / "gradient_apply_then_run.py"

#: ``gradient_apply_then_run`` without the Gradient task: what parsing costs anyway.
BASELINE = '''"""Baseline: the example DAG without its Gradient task."""
from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator

with DAG(
    dag_id="baseline",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:
    DatabricksRunNowOperator(task_id="run_job", job_id="{{ var.value.databricks_job_id }}")
'''

#: Runs in the child: ``python -c CHILD <baseline dag> <dag file>``.
CHILD = """
import json, sys
from airflow.models import DagBag
assert not DagBag(dag_folder=sys.argv[1]).import_errors
before = set(sys.modules)
bag = DagBag(dag_folder=sys.argv[2])
assert not bag.import_errors, bag.import_errors
print("RESULT" + json.dumps({
    "tasks": sorted(next(iter(bag.dags.values())).task_ids),
    "added": sorted(set(sys.modules) - before),
    "loaded": sorted(sys.modules),
}))
"""

#: Modules a DAG file importing our operators must not load.
HEAVY = (
    "httpx",
    "databricks.sdk",
    "wtforms",
    "flask_appbuilder",
    "hcl2",
    "airflow_gradient.sandbox",
    "airflow_gradient.hooks.gradient",
    "airflow_gradient.hooks.databricks",
)


def _is_heavy(module: str, heavy: tuple[str, ...] = HEAVY) -> bool:
    return any(module == name or module.startswith(name + ".") for name in heavy)


def _parse(tmp_path: Path) -> dict[str, Any]:
    baseline = tmp_path / "baseline" / "baseline.py"
    baseline.parent.mkdir()
    baseline.write_text(BASELINE, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
    )
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(baseline), str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0 and "RESULT" in proc.stdout, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.rsplit("RESULT", 1)[1])
    return result


def test_parsing_the_example_dag_loads_only_light_modules_of_ours(tmp_path: Path) -> None:
    result = _parse(tmp_path)

    assert result["tasks"] == ["apply_recommendation", "run_job"]
    # The DAG file's own module is named ``unusual_prefix_<hash>_...`` by Airflow.
    ours = [m for m in result["added"] if not m.startswith("unusual_prefix_")]
    assert "airflow_gradient.operators.apply" in ours
    assert [m for m in ours if not m.startswith("airflow_gradient.")] == []
    assert [m for m in ours if _is_heavy(m)] == []
    # Not loaded at all: neither by the Gradient task nor by the rest of the parse (httpx is
    # loaded by Airflow itself, so it is only checked among what the Gradient task adds).
    never = [name for name in HEAVY if name != "httpx"]
    assert [
        m for m in result["loaded"] if any(m == n or m.startswith(n + ".") for n in never)
    ] == []
