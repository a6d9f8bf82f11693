"""``airflow-gradient report`` on a sandbox history of several recommendations and runs:
the content of the JSON, CSV and HTML files, and the plots."""

from __future__ import annotations

import csv
import importlib.util
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.cli import main
from airflow_gradient.sandbox import Sandbox
from tests.healthy_job import set_tuned_cluster, tuned_cluster

DAY = 86400.0


def original_cluster() -> dict[str, Any]:
    return {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": "i3.xlarge",
        "driver_node_type_id": "i3.xlarge",
        "num_workers": 8,
        "cluster_log_conf": {"dbfs": {"destination": "dbfs:/logs"}},
    }


def applied(spec: dict[str, Any], configuration: dict[str, Any]) -> dict[str, Any]:
    """The cluster after an apply, written out by hand (not the package's merge rule)."""
    out = {k: v for k, v in spec.items() if k not in ("num_workers", "autoscale")}
    for key, value in configuration.items():
        if isinstance(value, dict):
            out[key] = {**(out.get(key) or {}), **value}
        else:
            out[key] = value
    return out


def iso_days_ago(days: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * DAY))


@pytest.fixture
def history(sb: Sandbox) -> dict[str, Any]:
    """A job audited over 30 days: a run before any recommendation, rec1 applied, then
    overridden by hand, rec2 applied (its runs fail), then reverted (tag removed)."""
    db = sb.databricks
    job_id = db.create_job(
        {
            "name": "audited",
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": original_cluster()}],
            "tasks": [
                {
                    "task_key": "t",
                    "job_cluster_key": "main",
                    "notebook_task": {"notebook_path": "/x"},
                }
            ],
        }
    )
    project_id = sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")["id"]
    now = time.time()

    def ran(days_ago: float, minutes: float, result: str = "SUCCESS") -> int:
        return db.record_run(
            job_id, started=now - days_ago * DAY, duration=minutes * 60, result_state=result
        )

    sb.gradient.add_recommendation(project_id, created_at=iso_days_ago(35))  # before the period
    old_run = ran(40, 70)
    first_run = ran(28, 50)

    def recommendation(rec_id: str, workers: int, node: str, cost: float, minutes: float) -> str:
        config = {
            "num_workers": workers,
            "node_type_id": node,
            "driver_node_type_id": node,
            "custom_tags": {"sync:project-id": project_id, "sync:recommendation-id": rec_id},
        }
        return sb.gradient.add_recommendation(
            project_id,
            config,
            metrics={"spark_duration_minutes": minutes, "spark_cost_requested_usd": cost},
            created_at=iso_days_ago(25 if rec_id.startswith("a") else 12),
            recommendation_id=rec_id,
            phase="OPTIMIZING",
        )

    rec1 = recommendation("a" + str(uuid.uuid4())[1:], 5, "m5.2xlarge", 9.5, 41.0)
    [item] = [r for r in sb.gradient.read_recommendations(project_id, 0, 100) if r["id"] == rec1]
    set_tuned_cluster(
        sb, job_id, applied(original_cluster(), item["recommendation"]["configuration"])
    )
    rec1_runs = [ran(20, 40), ran(18, 42)]
    overridden = tuned_cluster(sb, job_id)
    overridden["num_workers"] = 12
    set_tuned_cluster(sb, job_id, overridden)
    override_run = ran(15, 30)

    rec2 = recommendation("b" + str(uuid.uuid4())[1:], 3, "m5.xlarge", 6.0, 45.0)
    [item] = [r for r in sb.gradient.read_recommendations(project_id, 0, 100) if r["id"] == rec2]
    set_tuned_cluster(
        sb, job_id, applied(original_cluster(), item["recommendation"]["configuration"])
    )
    rec2_runs = [ran(10, 47, "FAILED"), ran(8, 44)]
    set_tuned_cluster(sb, job_id, original_cluster())  # Terraform puts the old cluster back
    revert_run = ran(5, 52)
    return {
        "job_id": job_id,
        "project_id": project_id,
        "rec1": rec1,
        "rec2": rec2,
        "old_run": old_run,
        "runs": [first_run, *rec1_runs, override_run, *rec2_runs, revert_run],
    }


