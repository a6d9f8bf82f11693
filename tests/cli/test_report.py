"""``airflow-gradient report`` on a sandbox history of several recommendations and runs:
the content of the JSON, CSV and HTML files, and the plots."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.cli import main
from airflow_gradient.sandbox import Sandbox
from tests.report_history import audited_history


@pytest.fixture
def history(sb: Sandbox) -> dict[str, Any]:
    return audited_history(sb)


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
    # The runs table names a run's recommendation by its first 8 characters, whole on hover.
    assert f'<span class="nw" title="{rec1}">{rec1[:8]}</span>' in page
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
