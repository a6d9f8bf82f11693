"""Reverted recommendations (on_revert) and two applies racing on one job, through the sandbox."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.exceptions import RecommendationRevertedError
from airflow_gradient.sandbox import Sandbox
from tests.operators.conftest import configuration, job_settings
from tests.oracles import expected_cluster

Target = Callable[..., tuple[int, str]]
Apply = Callable[..., dict[str, Any]]


def cluster_of(sb: Sandbox, job_id: int) -> dict[str, Any]:
    cluster: dict[str, Any] = sb.databricks.get_job(job_id)["settings"]["job_clusters"][0][
        "new_cluster"
    ]
    return cluster


def revert_like_terraform(sb: Sandbox, job_id: int) -> dict[str, Any]:
    """Put the original cluster back but keep the sync tags (ignore_changes on tags only)."""
    original = job_settings("shared_job_cluster")["job_clusters"][0]["new_cluster"]
    reverted = copy.deepcopy(original)
    reverted["custom_tags"].update(
        {k: v for k, v in cluster_of(sb, job_id)["custom_tags"].items() if k.startswith("sync:")}
    )
    sb.databricks.update_job(
        job_id, {"job_clusters": [{"job_cluster_key": "main", "new_cluster": reverted}]}
    )
    sb.clear_requests()
    return reverted


def job_writes(sb: Sandbox) -> int:
    return len([r for r in sb.requests if r.path.endswith("/jobs/update")])


def test_revert_warns_and_leaves_the_job_by_default(
    sb: Sandbox, make_target: Target, run_apply: Apply, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id, project_id = make_target()
    run_apply(project_id=project_id, job_id=job_id)
    reverted = revert_like_terraform(sb, job_id)

    result = run_apply(project_id=project_id, job_id=job_id)

    assert result["reverted_since_last_apply"] is True
    assert result["applied"] is False
    assert cluster_of(sb, job_id) == reverted
    assert job_writes(sb) == 0
    logged = "".join(capsys.readouterr())  # the task log goes through structlog to stdout
    assert "reverted it (Terraform apply" in logged
    assert "airflow-gradient terraform ignore-changes" in logged


def test_revert_fails_when_asked_and_writes_nothing(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target()
    run_apply(project_id=project_id, job_id=job_id)
    revert_like_terraform(sb, job_id)

    with pytest.raises(RecommendationRevertedError, match="node_type_id") as err:
        run_apply(project_id=project_id, job_id=job_id, on_revert="fail")
    assert str(job_id) in str(err.value)
    assert job_writes(sb) == 0


def test_revert_reapplies_when_asked(sb: Sandbox, make_target: Target, run_apply: Apply) -> None:
    job_id, project_id = make_target()
    first = run_apply(project_id=project_id, job_id=job_id)
    revert_like_terraform(sb, job_id)

    result = run_apply(project_id=project_id, job_id=job_id, on_revert="reapply")

    assert result["reverted_since_last_apply"] is True
    assert result["applied"] is True
    assert cluster_of(sb, job_id) == first["new_cluster"]


def test_an_older_recommendation_in_force_is_fetched_to_check_for_reverts(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target()
    first = run_apply(project_id=project_id, job_id=job_id)
    newer = configuration("aws_fixed_success")
    newer["custom_tags"] = {"sync:project-id": project_id}
    newer["num_workers"] = 6
    sb.gradient.add_recommendation(project_id, newer, state="SUCCESS")
    sb.clear_requests()

    result = run_apply(project_id=project_id, job_id=job_id)

    assert result["reverted_since_last_apply"] is False
    assert result["applied"] is True
    fetched = [r.path for r in sb.requests if r.path.endswith(first["recommendation_id"])]
    assert len(fetched) == 1
    assert cluster_of(sb, job_id)["num_workers"] == 6


def test_an_untouched_cluster_is_not_reported_as_reverted(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target()
    run_apply(project_id=project_id, job_id=job_id)
    again = run_apply(project_id=project_id, job_id=job_id)
    assert again["reverted_since_last_apply"] is False


def test_same_recommendation_applied_twice_at_once(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    """Two overlapping DAG runs: both finish, the job holds the one merged spec."""
    job_id, project_id = make_target()
    sb.faults.set_latency(0.05, service="databricks")
    results = race(lambda: run_apply(project_id=project_id, job_id=job_id), times=2)
    sb.faults.set_latency(0.0)

    assert all(isinstance(r, dict) for r in results), results
    assert results[0]["new_cluster"] == results[1]["new_cluster"]  # type: ignore[index]
    assert cluster_of(sb, job_id) == results[0]["new_cluster"]  # type: ignore[index]


def test_two_recommendations_racing_end_as_one_of_them_never_a_mixture(
    sb: Sandbox, run_apply: Apply
) -> None:
    job_id = sb.databricks.create_job(job_settings("shared_job_cluster"))
    original = cluster_of(sb, job_id)
    projects, expected = [], []
    for workers, node in ((3, "m5.xlarge"), (7, "r5.2xlarge")):
        project_id = sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")[
            "id"
        ]
        config = {"num_workers": workers, "node_type_id": node, "driver_node_type_id": node}
        rec_id = sb.gradient.add_recommendation(project_id, config, state="SUCCESS")
        projects.append(project_id)
        expected.append(expected_cluster(original, config, recommendation_id=rec_id))
    sb.faults.set_latency(0.05, service="databricks")

    results = race(
        lambda: run_apply(project_id=projects[0], job_id=job_id),
        lambda: run_apply(project_id=projects[1], job_id=job_id),
    )
    sb.faults.set_latency(0.0)

    assert all(isinstance(r, dict) for r in results), results
    assert cluster_of(sb, job_id) in expected
    # Each task reports a whole merged spec (its own, or the one that superseded it); which
    # write lands last is up to timing, so no task can promise it stays in force.
    for result in results:
        assert result["new_cluster"] in expected  # type: ignore[index]


def race(*calls: Callable[[], Any], times: int = 1) -> list[Any]:
    """Run the calls at the same moment in threads; each result or the exception raised."""
    work = list(calls) * times
    results: list[Any] = [None] * len(work)
    start = threading.Barrier(len(work))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work[i]()
        except Exception as err:  # reported by the caller's assertion
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_a_write_replaced_before_its_read_back_reports_who_superseded_it(
    sb: Sandbox, run_apply: Apply
) -> None:
    job_id = sb.databricks.create_job(job_settings("shared_job_cluster"))
    ids = []
    for workers in (3, 7):
        project_id = sb.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")[
            "id"
        ]
        rec_id = sb.gradient.add_recommendation(project_id, {"num_workers": workers})
        ids.append((project_id, rec_id))
    # A's jobs/update is applied at once but answered late: B writes and reads back meanwhile.
    sb.faults.inject("databricks", "POST", "/api/2.2/jobs/update", after=True, delay=1.5)
    first: list[Any] = []
    thread = threading.Thread(
        target=lambda: first.append(run_apply(project_id=ids[0][0], job_id=job_id))
    )
    thread.start()
    while cluster_of(sb, job_id).get("num_workers") != 3:
        threading.Event().wait(0.02)
    second = run_apply(project_id=ids[1][0], job_id=job_id)
    thread.join(timeout=30)

    assert second["applied"] is True and "superseded_by" not in second
    assert first[0]["applied"] is True
    assert first[0]["superseded_by"] == ids[1][1]
    assert first[0]["new_cluster"] == cluster_of(sb, job_id)
    assert cluster_of(sb, job_id)["num_workers"] == 7
