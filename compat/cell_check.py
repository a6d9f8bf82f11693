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

#: Templates that need more than the package's floors: Airflow minor, provider versions.
TEMPLATE_NEEDS: dict[str, tuple[tuple[int, int], dict[str, tuple[int, ...]]]] = {
    # Human in the loop arrived in Airflow 3.1; ApprovalOperator(response_timeout=) in the
    # standard provider 1.13.0.
    "gradient_copilot.py": ((3, 1), {"apache-airflow-providers-standard": (1, 13, 0)}),
}

DEFERRABLE_DAG_ID = "compat_request_and_wait"
#: The request → deferrable sensor DAG, shared with the test suite's ``airflow dags test`` run.
DEFERRABLE_DAG = (
    Path(__file__).resolve().parents[1] / "tests" / "data" / "request_and_wait_dag.py.tmpl"
).read_text()

#: Airflow 2.11 has no FastAPI UI: the same facts from the providers manager the Flask UI reads.
FORM_SCRIPT_2 = """
import json
from airflow.providers_manager import ProvidersManager
pm = ProvidersManager()
hook = pm.hooks["gradient"]
behaviour = pm.field_behaviours.get("gradient") or {}
relabel = behaviour.get("relabeling", {})
prefix = "extra__gradient__"
widgets = sorted(k[len(prefix):] for k in pm.connection_form_widgets if k.startswith(prefix))
print("RESULT" + json.dumps({
    "hook_class_name": hook.hook_class_name,
    "hook_name": hook.hook_name,
    "login": relabel.get("login"),
    "password": relabel.get("password"),
    "port_hidden": "port" in behaviour.get("hidden_fields", []),
    "extra_fields": widgets,
}))
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

#: The Gradient connection's extra fields, as the UI lists them (sorted).
EXTRA_FIELDS = ("allow_insecure_http", "ca_bundle", "proxy", "verify")

#: The databricks provider that first accepts a mapped ``job_id`` in ``DatabricksRunNowOperator``
#: (``example_dags/gradient_fleet.py`` needs it).
FLEET_MIN_DATABRICKS = (7, 16, 1)
FLEET = "gradient_fleet.py"
WORKFLOW = "gradient_workflow_group.py"
WORKFLOW_JOB = "gradient_workflow_group.workflow"
#: From this provider on, the group's ``extra_job_params`` is templated (the XCom form works).
WORKFLOW_TEMPLATED_EXTRA_PARAMS = (7, 10, 0)
WORKFLOW_WEBHOOK_PLACEHOLDER = "<webhook_id of the Gradient workspace>"

TF_FILE = 'resource "databricks_job" "etl" {\n  name = "etl"\n}\n'


class CheckFailed(Exception):
    """A check's verdict, with what was seen."""


def installed(distribution: str) -> tuple[int, ...]:
    """The installed version of ``distribution`` as numbers, ``()`` when it is not installed."""
    from importlib import metadata

    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ()
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def databricks_provider() -> tuple[int, ...]:
    return installed("apache-airflow-providers-databricks")


