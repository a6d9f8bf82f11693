"""GradientApplyRecommendationOperator end to end against the sandbox (real hooks, real sockets)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.exceptions import (
    AmbiguousClusterError,
    AutoApplyConflictError,
    GuardRailViolationError,
    NoRecommendationError,
    UnsupportedClusterError,
    UnsupportedPathError,
)
from airflow_gradient.sandbox import Sandbox
from tests.operators.conftest import configuration, job_settings
from tests.oracles import expected_cluster

Target = Callable[..., tuple[int, str]]
Apply = Callable[..., dict[str, Any]]


def writes(sb: Sandbox) -> list[str]:
    """Every request that could change a job (anything but a read)."""
    return [
        f"{r.method} {r.path}"
        for r in sb.requests
        if r.service == "databricks" and r.method != "GET"
    ]


def settings_of(sb: Sandbox, job_id: int) -> dict[str, Any]:
    return sb.databricks.get_job(job_id)["settings"]


def without(settings: dict[str, Any], *paths: tuple[str, str]) -> dict[str, Any]:
    """Settings with the named clusters blanked, to compare everything else."""
    out = copy.deepcopy(settings)
    for kind, key in paths:
        if kind == "job_clusters":
            for entry in out.get("job_clusters", []):
                if entry["job_cluster_key"] == key:
                    entry["new_cluster"] = "<cluster>"
        else:
            for task in out.get("tasks", []):
                if task["task_key"] == key:
                    task["new_cluster"] = "<cluster>"
    return out


def test_shared_job_cluster_gets_the_merged_spec_and_nothing_else_changes(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target("shared_job_cluster", "aws_fixed_success")
    before = settings_of(sb, job_id)

    result = run_apply(project_id=project_id, job_id=job_id)

    after = settings_of(sb, job_id)
    cluster = after["job_clusters"][0]["new_cluster"]
    expected = expected_cluster(
        before["job_clusters"][0]["new_cluster"],
        result_config(sb, project_id),
        recommendation_id=result["recommendation_id"],
    )
    assert cluster["custom_tags"]["sync:recommendation-id"] == result["recommendation_id"]
    assert cluster == expected
    assert cluster["num_workers"] == 4 and "autoscale" not in cluster
    assert cluster["init_scripts"] == before["job_clusters"][0]["new_cluster"]["init_scripts"]
    assert cluster["custom_tags"]["cost-center"] == "cc-1234"
    assert without(after, ("job_clusters", "main")) == without(before, ("job_clusters", "main"))
    assert result["applied"] is True
    assert result["cluster_key"] == "main"
    assert result["previous_cluster"] == before["job_clusters"][0]["new_cluster"]
    assert result["new_cluster"] == cluster
    assert {"path": "num_workers", "before": None, "after": 4} in result["changes"]
    assert writes(sb) == ["POST /api/2.2/jobs/update"]
    json.dumps({k: v for k, v in result.items() if k != "_links"})  # XCom must be JSON-safe


def result_config(sb: Sandbox, project_id: str) -> dict[str, Any]:
    """The configuration of the project's newest recommendation, as the sandbox serves it."""
    newest = sb.gradient.recommendations(project_id)[0]
    config: dict[str, Any] = newest["recommendation"]["configuration"]
    return config


