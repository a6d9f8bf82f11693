"""locate_cluster: which cluster a project tunes."""

from __future__ import annotations

import copy

import pytest

from airflow_gradient.core.cluster.locate import locate_cluster
from airflow_gradient.core.cluster.merge import merge_recommendation
from airflow_gradient.core.cluster.update import cluster_spec_at, update_settings_for
from airflow_gradient.core.errors import (
    AmbiguousClusterError,
    ClusterNotFoundError,
    UnsupportedClusterError,
)
from tests.core.cluster.shapes import (
    OTHER_PROJECT,
    PROJECT,
    JobLoader,
    apply_jobs_update,
    for_each_settings,
)

# --- locate_cluster ------------------------------------------------------------------------


def test_locate_only_job_cluster(job: JobLoader) -> None:
    reply = job("shared_job_cluster")
    location = locate_cluster(reply["settings"], job_id=reply["job_id"], project_id=PROJECT)
    assert (location.kind, location.key, location.path) == (
        "job_cluster",
        "main",
        "job_clusters/main",
    )
    assert location.reason == "the job's only cluster"
    assert location.spec == reply["settings"]["job_clusters"][0]["new_cluster"]
    location.spec["num_workers"] = 99
    assert "num_workers" not in reply["settings"]["job_clusters"][0]["new_cluster"]


def test_locate_tag_wins_over_cluster_path(job: JobLoader) -> None:
    reply = job("multi_cluster_tagged")
    location = locate_cluster(
        reply["settings"],
        job_id=reply["job_id"],
        project_id=PROJECT,
        cluster_path="job_clusters/light",
    )
    assert location.path == "job_clusters/heavy"
    assert location.reason == "tagged sync:project-id"


def test_locate_cluster_path_when_no_tag(job: JobLoader) -> None:
    reply = job("multi_cluster_tagged")
    location = locate_cluster(
        reply["settings"],
        job_id=reply["job_id"],
        project_id=OTHER_PROJECT,
        cluster_path="job_clusters/light",
    )
    assert location.path == "job_clusters/light"
    assert location.reason == "project cluster_path"
    assert location.spec["node_type_id"] == "c5.2xlarge"


def test_locate_task_cluster_by_cluster_path(job: JobLoader) -> None:
    reply = job("task_clusters")
    location = locate_cluster(
        reply["settings"], job_id=1, project_id=PROJECT, cluster_path="tasks/train"
    )
    assert (location.kind, location.key) == ("task", "train")
    assert location.spec["num_workers"] == 10


def test_locate_multi_cluster_untagged_is_ambiguous(job: JobLoader) -> None:
    reply = job("multi_cluster_tagged")
    with pytest.raises(AmbiguousClusterError) as caught:
        locate_cluster(reply["settings"], job_id=reply["job_id"], project_id=OTHER_PROJECT)
    message = str(caught.value)
    for part in ("334455667", OTHER_PROJECT, "job_clusters/light", "job_clusters/heavy"):
        assert part in message
    assert "cluster_key=" in message
    assert "cluster_path" in message


def test_locate_task_clusters_ambiguous(job: JobLoader) -> None:
    reply = job("task_clusters")
    with pytest.raises(AmbiguousClusterError, match=r"tasks/features, tasks/train"):
        locate_cluster(reply["settings"], job_id=reply["job_id"], project_id=PROJECT)


def test_locate_two_tagged_clusters_is_ambiguous(job: JobLoader) -> None:
    settings = job("multi_cluster_tagged")["settings"]
    settings["job_clusters"][0]["new_cluster"]["custom_tags"]["sync:project-id"] = PROJECT
    with pytest.raises(AmbiguousClusterError) as caught:
        locate_cluster(settings, job_id=7, project_id=PROJECT)
    assert "job_clusters/light, job_clusters/heavy" in str(caught.value)
    assert "Databricks job 7" in str(caught.value)