def airflow_minor() -> tuple[int, int]:
    from importlib import metadata

    try:
        version = metadata.version("apache-airflow-core")
    except metadata.PackageNotFoundError:  # Airflow 2 has no separate core distribution
        version = metadata.version("apache-airflow")
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def run(argv: list[str], env: dict[str, str], timeout: float = 600) -> tuple[int, str]:
    """Exit status and output of ``argv``; a timeout is status 124 with the output so far."""
    try:
        proc = subprocess.run(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        out = expired.output or ""
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        return 124, f"{text}\n[timed out after {timeout:.0f} s]"
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
                # Import errors are the check, not parse speed: a loaded build machine must not
                # turn a slow parse into an import error (the default limit is 30 s).
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
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

        found = pkgutil.walk_packages(airflow_gradient.__path__, "airflow_gradient.")
        names = [m.name for m in found]
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
        skipped, refused = [], []
        old_provider = databricks_provider() < FLEET_MIN_DATABRICKS
        for path in sorted(self.example_dags.glob("*.py")):
            minor, providers = TEMPLATE_NEEDS.get(path.name, ((0, 0), {}))
            if self.minor < minor or any(installed(d) < v for d, v in providers.items()):
                skipped.append(path.stem)
                continue
            shutil.copy(path, self.dags / path.name)
            self.templates.append(path.name)
        from airflow.models import DagBag

        bag = DagBag(dag_folder=str(self.dags))
        errors = {Path(f).name: e for f, e in bag.import_errors.items()}
        if old_provider and FLEET in errors and "MappedArgument" in errors[FLEET]:
            # The documented floor of the fleet template: below it the provider refuses it.
            refused.append(FLEET)
            del errors[FLEET]
            self.templates.remove(FLEET)
            (self.dags / FLEET).unlink()
        if errors:
            raise CheckFailed("; ".join(f"{name}: {tail(e, 3)}" for name, e in errors.items()))
        loaded = {Path(dag.fileloc).name for dag in bag.dags.values()}
        missing = set(self.templates) - loaded
        if missing:
            raise CheckFailed(f"no DAG from {sorted(missing)}")
        if old_provider and not refused:
            raise CheckFailed(f"{FLEET} loaded on a provider below 7.16.1: its floor is wrong")
        notes = [f"not {', '.join(skipped)}: needs a newer Airflow or provider"] if skipped else []
        notes += ["fleet refused below provider 7.16.1, as documented"] if refused else []
        note = f" ({'; '.join(notes)})" if notes else ""
        return f"{len(self.templates)} templates{note}"

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

    def fleet(self) -> str:
        """The fleet template end to end (provider >= 7.16.1; below, see templates)."""
        if FLEET not in self.templates:
            return "n/a: needs databricks provider 7.16.1+"
        from airflow_gradient.sandbox import Sandbox
        from airflow_gradient.sandbox.seeds import demo_job_settings

        with Sandbox() as sb:
            sb.databricks.run_duration = 0.5
            fleet = []
            for name in ("etl-orders", "etl-clicks"):
                settings = demo_job_settings()
                settings["name"] = name
                job_id = sb.databricks.create_job(settings)
                project = sb.gradient.create_project(
                    job_id=job_id, cluster_path="job_clusters/main"
                )
                rec_id = sb.gradient.add_recommendation(project["id"])
                fleet.append({"project_id": project["id"], "job_id": job_id, "rec": rec_id})
            variable = [{"project_id": f["project_id"], "job_id": f["job_id"]} for f in fleet]
            extra = {**sb.connections(), "AIRFLOW_VAR_GRADIENT_FLEET": json.dumps(variable)}
            status, out = self.airflow("dags", "test", "gradient_fleet", extra_env=extra)
            ran = sorted(r["job_id"] for r in sb.databricks.runs)
            tags = [
                sb.databricks.get_job(f["job_id"])["settings"]["job_clusters"][0]["new_cluster"][
                    "custom_tags"
                ].get("sync:recommendation-id")
                for f in fleet
            ]
        if status != 0:
            raise CheckFailed(f"airflow dags test exited {status}:\n{tail(out)}")
        if tags != [f["rec"] for f in fleet] or ran != sorted(f["job_id"] for f in fleet):
            raise CheckFailed(f"jobs not applied and run: tags {tags}, runs {ran}")
        return "2 jobs applied and run"

    def workflow_group(self) -> str:
        """The workflow-group template end to end: the real group on tuned job_clusters.

        Two runs: the first creates the job on baseline + Gradient's template, the second
        resets it with the recommendation merged in. On provider 7.9 (``extra_job_params`` not
        templated) the template's static webhook form gets the sandbox's destination id
        written in, as a user writes theirs.
        """
        if WORKFLOW not in self.templates:
            # Every cell's provider (7.9 floor and up) supports the template: never skipped.
            raise CheckFailed(f"{WORKFLOW} was not loaded in this cell")
        from airflow_gradient.sandbox import Sandbox

        with Sandbox() as sb:  # default run behaviour: the launch must find its run started
            workspace = sb.gradient.create_workspace(sb.databricks.workspace_id)
            project = sb.gradient.create_project(
                name="workflow", workspace_id=workspace["workspace_id"]
            )
            webhook_id = workspace["webhook_id"]
            if databricks_provider() < WORKFLOW_TEMPLATED_EXTRA_PARAMS:
                path = self.dags / WORKFLOW
                source = path.read_text()
                path.write_text(source.replace(WORKFLOW_WEBHOOK_PLACEHOLDER, webhook_id))
            extra = {**sb.connections(), "AIRFLOW_VAR_GRADIENT_PROJECT_ID": project["id"]}
            outputs = []
            for attempt in range(2):
                status, out = self.airflow(
                    "dags", "test", "gradient_workflow_group", extra_env=extra
                )
                outputs.append(out)
                if status != 0:
                    raise CheckFailed(f"run {attempt + 1} exited {status}:\n{tail(out)}")
                if attempt == 0:
                    rec_id = sb.gradient.add_recommendation(project["id"], {"num_workers": 3})
            jobs = [j for j in sb.databricks.jobs if j["settings"]["name"] == WORKFLOW_JOB]
            runs = sb.databricks.runs
        if len(jobs) != 1 or len(runs) != 2:
            raise CheckFailed(f"{len(jobs)} jobs named {WORKFLOW_JOB}, {len(runs)} runs")
        settings = jobs[0]["settings"]
        cluster = settings["job_clusters"][0]["new_cluster"]
        tags = cluster.get("custom_tags", {})
        if tags.get("sync:recommendation-id") != rec_id or cluster.get("num_workers") != 3:
            raise CheckFailed(f"run 2 did not use the recommendation: {cluster}")
        if tags.get("sync:project-id") != project["id"] or "cluster_log_conf" not in cluster:
            raise CheckFailed(f"Gradient's cluster template is missing: {cluster}")
        on_start = settings.get("webhook_notifications", {}).get("on_start", [])
        if {"id": webhook_id} not in on_start:
            raise CheckFailed(f"the job lacks Gradient's on_start webhook: {on_start}")
        if runs[-1]["job_clusters"][0]["new_cluster"] != cluster:
            raise CheckFailed("the second run did not use the merged cluster")
        task_logs = [p.read_text(errors="replace") for p in (self.work / "home").rglob("*.log")]
        if not any("Databricks job started" in text for text in outputs + task_logs):
            raise CheckFailed(f"the launch did not report the run started:\n{tail(outputs[-1])}")
        return "job created on template, reset on the recommendation, webhook on the job"

    def connection_form(self) -> str:
        script = FORM_SCRIPT if self.minor >= (3, 0) else FORM_SCRIPT_2
        status, out = run([sys.executable, "-c", script], self.env)
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
            "extra_fields": list(EXTRA_FIELDS),
        }
        note = "labels, hidden fields, " + ", ".join(EXTRA_FIELDS)
        if (3, 0) <= self.minor < (3, 1):
            # Airflow 3.0 imports wtforms before asking any hook for its form and has no
            # stand-in without it: with no FAB provider installed, no provider's custom form
            # (ours, databricks', smtp's) reaches the UI. The hook is still registered.
            expected.update(login=None, password=None, port_hidden=False, extra_fields=[])
            note = "registered; custom fields need the FAB provider on Airflow 3.0"
        if meta != expected:
            raise CheckFailed(f"got {meta}, expected {expected}")
        return note

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
        ("fleet", cell.fleet),
        ("workflow-group", cell.workflow_group),
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
