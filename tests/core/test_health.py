"""The doctor's pure verdicts on hand-made data (the sandbox tests cover them end to end)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_gradient.core import health
from airflow_gradient.core.cluster.locate import ClusterLocation

NOW = datetime(2026, 10, 10, 12, 0, tzinfo=UTC)


def verdict(level: health.Level) -> health.Verdict:
    return health.Verdict("x", level, "obj", "msg", "fix")


def test_worst_and_fail_on_levels() -> None:
    mixed = [verdict("ok"), verdict("warn"), verdict("ok")]
    assert health.worst(mixed) == "warn"
    assert health.worst([]) == "ok"
    assert health.fails_at(mixed, "fail") == []
    assert health.fails_at(mixed, "warn") == [mixed[1]]
    with pytest.raises(ValueError, match="fail_on"):
        health.fails_at(mixed, "ok")


def test_line_shows_the_fix_only_when_not_ok() -> None:
    assert "Fix: fix" in verdict("fail").line()
    assert "Fix" not in verdict("ok").line()


def location(spec: dict[str, Any]) -> ClusterLocation:
    return ClusterLocation("job_cluster", "main", spec, "test")


def test_template_log_conf_elsewhere_warns() -> None:
    template = {
        "custom_tags": {"sync:project-id": "p"},
        "cluster_log_conf": {"s3": {"destination": "s3://gradient/p"}},
    }
    spec = {
        "custom_tags": {"sync:project-id": "p"},
        "cluster_log_conf": {"s3": {"destination": "s3://mine"}},
    }
    assert health.template_verdict(location(spec), template).level == "warn"
    spec["cluster_log_conf"] = template["cluster_log_conf"]
    assert health.template_verdict(location(spec), template).level == "ok"


def test_webhook_of_an_unregistered_workspace_fails() -> None:
    found = health.webhook_verdict({}, 7, None, None, workspace_id="123")
    assert found.level == "fail"
    assert found.object == "Gradient workspace 123"


def test_runs_age_and_failed_submissions() -> None:
    runs = [{"run_id": 2}, {"run_id": 1}]
    submissions = [
        {"run_id": "2", "state": "FAILED", "created_at": "2026-10-08T12:00:00Z"},
        {"run_id": "1", "state": "SUCCESS", "created_at": "2026-10-07T12:00:00Z"},
    ]
    found = health.runs_verdict(7, "p", runs, submissions, now=NOW)
    assert found.level == "warn"
    assert "last heard from the job 2.0 days ago" in found.message
    assert "submissions FAILED for runs 2" in found.message
    assert health.runs_verdict(7, "p", [], [], now=NOW).level == "warn"


def test_recommendation_tag_not_found_warns() -> None:
    spec = {"custom_tags": {"sync:recommendation-id": "gone"}, "num_workers": 2}
    found = health.recommendation_verdict(location(spec), "p", [], now=NOW)
    assert found.level == "warn"
    assert "gone" in found.message
    assert "no usable recommendation yet" in found.message


def test_nobody_applies_warns() -> None:
    project = {"id": "p", "auto_apply_recs": False}
    assert health.auto_apply_verdict(project, []).level == "warn"
    assert health.auto_apply_verdict(project, None).level == "ok"


def test_system_managed_job_fails() -> None:
    job = {"job_id": 7, "settings": {"name": "x", "deployment": {"kind": "SYSTEM_MANAGED"}}}
    assert health.owner_verdict(job).level == "fail"
    assert health.owner_verdict({"job_id": 7, "settings": {"name": "plain"}}).level == "ok"