@pytest.mark.parametrize(
    ("fixture", "cluster_key", "expected_path"),
    [
        ("shared_job_cluster", "main", "job_clusters/main"),
        ("shared_job_cluster", "job_clusters/main", "job_clusters/main"),
        ("task_clusters", "features", "tasks/features"),
        ("task_clusters", "tasks/features", "tasks/features"),
        ("task_clusters", "train", "tasks/train"),
        ("task_clusters", "tasks/train", "tasks/train"),
        # An explicit key beats the sync:project-id tag on "heavy".
        ("multi_cluster_tagged", "light", "job_clusters/light"),
        ("multi_cluster_tagged", "job_clusters/light", "job_clusters/light"),
    ],
)
def test_locate_explicit_cluster_key(
    job: JobLoader, fixture: str, cluster_key: str, expected_path: str
) -> None:
    reply = job(fixture)
    location = locate_cluster(
        reply["settings"],
        job_id=reply["job_id"],
        project_id=PROJECT,
        cluster_key=cluster_key,
        cluster_path="job_clusters/does-not-matter",
    )
    assert location.path == expected_path
    assert location.reason == "cluster_key argument"


def test_locate_empty_cluster_key_counts_as_not_given(job: JobLoader) -> None:
    reply = job("shared_job_cluster")
    location = locate_cluster(
        reply["settings"], job_id=1, project_id=PROJECT, cluster_key="", cluster_path=""
    )
    assert location.reason == "the job's only cluster"


@pytest.mark.parametrize(
    "cluster_key", ["nope", "job_clusters/nope", "tasks/nope", "job_clusters/"]
)
def test_locate_unknown_cluster_key_lists_what_exists(job: JobLoader, cluster_key: str) -> None:
    reply = job("multi_cluster_tagged")
    with pytest.raises(ClusterNotFoundError) as caught:
        locate_cluster(
            reply["settings"], job_id=reply["job_id"], project_id=PROJECT, cluster_key=cluster_key
        )
    message = str(caught.value)
    assert repr(cluster_key) in message
    assert "job_clusters/light, job_clusters/heavy" in message
    assert "334455667" in message
    assert PROJECT in message


def test_locate_job_cluster_path_form_does_not_match_a_task(job: JobLoader) -> None:
    reply = job("task_clusters")
    with pytest.raises(ClusterNotFoundError, match="tasks/features, tasks/train"):
        locate_cluster(
            reply["settings"], job_id=1, project_id=PROJECT, cluster_key="job_clusters/features"
        )


def test_locate_task_on_shared_job_cluster_points_to_it(job: JobLoader) -> None:
    reply = job("shared_job_cluster")
    with pytest.raises(ClusterNotFoundError) as caught:
        locate_cluster(reply["settings"], job_id=1, project_id=PROJECT, cluster_key="tasks/ingest")
    assert "job cluster 'main'" in str(caught.value)
    assert "cluster_key='job_clusters/main'" in str(caught.value)


def test_locate_unknown_cluster_path(job: JobLoader) -> None:
    reply = job("multi_cluster_tagged")
    with pytest.raises(ClusterNotFoundError) as caught:
        locate_cluster(
            reply["settings"], job_id=5, project_id=OTHER_PROJECT, cluster_path="tasks/gone"
        )
    assert "cluster_path 'tasks/gone'" in str(caught.value)
    assert "Gradient" in str(caught.value)


def test_locate_malformed_cluster_path(job: JobLoader) -> None:
    reply = job("multi_cluster_tagged")
    with pytest.raises(ClusterNotFoundError, match="is not of the form"):
        locate_cluster(reply["settings"], job_id=5, project_id=OTHER_PROJECT, cluster_path="light")