def test_task_level_cluster_keeps_the_whole_task_body(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target(
        "task_clusters", "aws_autoscale_success", cluster_path="tasks/train"
    )
    before = settings_of(sb, job_id)

    result = run_apply(project_id=project_id, job_id=job_id)

    after = settings_of(sb, job_id)
    train_before = next(t for t in before["tasks"] if t["task_key"] == "train")
    train_after = next(t for t in after["tasks"] if t["task_key"] == "train")
    assert train_after["new_cluster"]["autoscale"] == {"min_workers": 2, "max_workers": 6}
    assert "num_workers" not in train_after["new_cluster"]
    assert train_after["new_cluster"]["aws_attributes"]["zone_id"] == "us-east-1a"
    for key in ("python_wheel_task", "libraries", "depends_on", "max_retries"):
        assert train_after[key] == train_before[key]
    assert without(after, ("tasks", "train")) == without(before, ("tasks", "train"))
    assert result["cluster_path"] == "tasks/train"


def test_tagged_cluster_is_chosen_and_the_other_is_untouched(sb: Sandbox, run_apply: Apply) -> None:
    settings = job_settings("multi_cluster_tagged")
    job_id = sb.databricks.create_job(settings)
    project_id = "11111111-2222-4333-8444-555555555555"
    if not any(p["id"] == project_id for p in sb.gradient.projects):
        sb.gradient.create_project(job_id=job_id, project_id=project_id)
    else:
        sb.gradient.update_project(project_id, job_id=str(job_id))
    config = configuration("aws_autoscale_success")
    config["custom_tags"].pop("sync:recommendation-id")
    sb.gradient.add_recommendation(project_id, config, state="SUCCESS")
    before = settings_of(sb, job_id)

    result = run_apply(project_id=project_id, job_id=job_id)

    after = settings_of(sb, job_id)
    assert result["cluster_key"] == "heavy"
    assert after["job_clusters"][0] == before["job_clusters"][0]  # light
    assert after["job_clusters"][1]["new_cluster"]["node_type_id"] == "r5.2xlarge"
    assert after["tasks"] == before["tasks"]


def test_newest_success_is_applied_past_newer_pending_and_failure(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target(rec=None)
    older = configuration("aws_fixed_success")
    older["custom_tags"] = {"sync:project-id": project_id}
    older["num_workers"] = 3
    newest_success = copy.deepcopy(older)
    newest_success["num_workers"] = 5
    sb.gradient.add_recommendation(
        project_id, older, state="SUCCESS", created_at="2026-10-01T00:00:00Z"
    )
    wanted = sb.gradient.add_recommendation(
        project_id, newest_success, state="SUCCESS", created_at="2026-10-02T00:00:00Z"
    )
    sb.gradient.add_recommendation(
        project_id, state="FAILURE", error="no event log", created_at="2026-10-03T00:00:00Z"
    )
    sb.gradient.add_recommendation(project_id, state="PENDING", created_at="2026-10-04T00:00:00Z")
    sb.clear_requests()

    result = run_apply(project_id=project_id, job_id=job_id)

    assert result["recommendation_id"] == wanted
    assert settings_of(sb, job_id)["job_clusters"][0]["new_cluster"]["num_workers"] == 5


def test_no_success_recommendation_skips_and_leaves_the_job(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target(rec=None)
    sb.gradient.add_recommendation(project_id, state="PENDING")
    before = settings_of(sb, job_id)

    result = run_apply(project_id=project_id, job_id=job_id)

    assert result["applied"] is False
    assert result["recommendation_id"] is None
    assert settings_of(sb, job_id) == before
    assert writes(sb) == []


def test_no_success_recommendation_fails_when_asked(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target(rec=None)
    with pytest.raises(NoRecommendationError, match=project_id):
        run_apply(project_id=project_id, job_id=job_id, if_no_recommendation="fail")
    assert writes(sb) == []


def test_dry_run_writes_nothing_but_reports_the_diff(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target()
    before = settings_of(sb, job_id)

    result = run_apply(project_id=project_id, job_id=job_id, dry_run=True)

    assert result["applied"] is False and result["dry_run"] is True
    assert any(c["path"] == "num_workers" for c in result["changes"])
    assert settings_of(sb, job_id) == before
    assert writes(sb) == []


def test_second_run_is_idempotent(sb: Sandbox, make_target: Target, run_apply: Apply) -> None:
    job_id, project_id = make_target()
    first = run_apply(project_id=project_id, job_id=job_id)
    sb.clear_requests()

    second = run_apply(project_id=project_id, job_id=job_id)

    assert first["applied"] is True
    assert second["applied"] is False and second["changes"] == []
    assert second["new_cluster"] == first["new_cluster"]
    assert writes(sb) == []


def test_job_is_taken_from_the_downstream_run_now_task(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator

    job_id, project_id = make_target()
    result = run_apply(
        project_id=project_id,
        downstream=lambda: [DatabricksRunNowOperator(task_id="run", job_id=str(job_id))],
    )
    assert result["job_id"] == job_id and result["applied"] is True


def test_job_name_is_resolved(sb: Sandbox, make_target: Target, run_apply: Apply) -> None:
    job_id, project_id = make_target()
    name = f"renamed-{job_id}"
    sb.databricks.update_job(job_id, {"name": name})
    result = run_apply(project_id=project_id, job_name=name)
    assert result["job_id"] == job_id and result["applied"] is True


def test_links_point_at_the_project_and_the_job(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target()
    links = run_apply(project_id=project_id, job_id=job_id, dry_run=True)["_links"]
    assert links["gradient_project_url"] == f"{sb.gradient_url}/projects/{project_id}"
    assert links["databricks_job_url"] == f"{sb.databricks_url}/jobs/{job_id}"


def test_submit_run_downstream_is_refused_before_any_request(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

    job_id, project_id = make_target()
    with pytest.raises(UnsupportedPathError, match="DatabricksRunNowOperator") as err:
        run_apply(
            project_id=project_id,
            job_id=job_id,
            downstream=lambda: [
                DatabricksSubmitRunOperator(task_id="one_time", json={"run_name": "x", "tasks": []})
            ],
        )
    assert "'one_time'" in str(err.value)
    assert sb.requests == []


def test_serverless_and_all_purpose_jobs_are_refused(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target("serverless_and_existing", "aws_fixed_success")
    with pytest.raises(UnsupportedClusterError, match=str(job_id)):
        run_apply(project_id=project_id, job_id=job_id)
    assert writes(sb) == []


def test_ambiguous_job_is_refused_with_the_choices(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target("task_clusters", "aws_fixed_success")
    with pytest.raises(AmbiguousClusterError) as err:
        run_apply(project_id=project_id, job_id=job_id)
    assert "features" in str(err.value) and "train" in str(err.value)
    assert "cluster_key" in str(err.value)
    assert writes(sb) == []


def test_explicit_cluster_key_resolves_an_ambiguous_job(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target("task_clusters", "aws_fixed_success")
    result = run_apply(project_id=project_id, job_id=job_id, cluster_key="features")
    assert result["cluster_path"] == "tasks/features" and result["applied"] is True


def test_auto_apply_conflict_is_refused_unless_allowed(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target(auto_apply_recs=True)
    with pytest.raises(AutoApplyConflictError, match="allow_auto_apply_conflict"):
        run_apply(project_id=project_id, job_id=job_id)
    assert writes(sb) == []
    # As docs/operators/apply.md says: after the three reads, before any write.
    reads = {(r.method, r.path) for r in sb.requests if r.method == "GET"}
    assert {
        ("GET", f"/v1/projects/{project_id}"),
        ("GET", f"/v1/projects/{project_id}/recommendations"),
        ("GET", "/api/2.2/jobs/get"),
    } <= reads
    page = Path(__file__).resolve().parents[2] / "docs" / "operators" / "apply.md"
    readme = " ".join(page.read_text(encoding="utf-8").split())
    assert "after these three reads, before any write, it refuses a project whose" in readme
    assert "before any API call, a downstream task" in readme

    result = run_apply(project_id=project_id, job_id=job_id, allow_auto_apply_conflict=True)
    assert result["applied"] is True


def test_guard_rail_breach_lists_every_violation_and_writes_nothing(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target(phase="LEARNING")
    with pytest.raises(GuardRailViolationError) as err:
        run_apply(
            project_id=project_id,
            job_id=job_id,
            guard_rails={
                "max_workers": 2,
                "allowed_node_types": ["i3.*"],
                "allow_spark_version_change": False,
                "apply_during_learning": False,
            },
        )
    assert len(err.value.violations) >= 4
    assert writes(sb) == []
    assert settings_of(sb, job_id)["job_clusters"][0]["new_cluster"]["node_type_id"] == "i3.2xlarge"


def test_a_pinned_recommendation_is_applied_even_when_a_newer_one_exists(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target(rec=None)
    approved = sb.gradient.add_recommendation(
        project_id, {"num_workers": 3}, created_at="2026-10-01T00:00:00Z"
    )
    sb.gradient.add_recommendation(
        project_id, {"num_workers": 9}, created_at="2026-10-02T00:00:00Z"
    )
    sb.clear_requests()

    result = run_apply(project_id=project_id, job_id=job_id, recommendation_id=approved)

    assert result["recommendation_id"] == approved
    assert settings_of(sb, job_id)["job_clusters"][0]["new_cluster"]["num_workers"] == 3
    assert not [r for r in sb.requests if r.path.endswith("/recommendations")]  # no list read


def test_an_empty_pin_means_the_newest(sb: Sandbox, make_target: Target, run_apply: Apply) -> None:
    job_id, project_id = make_target()
    assert run_apply(project_id=project_id, job_id=job_id, recommendation_id="")["applied"]


@pytest.mark.parametrize(("state", "fragment"), [("PENDING", "is PENDING"), ("FAILURE", "no log")])
def test_a_pinned_recommendation_that_is_not_success_is_refused(
    sb: Sandbox, make_target: Target, run_apply: Apply, state: str, fragment: str
) -> None:
    job_id, project_id = make_target()
    pinned = sb.gradient.add_recommendation(project_id, state=state, error="no log")
    sb.clear_requests()
    with pytest.raises(NoRecommendationError, match=fragment) as err:
        run_apply(project_id=project_id, job_id=job_id, recommendation_id=pinned)
    assert pinned in str(err.value)
    assert writes(sb) == []
