"""The checks of one compatibility cell, run by that cell's Python (``scripts/compat.py``).

The cell's virtualenv holds one Airflow release, one databricks provider version and the
``airflow-gradient`` wheel, nothing else. This script imports every module of the package, loads
every template the cell's Airflow supports, runs apply → run-now and the deferrable sensor under
``airflow dags test`` against the sandbox, reads the connection-form metadata Airflow's UI gets,
checks ``airflow providers get airflow-gradient``, and checks what ``check-config`` says without
the ``terraform`` extra. Prints one ``CHECK <name> PASS|FAIL <seconds> <detail>`` line per check
and exits 1 if any failed. Only the standard library and the installed packages are used.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Templates that need more than the package's minimum Airflow, with the reason.
TEMPLATE_NEEDS: dict[str, tuple[tuple[int, int], str]] = {
    "gradient_copilot.py": ((3, 1), "human-in-the-loop (ApprovalOperator) arrived in Airflow 3.1"),
}

DEFERRABLE_DAG_ID = "compat_request_and_wait"
DEFERRABLE_DAG = """
from datetime import datetime

from airflow.sdk import DAG, task

from airflow_gradient.operators.request import GradientRequestRecommendationOperator
from airflow_gradient.sensors.recommendation import GradientRecommendationSensor

