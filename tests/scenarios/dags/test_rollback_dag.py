"""example_dags/gradient_rollback_on_failure.py end to end: ``airflow dags test`` in a
subprocess against the sandbox, once with a failing Databricks run and once with a good one.

The two runs go side by side to keep the test short: each has its own sandbox (the run result
is a sandbox-wide setting) and its own SQLite database (a copy of one migrated database).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[3]
DAG_FILE = ROOT / "example_dags" / "gradient_rollback_on_failure.py"
DAG_ID = "gradient_rollback_on_failure"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
OUTCOMES = ("FAILED", "SUCCESS")


def _demo_script() -> ModuleType:
    """scripts/demo.py, for its ``airflow_env`` recipe (isolated home, SQLite, our DAGs)."""
    spec = importlib.util.spec_from_file_location("gradient_demo", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class DagTest:
    """One ``airflow dags test`` of the DAG against its own sandbox."""

    sb: Sandbox
    job_id: int
    before: dict[str, Any]
    status: int = -1
    output: str = ""

    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.sb.databricks.get_job(self.job_id)["settings"]
        return settings

    def runs(self) -> list[dict[str, Any]]:
        return [r for r in self.sb.databricks.runs if r.get("job_id") == self.job_id]

    def updates(self) -> int:
        return len(self.sb.requests_to("databricks", "POST", "/api/2.2/jobs/update"))


@pytest.fixture(scope="module")
def dag_tests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DagTest]]:
    """Both runs of the DAG, keyed by the Databricks run result the sandbox was set to give."""
    demo = _demo_script()
    dags = tmp_path_factory.mktemp("dags")
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)
    migrated = tmp_path_factory.mktemp("airflow-home")
    migrate = subprocess.run(
        [AIRFLOW, "db", "migrate"],
        env=demo.airflow_env(migrated, dags, {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]

    with Sandbox() as failing, Sandbox() as succeeding:
        tests: dict[str, DagTest] = {}
        procs: dict[str, subprocess.Popen[str]] = {}
        for outcome, sb in zip(OUTCOMES, (failing, succeeding), strict=True):
            sb.databricks.next_run_result = outcome
            seeded = sb.seed_demo()
            job_id = int(seeded["job_id"])
            tests[outcome] = DagTest(sb, job_id, sb.databricks.get_job(job_id)["settings"])
            home = tmp_path_factory.mktemp(f"airflow-home-{outcome.lower()}")
            shutil.copy(migrated / "airflow.db", home / "airflow.db")
            env = demo.airflow_env(home, dags, sb.connections())
            env["AIRFLOW_VAR_GRADIENT_PROJECT_ID"] = str(seeded["project_id"])
            env["AIRFLOW_VAR_DATABRICKS_JOB_ID"] = str(job_id)
            sb.clear_requests()
            procs[outcome] = subprocess.Popen(
                [AIRFLOW, "dags", "test", DAG_ID],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        try:
            for outcome, proc in procs.items():
                tests[outcome].output, _ = proc.communicate(timeout=180)
                tests[outcome].status = proc.returncode
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        yield tests


def test_failed_run_is_rolled_back_and_the_dag_run_fails(dag_tests: dict[str, DagTest]) -> None:
    dag_test = dag_tests["FAILED"]
    tail = dag_test.output[-4000:]
    runs = dag_test.runs()

    assert dag_test.status != 0, tail  # the Databricks run failed: so does the DAG run
    assert len(runs) == 1, tail
    assert runs[0]["state"]["result_state"] == "FAILED"
    used = runs[0]["job_clusters"][0]["new_cluster"]
    assert used["node_type_id"] == "m5.xlarge", tail  # the run used the recommendation...
    assert dag_test.settings() == dag_test.before, tail  # ...and the whole job is back
    assert dag_test.updates() == 2, tail  # the apply, then the rollback
    assert "Rolled back Databricks job" in dag_test.output, tail
    assert "Failing the DAG run on purpose" in dag_test.output, tail
    # The template sets no execution_timeout: the apply derived it from time_bound() before
    # Airflow's task runner read it (3,600 s with the default hook arguments, + 60 s).
    assert "execution_timeout set to 1:01:00" in dag_test.output, tail


def test_good_run_skips_the_rollback_and_keeps_the_recommendation(
    dag_tests: dict[str, DagTest],
) -> None:
    dag_test = dag_tests["SUCCESS"]
    tail = dag_test.output[-4000:]
    runs = dag_test.runs()

    assert dag_test.status == 0, tail
    assert len(runs) == 1, tail
    assert runs[0]["state"]["result_state"] == "SUCCESS"
    cluster = dag_test.settings()["job_clusters"][0]["new_cluster"]
    assert cluster != dag_test.before["job_clusters"][0]["new_cluster"]
    assert cluster == runs[0]["job_clusters"][0]["new_cluster"]
    assert cluster["node_type_id"] == "m5.xlarge" and cluster["num_workers"] == 4
    assert dag_test.updates() == 1, tail  # the apply only
    assert "Rolled back" not in dag_test.output and "Failing the DAG run" not in dag_test.output


def test_the_example_dag_has_the_documented_shape() -> None:
    import runpy

    from airflow_gradient.policies import validate_dag

    dag = runpy.run_path(str(DAG_FILE))["dag"]

    assert dag.dag_id == DAG_ID and not dag.params
    assert dag.get_task("run_job").upstream_task_ids == {"apply_recommendation"}
    rollback = dag.get_task("rollback_cluster")
    # apply_result=apply_recommendation.output: the XCom by reference, and a dependency
    assert rollback.upstream_task_ids == {"run_job", "apply_recommendation"}
    assert rollback.trigger_rule == "one_failed"
    assert rollback.apply_task_id is None and rollback.allow_missing_result is True
    assert rollback.apply_result.operator is dag.get_task("apply_recommendation")
    assert rollback.force is False
    watcher = dag.get_task("fail_dag_run")
    assert watcher.upstream_task_ids == {"rollback_cluster"}
    assert watcher.trigger_rule == "all_success" and not watcher.downstream_task_ids
    assert dag.get_task("run_job").polling_period_seconds == 5
    assert validate_dag(dag) == []
    for heading in ("Connections:", "Variables:", "To adapt it:", "DAG run state:"):
        assert heading in (dag.doc_md or "")