def test_locate_serverless_and_all_purpose_job(job: JobLoader) -> None:
    reply = job("serverless_and_existing")
    with pytest.raises(UnsupportedClusterError) as caught:
        locate_cluster(reply["settings"], job_id=reply["job_id"], project_id=PROJECT)
    message = str(caught.value)
    assert "445566778" in message
    assert PROJECT in message
    assert "'on_allpurpose' runs on the all-purpose cluster '0923-164208-meows279'" in message
    assert "'serverless' runs on serverless compute" in message
    assert "move the task to a job cluster" in message


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"cluster_key": "on_allpurpose"}, "move the task to a job cluster"),
        ({"cluster_key": "tasks/on_allpurpose"}, "all-purpose cluster '0923-164208-meows279'"),
        ({"cluster_key": "serverless"}, "serverless compute has no cluster to tune"),
        ({"cluster_path": "tasks/serverless"}, "serverless compute has no cluster to tune"),
    ],
)
def test_locate_explicit_unsupported_target(
    job: JobLoader, kwargs: dict[str, str], expected: str
) -> None:
    reply = job("serverless_and_existing")
    with pytest.raises(UnsupportedClusterError) as caught:
        locate_cluster(reply["settings"], job_id=reply["job_id"], project_id=PROJECT, **kwargs)
    assert expected in str(caught.value)
    assert "445566778" in str(caught.value)


def test_locate_only_cluster_ignores_serverless_neighbours(job: JobLoader) -> None:
    settings = job("shared_job_cluster")["settings"]
    settings["tasks"].append({"task_key": "report", "environment_key": "default"})
    settings["tasks"].append({"task_key": "adhoc", "existing_cluster_id": "0101-abc"})
    assert locate_cluster(settings, job_id=1, project_id=PROJECT).path == "job_clusters/main"


def test_locate_name_shared_by_job_cluster_and_task_cluster() -> None:
    settings = {
        "job_clusters": [{"job_cluster_key": "x", "new_cluster": {"num_workers": 1}}],
        "tasks": [{"task_key": "x", "new_cluster": {"num_workers": 2}}],
    }
    with pytest.raises(AmbiguousClusterError) as caught:
        locate_cluster(settings, job_id=3, project_id=PROJECT, cluster_key="x")
    assert "cluster_key='job_clusters/x'" in str(caught.value)
    assert "cluster_key='tasks/x'" in str(caught.value)
    by_job = locate_cluster(settings, job_id=3, project_id=PROJECT, cluster_key="job_clusters/x")
    by_task = locate_cluster(settings, job_id=3, project_id=PROJECT, cluster_key="tasks/x")
    assert (by_job.kind, by_job.spec) == ("job_cluster", {"num_workers": 1})
    assert (by_task.kind, by_task.spec) == ("task", {"num_workers": 2})


def test_locate_empty_job() -> None:
    with pytest.raises(ClusterNotFoundError, match="no tasks and no clusters"):
        locate_cluster({"name": "empty"}, job_id=9, project_id=PROJECT)


def test_locate_for_each_task_cluster() -> None:
    settings = for_each_settings()
    location = locate_cluster(settings, job_id=1, project_id=PROJECT)
    assert (location.kind, location.key, location.path) == (
        "task",
        "per_country",
        "tasks/per_country",
    )
    assert location.spec["node_type_id"] == "m5.large"
    by_inner_key = locate_cluster(
        settings, job_id=1, project_id=PROJECT, cluster_key="per_country_iteration"
    )
    assert by_inner_key.path == "tasks/per_country"


def test_for_each_task_update_keeps_the_outer_and_nested_task() -> None:
    settings = for_each_settings()
    location = locate_cluster(settings, job_id=1, project_id=PROJECT)
    new_spec = merge_recommendation(location.spec, {"num_workers": 3})
    update = update_settings_for(settings, location, new_spec)
    assert list(update) == ["tasks"]
    [task] = update["tasks"]
    expected = copy.deepcopy(settings["tasks"][1])
    expected["for_each_task"]["task"]["new_cluster"] = new_spec
    assert task == expected
    after = apply_jobs_update(settings, update)
    assert cluster_spec_at(after, "tasks/per_country") == new_spec
    assert after["tasks"][0] == settings["tasks"][0]
