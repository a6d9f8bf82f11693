"""``airflow-gradient doctor`` against the sandbox: each check healthy and broken, the exit
codes, ``--json``, bad input, and the requests it sends."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from airflow_gradient.cli import main
from airflow_gradient.sandbox import Sandbox
from tests.healthy_job import HealthyJob, healthy_job, set_tuned_cluster, tuned_cluster


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["doctor", *args])
    out, err = capsys.readouterr()
    return status, out, err


def lines_of(out: str) -> dict[str, str]:
    """``{check: line}`` of the doctor's text output (the last line of each check)."""
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("ok", "warn", "fail"):
            found[parts[1]] = line
    return found


def level(out: str, check: str) -> str:
    return lines_of(out)[check].split()[0]


@pytest.fixture
def job(sb: Sandbox) -> HealthyJob:
    return healthy_job(sb)


def test_a_healthy_job_passes_every_check(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    sb.clear_requests()
    status, out, err = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 0, out + err
    checks = lines_of(out)
    assert set(checks) == {
        "connection",
        "project",
        "cluster",
        "template",
        "webhook",
        "runs",
        "recommendation",
        "auto_apply",
        "owner",
    }
    assert all(line.startswith("ok") for line in checks.values()), out
    assert "2 of the last 2 finished runs reached Gradient" in checks["runs"]
    assert job.recommendation_id in checks["recommendation"]
    assert out.rstrip().endswith("status: ok (0 fail, 0 warn)")
    # One token, no request sent twice.
    sent = Counter((r.method, r.path) for r in sb.requests)
    assert sent[("POST", "/v1/auth/token")] == 1
    assert max(sent.values()) == 1, sent


def test_json_output(sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]) -> None:
    sb.databricks.update_job(job.job_id, {"webhook_notifications": {}})
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id), "--json")
    assert status == 1
    result = json.loads(out)
    assert result["status"] == "fail"
    assert result["job_id"] == job.job_id
    assert result["project_id"] == job.project_id
    assert result["stopped"] is None
    webhook = next(c for c in result["checks"] if c["check"] == "webhook")
    assert webhook["level"] == "fail"
    assert job.webhook_id in webhook["remedy"]
    assert set(webhook) == {"check", "level", "object", "message", "remedy"}


# --- bad input and failing connections (exit 2) ------------------------------------------------


def test_unknown_job_exits_2(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = doctor(capsys, "--job-id", "4242")
    assert status == 2
    assert "Databricks job 4242: does not exist" in out
    assert "Traceback" not in out + err


def test_unknown_project_fails_the_project_check(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id), "--project-id", "nope")
    assert status == 1
    assert "Gradient project nope: does not exist" in lines_of(out)["project"]


def test_project_tracking_another_job_names_both_ids(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    other = healthy_job(sb, runs=0)
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id), "--project-id", other.project_id)
    assert status == 1
    line = lines_of(out)["project"]
    assert f"tracks Databricks job {other.job_id}, not job {job.job_id}" in line