def test_report_content(
    sb: Sandbox, history: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "audit"
    status = main(
        ["report", "--project-id", history["project_id"], "--since", "30d", "--output", str(out)]
    )
    printed, err = capsys.readouterr()
    assert status == 0, err
    assert "2 recommendations, 7 runs, 4 changes" in printed
    rec1, rec2 = history["rec1"], history["rec2"]

    data = json.loads((out / "report.json").read_text())
    runs = data["runs"]
    assert [r["run_id"] for r in runs] == history["runs"]  # the run 40 days ago is left out
    by_id = {r["run_id"]: r for r in runs}
    first, r1a, r1b, over, r2a, r2b, back = history["runs"]
    assert by_id[first]["recommendation_id"] is None
    assert by_id[r1a]["recommendation_id"] == rec1
    assert by_id[r1a]["duration_minutes"] == 40.0
    assert by_id[r1a]["predicted_duration_minutes"] == 41.0
    assert by_id[r1a]["predicted_cost_usd"] == 9.5
    assert by_id[r1a]["cluster"]["num_workers"] == 5
    assert by_id[r1b]["holds_recommendation"] is True
    assert by_id[over]["holds_recommendation"] is False
    assert by_id[over]["overridden_fields"] == ["num_workers"]
    assert by_id[r2a]["result"] == "FAILED"
    assert by_id[r2a]["predicted_cost_usd"] == 6.0
    assert by_id[r2b]["result"] == "SUCCESS"
    assert by_id[back]["recommendation_id"] is None

    changes = [(c["kind"], c["recommendation_id"]) for c in data["changes"]]
    assert changes == [
        ("applied", rec1),
        ("overridden", rec1),
        ("replaced", rec2),
        ("reverted", rec2),
    ]
    recs = {r["id"]: r for r in data["recommendations"]}
    assert set(recs) == {rec1, rec2}  # the one from before the period was never in force
    assert recs[rec1]["in_force_from"] == by_id[r1a]["started_at"]
    assert recs[rec1]["in_force_until"] == by_id[over]["started_at"]
    assert recs[rec1]["ended_by"] == "overridden (num_workers)"
    assert recs[rec2]["in_force_from"] == by_id[r2a]["started_at"]
    assert recs[rec2]["ended_by"] == "reverted (tag removed)"
    assert recs[rec2]["runs"] == 2

    with (out / "runs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["run_id"]) for r in rows] == history["runs"]
    assert rows[1]["predicted_duration_minutes"] == "41.0"
    with (out / "changes.csv").open() as f:
        assert [r["kind"] for r in csv.DictReader(f)] == [
            "applied",
            "overridden",
            "replaced",
            "reverted",
        ]

    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert "<script" not in page
    assert 'src="http' not in page
    assert rec1 in page and rec2 in page
    assert "overridden (num_workers)" in page
    for png in ("run_duration_and_predicted_cost.png", "tuned_cluster_by_run.png"):
        data_bytes = (out / png).read_bytes()
        assert data_bytes.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data_bytes) > 10_000  # a drawn figure, not an empty canvas


def test_missing_matplotlib_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name)
    )
    status = main(["report", "--project-id", "p", "--output", str(tmp_path)])
    _, err = capsys.readouterr()
    assert status == 2
    assert "pip install 'airflow-gradient[report]'" in err


def test_unknown_project_and_bad_since_exit_2(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["report", "--project-id", "nope", "--output", str(tmp_path)])
    _, err = capsys.readouterr()
    assert status == 2
    assert "nope" in err
    assert "Traceback" not in err
    status = main(["report", "--project-id", "p", "--since", "lately", "--output", str(tmp_path)])
    _, err = capsys.readouterr()
    assert status == 2
    assert "30d" in err
