"""update_settings_for and cluster_spec_at: the jobs/update body."""

from __future__ import annotations

import pytest

from airflow_gradient.core.cluster.locate import ClusterLocation, locate_cluster
from airflow_gradient.core.cluster.merge import applied_recommendation_id, merge_recommendation
from airflow_gradient.core.cluster.update import cluster_spec_at, update_settings_for
from airflow_gradient.core.errors import (
    ClusterNotFoundError,
)
from tests.core.cluster.shapes import (
    PROJECT,
    JobLoader,
    RecLoader,
    apply_jobs_update,
    config_of,
)

# --- update_settings_for -------------------------------------------------------------------


@pytest.mark.parametrize(("task_key", "index"), [("features", 0), ("train", 1)])
def test_update_task_cluster_sends_the_whole_task(
    job: JobLoader, rec: RecLoader, task_key: str, index: int
) -> None:
    settings = job("task_clusters")["settings"]
    location = locate_cluster(settings, job_id=1, project_id=PROJECT, cluster_key=task_key)
    merged = merge_recommendation(location.spec, config_of(rec, "aws_fixed_success"))
    update = update_settings_for(settings, location, merged)
    assert list(update) == ["tasks"]
    [task] = update["tasks"]
    original = settings["tasks"][index]
    assert task["new_cluster"] == merged
    assert {k: v for k, v in task.items() if k != "new_cluster"} == {
        k: v for k, v in original.items() if k != "new_cluster"
    }
    assert task["libraries"] == original["libraries"]
    if task_key == "features":
        assert task["notebook_task"]["notebook_path"] == "/Repos/ml/features"
    else:
        assert task["depends_on"] == [{"task_key": "features"}]
        assert task["max_retries"] == 1
        assert task["python_wheel_task"]["package_name"] == "trainer"
    after = apply_jobs_update(settings, update)
    other = 1 - index
    assert after["tasks"][other] == settings["tasks"][other]


def test_update_job_cluster_sends_only_job_clusters(job: JobLoader) -> None:
    settings = job("shared_job_cluster")["settings"]
    location = locate_cluster(settings, job_id=1, project_id=PROJECT)
    new_spec = merge_recommendation(location.spec, {"num_workers": 2})
    update = update_settings_for(settings, location, new_spec)
    assert update == {"job_clusters": [{"job_cluster_key": "main", "new_cluster": new_spec}]}
    new_spec["num_workers"] = 50
    assert update["job_clusters"][0]["new_cluster"]["num_workers"] == 2


@pytest.mark.parametrize(
    "location",
    [
        ClusterLocation("job_cluster", "gone", {}, "cluster_key argument"),
        ClusterLocation("task", "gone", {}, "cluster_key argument"),
        ClusterLocation("task", "ingest", {}, "cluster_key argument"),
    ],
)
def test_update_for_a_cluster_not_in_settings(job: JobLoader, location: ClusterLocation) -> None:
    settings = job("shared_job_cluster")["settings"]
    with pytest.raises(ClusterNotFoundError, match=location.key):
        update_settings_for(settings, location, {"num_workers": 1})


@pytest.mark.parametrize(
    ("path", "expected_node_type"),
    [
        ("job_clusters/light", "c5.2xlarge"),
        ("job_clusters/heavy", "i3.2xlarge"),
        ("job_clusters/nope", None),
        ("tasks/extract", None),
        ("light", None),
        ("", None),
    ],
)
def test_cluster_spec_at(job: JobLoader, path: str, expected_node_type: str | None) -> None:
    spec = cluster_spec_at(job("multi_cluster_tagged")["settings"], path)
    assert (spec or {}).get("node_type_id") == expected_node_type


def test_cluster_spec_at_task(job: JobLoader) -> None:
    settings = job("task_clusters")["settings"]
    spec = cluster_spec_at(settings, "tasks/train")
    assert spec == settings["tasks"][1]["new_cluster"]
    assert spec is not settings["tasks"][1]["new_cluster"]


def test_applied_recommendation_id() -> None:
    assert applied_recommendation_id({"custom_tags": {"sync:recommendation-id": "r1"}}) == "r1"
    assert applied_recommendation_id({"custom_tags": {"team": "x"}}) is None
    assert applied_recommendation_id({}) is None
