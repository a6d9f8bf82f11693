"""core.history on hand-made runs: overridden then restored, and runs it cannot place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_gradient.core.history import build_history

SINCE = datetime(2026, 10, 1, tzinfo=UTC)
DAY_MS = 86_400_000
START_MS = int(SINCE.timestamp() * 1000)


def recommendation(rec_id: str) -> dict[str, Any]:
    return {
        "id": rec_id,
        "state": "SUCCESS",
        "created_at": "2026-10-01T12:00:00Z",
        "recommendation": {
            "configuration": {"num_workers": 4, "custom_tags": {"sync:recommendation-id": rec_id}},
            "metrics": {"spark_duration_minutes": 30.0, "spark_cost_requested_usd": 5.0},
        },
        "context": {"phase": "OPTIMIZING"},
    }


def run(run_id: int, day: int, workers: int, tag: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"num_workers": workers, "node_type_id": "m5.xlarge"}
    if tag:
        spec["custom_tags"] = {"sync:recommendation-id": tag}
    return {
        "run_id": run_id,
        "start_time": START_MS + day * DAY_MS,
        "end_time": START_MS + day * DAY_MS + 20 * 60_000,
        "state": {"result_state": "SUCCESS"},
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": spec}],
        "tasks": [{"task_key": "t", "job_cluster_key": "main"}],
    }


def test_overridden_then_restored() -> None:
    history = build_history(
        project={"id": "p", "cluster_path": "job_clusters/main"},
        job_id=7,
        recommendations=[recommendation("A")],
        runs=[run(3, 3, 4, "A"), run(1, 1, 4, "A"), run(2, 2, 9, "A")],  # any order
        since=SINCE,
    )
    assert [r.run_id for r in history.runs] == [1, 2, 3]
    assert [(c.kind, c.detail) for c in history.changes] == [
        ("applied", "A"),
        ("overridden", "num_workers"),
        ("restored", "the cluster holds it again"),
    ]
    [record] = history.recommendations
    assert record.in_force_from == history.runs[0].started_at
    assert record.in_force_until is None  # in force again at the end
    assert record.runs == 3
    assert history.runs[0].duration_minutes == 20.0
    assert history.runs[1].predicted_cost_usd == 5.0


def test_runs_before_the_period_and_unplaceable_runs_are_left_out() -> None:
    odd = run(5, 2, 4, None)
    odd["job_clusters"].append({"job_cluster_key": "other", "new_cluster": {"num_workers": 1}})
    odd["tasks"] = []
    history = build_history(
        project={"id": "p"},
        job_id=7,
        recommendations=[],
        runs=[run(4, -3, 4, None), odd],
        since=SINCE,
    )
    assert history.runs == []
    assert len(history.notes) == 1
    assert "run 5" in history.notes[0]