with DAG(dag_id="{dag_id}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    request = GradientRequestRecommendationOperator(task_id="request", project_id="{project_id}")
    wait = GradientRecommendationSensor(
        task_id="wait",
        project_id="{project_id}",
        newer_than=request.output,
        deferrable=True,
        poke_interval=1,
        timeout=60,
    )

    @task
    def report(awaited: str, requested: str) -> None:
        assert awaited == requested, (awaited, requested)
        print("AWAITED-RECOMMENDATION", awaited)

    report(wait.output, request.output)
"""

FORM_SCRIPT = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
[meta] = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "gradient"]
fields = meta.standard_fields
print("RESULT" + json.dumps({
    "hook_class_name": meta.hook_class_name,
    "hook_name": meta.hook_name,
    "login": fields.login.title if fields and fields.login else None,
    "password": fields.password.title if fields and fields.password else None,
    "port_hidden": bool(fields and fields.port and fields.port.hidden),
    "extra_fields": sorted(meta.extra_fields or {}),
}))
"""

TF_FILE = 'resource "databricks_job" "etl" {\n  name = "etl"\n}\n'


class CheckFailed(Exception):
    """A check's verdict, with what was seen."""


def airflow_minor() -> tuple[int, int]:
    from importlib import metadata

    major, minor = metadata.version("apache-airflow-core").split(".")[:2]
    return int(major), int(minor)


def run(argv: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    proc = subprocess.run(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


class Cell:
    """The state the checks share: paths, environment, the sandbox."""

    def __init__(self, work: Path, example_dags: Path) -> None:
        self.work = work
        self.dags = work / "dags"
        self.example_dags = example_dags
        self.bin = Path(sys.executable).parent
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        self.env.update(
            {
                "AIRFLOW_HOME": str(work / "home"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'home' / 'airflow.db'}",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            }
        )
        self.minor = airflow_minor()
        self.templates: list[str] = []
        self.logs = work / "logs"

    def airflow(self, *args: str, extra_env: dict[str, str] | None = None) -> tuple[int, str]:
        status, out = run([str(self.bin / "airflow"), *args], {**self.env, **(extra_env or {})})
        name = "_".join(a for a in args if not a.startswith("-"))[:60] or "airflow"
        (self.logs / f"{name}.log").write_text(out)
        return status, out

    # --- checks -----------------------------------------------------------------------------

    def imports(self) -> str:
        import airflow_gradient

        names = [m.name for m in pkgutil.walk_packages(airflow_gradient.__path__, "airflow_gradient.")]
        failed = []
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as error:
                failed.append(f"{name}: {type(error).__name__}: {error}")
        if failed:
            raise CheckFailed("; ".join(failed))
        return f"{len(names) + 1} modules"

    def templates_load(self) -> str:
        skipped = []
        for path in sorted(self.example_dags.glob("*.py")):
            need = TEMPLATE_NEEDS.get(path.name)
            if need and self.minor < need[0]:
                skipped.append(path.stem)
                continue
            shutil.copy(path, self.dags / path.name)
            self.templates.append(path.name)
        from airflow.models import DagBag

        bag = DagBag(dag_folder=str(self.dags))
        if bag.import_errors:
            raise CheckFailed(
                "; ".join(f"{Path(f).name}: {tail(e, 3)}" for f, e in bag.import_errors.items())
            )
        loaded = {Path(dag.fileloc).name for dag in bag.dags.values()}
        missing = set(self.templates) - loaded
        if missing:
            raise CheckFailed(f"no DAG from {sorted(missing)}")
        note = f" (not {', '.join(skipped)}: needs a newer Airflow)" if skipped else ""
        return f"{len(self.templates)} templates, {len(bag.dags)} DAGs{note}"

    def db_migrate(self) -> str:
        status, out = self.airflow("db", "migrate")
        if status != 0:
            raise CheckFailed(tail(out))
        return "ok"

    def apply_then_run(self) -> str:
        from airflow_gradient.sandbox import Sandbox

        with Sandbox() as sb:
            sb.databricks.run_duration = 1.0
            seeded = sb.seed_demo()
            job_id, rec_id = seeded["job_id"], seeded["recommendation_id"]
            extra = {
                **sb.connections(),
                "AIRFLOW_VAR_GRADIENT_PROJECT_ID": seeded["project_id"],
                "AIRFLOW_VAR_DATABRICKS_JOB_ID": str(job_id),
            }
            status, out = self.airflow("dags", "test", "gradient_apply_then_run", extra_env=extra)
            if status != 0:
                raise CheckFailed(f"airflow dags test exited {status}:\n{tail(out)}")
            cluster = sb.databricks.get_job(job_id)["settings"]["job_clusters"][0]["new_cluster"]
            runs = [r for r in sb.databricks.runs if r.get("job_id") == job_id]
        tag = cluster.get("custom_tags", {}).get("sync:recommendation-id")
        if tag != rec_id:
            raise CheckFailed(f"the job's cluster is not tagged {rec_id} (got {tag!r})")
        if not runs or runs[-1]["job_clusters"][0]["new_cluster"] != cluster:
            raise CheckFailed("the Databricks run did not use the updated cluster")
        return f"job {job_id} updated, run {runs[-1]['run_id']} used it"

    def deferrable_sensor(self) -> str:
        from airflow_gradient.sandbox import Sandbox

        with Sandbox() as sb:
            job_id = sb.databricks.create_job(
                {
                    "name": "etl",
                    "job_clusters": [
                        {
                            "job_cluster_key": "main",
                            "new_cluster": {"node_type_id": "m5.xlarge", "num_workers": 2},
                        }
                    ],
                    "tasks": [{"task_key": "t", "job_cluster_key": "main"}],
                }
            )
            project_id = sb.gradient.create_project(job_id=job_id)["id"]
            sb.gradient.recommendation_ready_after_reads = 2
            (self.dags / "compat_request_and_wait.py").write_text(
                DEFERRABLE_DAG.format(dag_id=DEFERRABLE_DAG_ID, project_id=project_id)
            )
            status, out = self.airflow(
                "dags", "test", DEFERRABLE_DAG_ID, extra_env=sb.connections()
            )
            [rec] = sb.gradient.recommendations(project_id)
        if status != 0:
            raise CheckFailed(f"airflow dags test exited {status}:\n{tail(out)}")
        if f"AWAITED-RECOMMENDATION {rec['id']}" not in out:
            raise CheckFailed("the sensor did not hand over the requested recommendation")
        if "running trigger in line" not in out.lower():
            raise CheckFailed("the sensor did not defer (no trigger ran)")
        return f"deferred, trigger ran, got {rec['id'][:8]}"

    def connection_form(self) -> str:
        status, out = run([sys.executable, "-c", FORM_SCRIPT], self.env)
        (self.logs / "connection_form.log").write_text(out)
        if status != 0 or "RESULT" not in out:
            raise CheckFailed(tail(out))
        meta: dict[str, Any] = json.loads(out.rsplit("RESULT", 1)[1])
        expected = {
            "hook_class_name": "airflow_gradient.hooks.gradient.GradientHook",
            "hook_name": "Gradient",
            "login": "API key ID",
            "password": "API key secret",
            "port_hidden": True,
            "extra_fields": ["allow_insecure_http"],
        }
        if meta != expected:
            raise CheckFailed(f"got {meta}, expected {expected}")
        return "labels, hidden fields, allow_insecure_http"

    def providers_get(self) -> str:
        status, out = self.airflow("providers", "get", "airflow-gradient")
        if status != 0 or "airflow-gradient" not in out:
            raise CheckFailed(f"exit {status}:\n{tail(out)}")
        return "registered"

    def check_config_without_extra(self) -> str:
        tf = self.work / "job.tf"
        tf.write_text(TF_FILE)
        status, out = run(
            [str(self.bin / "airflow-gradient"), "terraform", "check-config", str(tf)], self.env
        )
        if status != 2 or "pip install 'airflow-gradient[terraform]'" not in out:
            raise CheckFailed(f"exit {status}: {tail(out, 5)}")
        return "says: pip install 'airflow-gradient[terraform]'"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", required=True, type=Path, help="empty scratch folder")
    parser.add_argument("--example-dags", required=True, type=Path)
    args = parser.parse_args()
    cell = Cell(args.work.resolve(), args.example_dags.resolve())
    for folder in (cell.dags, cell.work / "home", cell.logs):
        folder.mkdir(parents=True, exist_ok=True)
    # The in-process checks (imports, DagBag) read the same configuration as the CLI calls.
    for key in [k for k in os.environ if k.startswith("AIRFLOW")]:
        del os.environ[key]
    os.environ.update(cell.env)
    checks: list[tuple[str, Callable[[], str]]] = [
        ("imports", cell.imports),
        ("templates", cell.templates_load),
        ("db-migrate", cell.db_migrate),
        ("apply-run-now", cell.apply_then_run),
        ("deferrable-sensor", cell.deferrable_sensor),
        ("connection-form", cell.connection_form),
        ("providers-get", cell.providers_get),
        ("check-config-hint", cell.check_config_without_extra),
    ]
    failed = 0
    for name, check in checks:
        start = time.monotonic()
        try:
            detail, verdict = check(), "PASS"
        except CheckFailed as error:
            detail, verdict = str(error), "FAIL"
        except Exception:
            detail, verdict = traceback.format_exc(), "FAIL"
        failed += verdict == "FAIL"
        seconds = time.monotonic() - start
        print(f"CHECK {name} {verdict} {seconds:.1f} {json.dumps(detail)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
