"""Plain secrets in a job's cluster never reach Airflow: the templates run under ``airflow dags
test`` (apply + rollback, dry run, copilot approval) and the whole metadata database (table by
table: XComs, rendered template fields, HITL bodies, ...), the task logs and the command output
are searched for every planted value. Each planted ``{{secrets/...}}`` reference must still be
visible somewhere, so the scan fails both ways; a run with the redaction switched off must be
caught by the same scan."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox
from airflow_gradient.sandbox.airflow_home import stop, tail
from tests.scenarios.templates.harness import AirflowHome, ApiServer
from tests.secrets_scan import database_texts, found_in, leaks

AZURE = "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net"
PLANTED = {
    "DB_PASSWORD in spark_env_vars": "plain-db-password-7401",
    "storage account key in spark_conf": "azure-account-key-value-5532",
    "token-ish custom tag": "custom-tag-token-value-8264",
}
RECOMMENDED = {  # a recommendation that (unusually) changes secret values, to go through diffs
    "recommended DB_PASSWORD": "recommended-db-password-1190",
    "recommended storage key": "recommended-account-key-3375",
}
REFERENCES = {
    "reference in spark_env_vars": "{{secrets/etl/warehouse}}",
    "reference in spark_conf": "{{secrets/aws/s3-secret-key}}",
}
ROLLBACK_DAG, COPILOT_DAG = "gradient_rollback_on_failure", "gradient_copilot"
#: Where Airflow 3.3 keeps what it shows of a task: checked to exist, so the scan covers them.
TABLES = ("xcom", "rendered_task_instance_fields", "hitl_detail")
#: A DAG file that switches the redaction off in the `airflow dags test` process.
NO_REDACTION = """
# Not a DAG: imported with the dags folder, it switches airflow-gradient's redaction off.
import airflow_gradient.masking as masking
masking.airflow_redactor = lambda: (lambda key, value: value)
"""


def cluster(sb: Sandbox, job_id: int) -> dict[str, Any]:
    spec: dict[str, Any] = sb.databricks.get_job(job_id)["settings"]["job_clusters"][0][
        "new_cluster"
    ]
    return spec


def plant(sb: Sandbox) -> dict[str, Any]:
    """The demo job with plain secrets and secret references in its cluster."""
    seeded = sb.seed_demo()
    settings = sb.databricks.get_job(seeded["job_id"])["settings"]
    spec = settings["job_clusters"][0]["new_cluster"]
    spec["spark_env_vars"] = {
        "DB_PASSWORD": PLANTED["DB_PASSWORD in spark_env_vars"],
        "WAREHOUSE_PASSWORD": REFERENCES["reference in spark_env_vars"],
    }
    spec.setdefault("spark_conf", {})[AZURE] = PLANTED["storage account key in spark_conf"]
    spec["spark_conf"]["spark.hadoop.fs.s3a.secret.key"] = REFERENCES["reference in spark_conf"]
    spec.setdefault("custom_tags", {})["api_token"] = PLANTED["token-ish custom tag"]
    sb.databricks.update_job(seeded["job_id"], {"job_clusters": settings["job_clusters"]})
    return seeded


def variables(seeded: dict[str, Any]) -> dict[str, Any]:
    return {
        "gradient_project_id": seeded["project_id"],
        "databricks_job_id": str(seeded["job_id"]),
    }


@dataclass
class Round:
    """What one DAG run printed, and what must hold after it (checked after the scan, so the
    scan runs whatever the behaviour)."""

    output: str
    facts: dict[str, bool]

    def failed_facts(self) -> list[str]:
        return [what for what, holds in self.facts.items() if not holds]


def rollback_round(sb: Sandbox, home: AirflowHome, seeded: dict[str, Any]) -> Round:
    """apply → failed run → rollback: the cluster is back exactly (secrets included)."""
    before = copy.deepcopy(cluster(sb, seeded["job_id"]))
    sb.databricks.next_run_result = "FAILED"
    ran = home.dags_test(ROLLBACK_DAG, home.env(sb.connections(), variables(seeded)))
    return Round(
        ran.output,
        {
            "the DAG run fails on purpose (fail_dag_run)": ran.returncode != 0,
            "the rollback wrote": "Rolled back Databricks job" in ran.output,
            "the cluster is back exactly": cluster(sb, seeded["job_id"]) == before,
        },
    )


def refused_round(sb: Sandbox, home: AirflowHome, seeded: dict[str, Any]) -> Round:
    """A recommendation that replaces the secrets: applied, then the rollback refuses (the old
    values are only digests), saying what to do."""
    sb.gradient.add_recommendation(
        seeded["project_id"],
        {
            "num_workers": 3,
            "spark_env_vars": {"DB_PASSWORD": RECOMMENDED["recommended DB_PASSWORD"]},
            "spark_conf": {AZURE: RECOMMENDED["recommended storage key"]},
        },
    )
    sb.databricks.next_run_result = "FAILED"
    ran = home.dags_test(ROLLBACK_DAG, home.env(sb.connections(), variables(seeded)))
    spec = cluster(sb, seeded["job_id"])
    return Round(
        ran.output,
        {
            "the DAG run fails": ran.returncode != 0,
            "the rollback refuses, naming the secret field": (
                "spark_env_vars.DB_PASSWORD" in ran.output and "held a secret value" in ran.output
            ),
            "the job keeps what the apply wrote": (
                spec["spark_env_vars"]["DB_PASSWORD"] == RECOMMENDED["recommended DB_PASSWORD"]
            ),
        },
    )


def copilot_round(
    sb: Sandbox, home: AirflowHome, server: ApiServer, seeded: dict[str, Any]
) -> Round:
    """Dry run, the approval (its body is the preview's diff), approve, apply."""
    sb.databricks.next_run_result = "SUCCESS"
    sb.gradient.recommendation_ready_after_reads = 1
    proc, log = home.start_dags_test(COPILOT_DAG, home.env(sb.connections(), variables(seeded)))
    server.wait_ready()
    run_id = server.wait_for_input(COPILOT_DAG, "approve", proc, log, timeout=180)
    body = server.hitl_details(COPILOT_DAG, run_id, "approve")["body"]
    server.respond(COPILOT_DAG, run_id, "approve", "Approve")
    try:
        returncode = proc.wait(timeout=150)
    except Exception:
        stop(proc)
        raise
    output = log.read_text()
    return Round(
        output,
        {
            "the approval body holds the diff table": "| path | before | after |" in body,
            "the copilot DAG run succeeds": returncode == 0,
        },
    )


def scan(home: AirflowHome, outputs: list[str]) -> tuple[list[str], list[str]]:
    """(every planted secret found, every reference not found) in the database tables, the log
    files and ``outputs``."""
    tables = database_texts(home.home / "airflow.db")
    assert set(TABLES) <= set(tables), sorted(tables)
    assert tables["xcom"] and tables["rendered_task_instance_fields"]
    # `airflow dags test` writes the task logs to its output (and files under logs/, if any).
    logs = {
        str(path): path.read_text(errors="replace")
        for path in sorted((home.home / "logs").rglob("*"))
        if path.is_file()
    }
    assert any("Changes to job_clusters/" in text for text in [*logs.values(), *outputs])
    places = {
        **{f"table {name}": text for name, text in tables.items()},
        **logs,
        **{f"dags test output #{i}": text for i, text in enumerate(outputs)},
    }
    found = found_in({**PLANTED, **RECOMMENDED}, places)
    found += leaks({**PLANTED, **RECOMMENDED}, [home.home])  # also the raw database file
    missing = [what for what, value in REFERENCES.items() if not found_in({what: value}, places)]
    return sorted(set(found)), missing


@pytest.mark.timeout(900)
def test_no_planted_cluster_secret_reaches_the_database_or_the_logs(
    template_sb: Sandbox,
    airflow_home: Callable[..., AirflowHome],
    api_server: Callable[[AirflowHome], ApiServer],
) -> None:
    seeded = plant(template_sb)
    home = airflow_home("gradient_rollback_on_failure.py", "gradient_copilot.py")
    server = api_server(home)
    rounds = [rollback_round(template_sb, home, seeded)]
    rounds.append(refused_round(template_sb, home, seeded))
    rounds.append(copilot_round(template_sb, home, server, seeded))

    hitl = database_texts(home.home / "airflow.db")["hitl_detail"]
    assert "Apply Gradient's recommendation" in hitl  # the approval's subject and body are there
    found, missing = scan(home, [r.output for r in rounds])
    assert found == [], found
    assert missing == [], f"secret references hidden too (the scan would miss a leak): {missing}"
    for ran in rounds:
        assert not ran.failed_facts(), f"{ran.failed_facts()}:\n{tail(ran.output)}"


@pytest.mark.timeout(400)
def test_the_scan_catches_a_run_without_redaction(
    template_sb: Sandbox, airflow_home: Callable[..., AirflowHome]
) -> None:
    seeded = plant(template_sb)
    home = airflow_home("gradient_rollback_on_failure.py")
    (home.dags / "aaa_no_redaction.py").write_text(NO_REDACTION)  # parsed before the template
    ran = rollback_round(template_sb, home, seeded)

    found, _missing = scan(home, [ran.output])

    for what in PLANTED:
        assert any(line.startswith(f"{what} in table xcom") for line in found), found
    assert Path(home.home / "airflow.db").exists()