def test_no_project_and_two_projects(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    lonely = sb.databricks.create_job({"name": "lonely", "tasks": []})
    status, out, _ = doctor(capsys, "--job-id", str(lonely))
    assert status == 1
    assert "No Gradient project tracks Databricks job" in lines_of(out)["project"]

    second = sb.gradient.create_project(job_id=job.job_id)
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 1
    line = lines_of(out)["project"]
    assert job.project_id in line
    assert second["id"] in line
    assert "--project-id" in line


@pytest.mark.parametrize("service", ["gradient", "databricks"])
def test_failing_connection_exits_2_without_traceback(
    sb: Sandbox,
    job: HealthyJob,
    service: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conn = sb.connection_json(service)
    conn["password"] = "wrong"
    monkeypatch.setenv(f"AIRFLOW_CONN_{service.upper()}_DEFAULT", json.dumps(conn))
    status, out, err = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 2
    assert "fail  connection" in out
    assert f"'{service}_default'" in out
    assert "Traceback" not in out + err
    assert "wrong" not in out + err


def test_undefined_connection_id_exits_2(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = doctor(
        capsys, "--job-id", str(job.job_id), "--gradient-conn-id", "no_such_conn"
    )
    assert status == 2
    assert "no_such_conn" in out + err
    assert "Traceback" not in out + err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["doctor", "--job-id", "abc"])
    assert exit_info.value.code == 2


# --- each check broken ---------------------------------------------------------------------------


def test_ambiguous_cluster_fails(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 1}
    job_id = sb.databricks.create_job(
        {
            "name": "two-clusters",
            "job_clusters": [
                {"job_cluster_key": "a", "new_cluster": cluster},
                {"job_cluster_key": "b", "new_cluster": cluster},
            ],
            "tasks": [
                {"task_key": "x", "job_cluster_key": "a", "notebook_task": {"notebook_path": "/x"}},
                {"task_key": "y", "job_cluster_key": "b", "notebook_task": {"notebook_path": "/y"}},
            ],
        }
    )
    sb.gradient.create_project(job_id=job_id)
    status, out, _ = doctor(capsys, "--job-id", str(job_id))
    assert status == 1
    line = lines_of(out)["cluster"]
    assert line.startswith("fail")
    assert "job_clusters/a" in line
    assert "job_clusters/b" in line


def test_missing_log_delivery_fails_template_and_runs_turn_failed(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tuned_cluster(sb, job.job_id)
    del spec["cluster_log_conf"]
    set_tuned_cluster(sb, job.job_id, spec)
    new_run = sb.databricks.run_now(job.job_id)
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 1
    assert "has no cluster_log_conf" in lines_of(out)["template"]
    assert level(out, "template") == "fail"
    runs = lines_of(out)["runs"]
    assert level(out, "runs") == "warn"
    assert f"submissions FAILED for runs {new_run}" in runs


def test_missing_template_tags_fail(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tuned_cluster(sb, job.job_id)
    del spec["custom_tags"]["sync:tenant-id"]
    set_tuned_cluster(sb, job.job_id, spec)
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 1
    assert "tags missing or different: sync:tenant-id" in lines_of(out)["template"]


def test_dropped_webhook_fails_and_new_runs_do_not_reach_gradient(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    sb.databricks.update_job(job.job_id, {"webhook_notifications": {}})
    lost = [sb.databricks.run_now(job.job_id) for _ in range(2)]
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 1
    webhook = lines_of(out)["webhook"]
    assert webhook.startswith("fail")
    assert f"does not name Gradient's destination {job.webhook_id}" in webhook
    runs = lines_of(out)["runs"]
    assert runs.startswith("warn")
    assert "2 of the last 4 finished runs reached Gradient" in runs
    assert f"runs without a submission: {lost[1]}, {lost[0]}" in runs
    assert "last heard from the job" in runs


def test_no_run_reaching_gradient_fails(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    job = healthy_job(sb, runs=0)
    sb.databricks.update_job(job.job_id, {"webhook_notifications": {}})
    sb.databricks.run_now(job.job_id)
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id), "--runs", "5")
    assert status == 1
    runs = lines_of(out)["runs"]
    assert runs.startswith("fail")
    assert "Gradient never heard from the job" in runs


def test_deleted_destination_fails(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    sb.databricks.delete_destination(job.webhook_id)
    try:
        status, out, _ = doctor(capsys, "--job-id", str(job.job_id))
    finally:
        sb.gradient.create_workspace(sb.databricks.workspace_id)  # a new destination for others
    assert status == 1
    assert "does not exist in the Databricks workspace" in lines_of(out)["webhook"]


def test_manual_override_is_named(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tuned_cluster(sb, job.job_id)
    spec["num_workers"] = 40
    spec["node_type_id"] = "r5.4xlarge"
    set_tuned_cluster(sb, job.job_id, spec)
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 0  # a warning, not a failure
    line = lines_of(out)["recommendation"]
    assert line.startswith("warn")
    assert "reverted or overridden: node_type_id, num_workers" in line


def test_newer_recommendation_not_applied_warns(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    newer = sb.gradient.add_recommendation(job.project_id, state="SUCCESS")
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id))
    line = lines_of(out)["recommendation"]
    assert status == 0
    assert line.startswith("warn")
    assert f"recommendation {job.recommendation_id} in force" in line
    assert f"newest usable recommendation {newer}" in line


def test_auto_apply_against_an_applying_dag_fails(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id), "--applied-by", "etl_dag")
    assert status == 0
    assert "DAGs apply (etl_dag)" in lines_of(out)["auto_apply"]

    sb.gradient.update_project(job.project_id, auto_apply_recs=True)
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id), "--applied-by", "etl_dag")
    assert status == 1
    line = lines_of(out)["auto_apply"]
    assert line.startswith("fail")
    assert "race" in line


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {
                "deployment": {
                    "kind": "BUNDLE",
                    "metadata_file_path": "/Workspace/bundles/etl/state/metadata.json",
                }
            },
            "Databricks Asset Bundle (/Workspace/bundles/etl/state/metadata.json)",
        ),
        ({"name": "etl_dag.nightly_group"}, "DatabricksWorkflowTaskGroup 'nightly_group' of DAG"),
    ],
)
def test_owner_is_told_when_it_can_be(
    sb: Sandbox,
    job: HealthyJob,
    extra: dict[str, Any],
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sb.databricks.update_job(job.job_id, extra)
    status, out, _ = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 0
    line = lines_of(out)["owner"]
    assert line.startswith("warn")
    assert expected in line


def test_shared_reads_fetch_the_project_list_workspace_and_destination_once(sb: Sandbox) -> None:
    from datetime import UTC, datetime

    from airflow_gradient.doctor import SharedReads, examine
    from airflow_gradient.hooks.databricks import GradientDatabricksHook
    from airflow_gradient.hooks.gradient import GradientHook

    jobs = [healthy_job(sb, name=f"shared-{i}") for i in range(3)]
    sb.clear_requests()
    shared = SharedReads()
    gradient, databricks = GradientHook(), GradientDatabricksHook()
    statuses = [
        examine(
            job_id=job.job_id,
            project_id=None,
            gradient=gradient,
            databricks=databricks,
            now=datetime.now(UTC),
            shared=shared,
        ).status
        for job in jobs
    ]
    assert statuses == ["ok", "ok", "ok"]
    sent = Counter((r.method, r.path) for r in sb.requests)
    assert sent[("GET", "/v1/projects")] == 1
    assert sent[("GET", f"/v1/databricks/workspaces/{sb.databricks.workspace_id}")] == 1
    assert sent[("GET", f"/api/2.0/notification-destinations/{jobs[0].webhook_id}")] == 1
    assert sent[("GET", "/api/2.2/jobs/get")] == 3


def test_an_endpoint_failing_mid_way_fails_its_check_only(
    sb: Sandbox, job: HealthyJob, capsys: pytest.CaptureFixture[str]
) -> None:
    path = f"/v1/projects/{job.project_id}/paged/submissions"
    sb.faults.inject("gradient", "GET", path, status=500, times=5)
    status, out, err = doctor(capsys, "--job-id", str(job.job_id))
    assert status == 1
    checks = lines_of(out)
    assert checks["runs"].startswith("fail")
    assert "could not be read" in checks["runs"]
    assert "HTTP 500" in checks["runs"]
    others = {name: line for name, line in checks.items() if name != "runs"}
    assert all(line.startswith("ok") for line in others.values()), out
    assert "Traceback" not in out + err
