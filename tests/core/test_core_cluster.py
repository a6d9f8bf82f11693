"""Tests of airflow_gradient.cluster: locate, merge, validate, diff, and the jobs/update body."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.cluster import (
    ClusterLocation,
    applied_recommendation_id,
    cluster_spec_at,
    diff_cluster,
    format_diff,
    format_path,
    locate_cluster,
    merge_recommendation,
    update_settings_for,
    validate_cluster_spec,
)
from airflow_gradient.exceptions import (
    AmbiguousClusterError,
    ClusterNotFoundError,
    InvalidClusterSpecError,
    UnsupportedClusterError,
)
from airflow_gradient.recommendation import parse_recommendation

PROJECT = "11111111-2222-4333-8444-555555555555"
OTHER_PROJECT = "99999999-0000-4000-8000-000000000000"
SUCCESS_RECS = ("aws_fixed_success", "aws_autoscale_success", "azure_fixed_success")

JobLoader = Callable[[str], dict[str, Any]]
RecLoader = Callable[[str], Any]


def apply_jobs_update(settings: dict[str, Any], new_settings: dict[str, Any]) -> dict[str, Any]:
    """What Databricks does with jobs/update: arrays merged by key (entries replaced whole)."""
    result = copy.deepcopy(settings)
    for field, value in new_settings.items():
        if field in ("tasks", "job_clusters"):
            key = "task_key" if field == "tasks" else "job_cluster_key"
            entries = result.setdefault(field, [])
            for new in value:
                for index, old in enumerate(entries):
                    if old[key] == new[key]:
                        entries[index] = copy.deepcopy(new)
                        break
                else:
                    entries.append(copy.deepcopy(new))
        else:
            result[field] = copy.deepcopy(value)
    return result


def config_of(rec: RecLoader, name: str) -> dict[str, Any]:
    return parse_recommendation(rec(name), project_id=PROJECT).configuration


def for_each_settings() -> dict[str, Any]:
    return {
        "name": "loop",
        "tasks": [
            {
                "task_key": "prepare",
                "environment_key": "default",
                "spark_python_task": {"python_file": "/Workspace/prepare.py"},
            },
            {
                "task_key": "per_country",
                "depends_on": [{"task_key": "prepare"}],
                "for_each_task": {
                    "inputs": '["fr", "de"]',
                    "concurrency": 2,
                    "task": {
                        "task_key": "per_country_iteration",
                        "notebook_task": {"notebook_path": "/Repos/etl/country"},
                        "new_cluster": {
                            "spark_version": "14.3.x-scala2.12",
                            "node_type_id": "m5.large",
                            "num_workers": 1,
                        },
                    },
                },
            },
        ],
    }


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


# --- merge_recommendation ------------------------------------------------------------------


def test_merge_fixed_recommendation_into_autoscale_cluster(job: JobLoader, rec: RecLoader) -> None:
    spec = job("shared_job_cluster")["settings"]["job_clusters"][0]["new_cluster"]
    merged = merge_recommendation(spec, config_of(rec, "aws_fixed_success"))
    assert "autoscale" not in merged
    assert merged["num_workers"] == 4
    assert merged["node_type_id"] == "m5.xlarge"
    assert merged["spark_version"] == "15.4.x-scala2.12"
    # dicts merged key by key, the recommendation winning
    assert merged["custom_tags"] == {
        "team": "data-eng",
        "cost-center": "cc-1234",
        "sync:project-id": PROJECT,
        "sync:run-id": "7a0d6d1e-3c1b-4b7e-9d55-0e6f3f1c2a01",
        "sync:recommendation-id": "b6f7c1f2-0d0e-4a53-9a3e-3c1d2f3b9a10",
        "sync:tenant-id": "a9d3c2b1-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    }
    assert merged["spark_conf"] == {
        "spark.sql.shuffle.partitions": "200",
        "spark.databricks.isv.product": "sync-gradient",
    }
    assert merged["aws_attributes"] == {
        "availability": "SPOT_WITH_FALLBACK",
        "first_on_demand": 1,
        "zone_id": "auto",
        "instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/etl",
        "ebs_volume_type": "GENERAL_PURPOSE_SSD",
        "ebs_volume_count": 1,
        "ebs_volume_size": 100,
        "spot_bid_price_percent": 100,
    }
    # everything the recommendation does not mention survives unchanged
    for field in (
        "spark_env_vars",
        "policy_id",
        "init_scripts",
        "cluster_log_conf",
        "data_security_mode",
        "single_user_name",
        "enable_elastic_disk",
    ):
        assert merged[field] == spec[field], field
    assert merged["enable_elastic_disk"] is False


def test_merge_autoscale_recommendation_into_fixed_cluster(job: JobLoader, rec: RecLoader) -> None:
    spec = job("task_clusters")["settings"]["tasks"][1]["new_cluster"]
    merged = merge_recommendation(spec, config_of(rec, "aws_autoscale_success"))
    assert "num_workers" not in merged
    assert merged["autoscale"] == {"min_workers": 2, "max_workers": 6}
    assert merged["aws_attributes"]["zone_id"] == "us-east-1a"
    assert merged["aws_attributes"]["availability"] == "ON_DEMAND"
    assert merged["spark_conf"]["spark.sql.shuffle.partitions"] == "400"
    assert merged["custom_tags"]["team"] == "ml"


def test_merge_without_sizing_keeps_current_sizing() -> None:
    spec = {"autoscale": {"min_workers": 1, "max_workers": 4}, "node_type_id": "a"}
    assert merge_recommendation(spec, {"node_type_id": "b"}) == {
        "autoscale": {"min_workers": 1, "max_workers": 4},
        "node_type_id": "b",
    }


def test_merge_replaces_lists_instead_of_concatenating() -> None:
    spec = {
        "num_workers": 1,
        "init_scripts": [{"workspace": {"destination": "/a.sh"}}],
    }
    config = {"init_scripts": [{"volumes": {"destination": "/Volumes/b.sh"}}]}
    once = merge_recommendation(spec, config)
    twice = merge_recommendation(once, config)
    assert once["init_scripts"] == [{"volumes": {"destination": "/Volumes/b.sh"}}]
    assert twice == once


def test_merge_cluster_log_conf_switching_destination_replaces_it() -> None:
    spec = {"num_workers": 1, "cluster_log_conf": {"s3": {"destination": "s3://a", "region": "x"}}}
    switched = merge_recommendation(
        spec, {"cluster_log_conf": {"dbfs": {"destination": "dbfs:/l"}}}
    )
    assert switched["cluster_log_conf"] == {"dbfs": {"destination": "dbfs:/l"}}
    same_kind = merge_recommendation(spec, {"cluster_log_conf": {"s3": {"destination": "s3://b"}}})
    assert same_kind["cluster_log_conf"] == {"s3": {"destination": "s3://b", "region": "x"}}


@pytest.mark.parametrize("fixture", ["shared_job_cluster", "multi_cluster_tagged", "task_clusters"])
@pytest.mark.parametrize("rec_name", SUCCESS_RECS)
def test_merge_is_pure_and_idempotent(
    job: JobLoader, rec: RecLoader, fixture: str, rec_name: str
) -> None:
    settings = job(fixture)["settings"]
    specs = [c["new_cluster"] for c in settings.get("job_clusters", [])] + [
        t["new_cluster"] for t in settings["tasks"] if "new_cluster" in t
    ]
    config = config_of(rec, rec_name)
    for spec in specs:
        spec_before, config_before = copy.deepcopy(spec), copy.deepcopy(config)
        once = merge_recommendation(spec, config)
        assert merge_recommendation(once, config) == once
        assert spec == spec_before
        assert config == config_before
        once["custom_tags"]["mutated"] = "yes"
        assert "mutated" not in config["custom_tags"]


# --- validate_cluster_spec -----------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["shared_job_cluster", "multi_cluster_tagged", "task_clusters"])
def test_fixture_clusters_are_valid(job: JobLoader, fixture: str) -> None:
    settings = job(fixture)["settings"]
    for entry in settings.get("job_clusters", []):
        validate_cluster_spec(entry["new_cluster"], where=entry["job_cluster_key"])
    for task in settings["tasks"]:
        if "new_cluster" in task:
            validate_cluster_spec(task["new_cluster"], where=task["task_key"])


def test_validate_lists_every_problem_at_once() -> None:
    spec = {
        "num_workers": -1,
        "autoscale": {"min_workers": 3, "max_workers": 1},
        "bogus_field": 1,
        "aws_attributes": {"availability": "CHEAP"},
        "spark_conf": {"spark.x": 1},
        "azure_attributes": {"availability": "SPOT_AZURE"},
        "cluster_log_conf": {"dbfs": {"destination": "a"}, "s3": {"destination": "b"}},
    }
    with pytest.raises(InvalidClusterSpecError) as caught:
        validate_cluster_spec(spec, where="job 123 cluster job_clusters/main")
    message = str(caught.value)
    assert "job 123 cluster job_clusters/main" in message
    assert "(8 problems)" in message
    expected = [
        "bogus_field: dropped by databricks-sdk",
        "aws_attributes.availability: dropped by databricks-sdk 0.",
        "both num_workers and autoscale are set",
        "num_workers: must be an integer >= 0, got -1",
        "autoscale: min_workers 3 is greater than max_workers 1",
        'spark_conf["spark.x"]: must be a string, got 1',
        "aws_attributes and azure_attributes are set together",
        "cluster_log_conf: has 2 destinations (dbfs, s3)",
    ]
    for part in expected:
        assert part in message, part


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"node_type_id": "m5.large"}, "neither num_workers nor autoscale"),
        ({"num_workers": True}, "num_workers: must be an integer >= 0, got true"),
        ({"autoscale": 5}, "cannot read it as a ClusterSpec"),
        ({"autoscale": {"min_workers": 1}}, "autoscale.max_workers: must be an integer >= 0"),
        ({"num_workers": 1, "custom_tags": ["a"]}, "custom_tags: must be an object of strings"),
        (
            {"num_workers": 1, "init_scripts": [{"workspace": {"destination": "/a", "x": 1}}]},
            "init_scripts[0].workspace.x: dropped",
        ),
    ],
)
def test_validate_single_problem(spec: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidClusterSpecError) as caught:
        validate_cluster_spec(spec, where="here")
    assert "The cluster spec for here would be rejected" in str(caught.value)
    assert expected in str(caught.value)


# --- the fixture matrix: locate, merge, validate, update ------------------------------------

MATRIX = [
    # job fixture, cluster_key, expected path (None: locate raises), expected locate error
    ("shared_job_cluster", None, "job_clusters/main", None),
    ("multi_cluster_tagged", None, "job_clusters/heavy", None),
    ("task_clusters", None, None, AmbiguousClusterError),
    ("task_clusters", "features", "tasks/features", None),
    ("task_clusters", "tasks/train", "tasks/train", None),
    ("serverless_and_existing", None, None, UnsupportedClusterError),
]


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: f"{case[0]}-{case[1]}")
@pytest.mark.parametrize("rec_name", SUCCESS_RECS)
def test_fixture_matrix(
    job: JobLoader,
    rec: RecLoader,
    case: tuple[str, str | None, str | None, type[Exception] | None],
    rec_name: str,
) -> None:
    fixture, cluster_key, expected_path, error = case
    reply = job(fixture)
    settings = reply["settings"]
    pristine = copy.deepcopy(settings)
    if error is not None:
        with pytest.raises(error):
            locate_cluster(
                settings, job_id=reply["job_id"], project_id=PROJECT, cluster_key=cluster_key
            )
        return
    location = locate_cluster(
        settings, job_id=reply["job_id"], project_id=PROJECT, cluster_key=cluster_key
    )
    assert location.path == expected_path
    merged = merge_recommendation(location.spec, config_of(rec, rec_name))
    where = f"job {reply['job_id']} cluster {location.path}"
    if rec_name.startswith("azure"):
        # Every fixture cluster is on AWS: an Azure recommendation must not be applied to it.
        with pytest.raises(InvalidClusterSpecError, match="aws_attributes and azure_attributes"):
            validate_cluster_spec(merged, where=where)
        return
    validate_cluster_spec(merged, where=where)

    update = update_settings_for(settings, location, merged)
    assert settings == pristine
    after = apply_jobs_update(settings, update)
    assert cluster_spec_at(after, location.path) == merged
    assert applied_recommendation_id(merged) == rec(rec_name)["id"]
    # Only that cluster changed: put the old spec back and the settings are identical.
    restored = apply_jobs_update(after, update_settings_for(after, location, location.spec))
    assert restored == pristine


def test_multi_cluster_light_is_untouched(job: JobLoader, rec: RecLoader) -> None:
    reply = job("multi_cluster_tagged")
    settings = reply["settings"]
    location = locate_cluster(settings, job_id=reply["job_id"], project_id=PROJECT)
    merged = merge_recommendation(location.spec, config_of(rec, "aws_autoscale_success"))
    update = update_settings_for(settings, location, merged)
    assert update == {"job_clusters": [{"job_cluster_key": "heavy", "new_cluster": merged}]}
    after = apply_jobs_update(settings, update)
    assert after["job_clusters"][0] == settings["job_clusters"][0]
    assert after["tasks"] == settings["tasks"]
    assert cluster_spec_at(after, "job_clusters/heavy") == merged


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


# --- diff_cluster / format_diff / format_path ------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["num_workers"], "num_workers"),
        (["aws_attributes", "availability"], "aws_attributes.availability"),
        (["custom_tags", "sync:project-id"], 'custom_tags["sync:project-id"]'),
        (
            ["spark_conf", "spark.databricks.isv.product"],
            'spark_conf["spark.databricks.isv.product"]',
        ),
        (["custom_tags", 'say "hi"'], 'custom_tags["say \\"hi\\""]'),
        (["init_scripts", 0, "workspace"], "init_scripts[0].workspace"),
        (["a.b"], '["a.b"]'),
    ],
)
def test_format_path(keys: list[str | int], expected: str) -> None:
    assert format_path(keys) == expected


def test_diff_fixed_recommendation_paths(job: JobLoader, rec: RecLoader) -> None:
    spec = job("shared_job_cluster")["settings"]["job_clusters"][0]["new_cluster"]
    merged = merge_recommendation(spec, config_of(rec, "aws_fixed_success"))
    changes = diff_cluster(spec, merged)
    assert [c["path"] for c in changes] == [
        "autoscale",
        "aws_attributes.availability",
        "aws_attributes.ebs_volume_count",
        "aws_attributes.spot_bid_price_percent",
        'custom_tags["sync:project-id"]',
        'custom_tags["sync:recommendation-id"]',
        'custom_tags["sync:run-id"]',
        'custom_tags["sync:tenant-id"]',
        "driver_node_type_id",
        "node_type_id",
        "num_workers",
        "runtime_engine",
        'spark_conf["spark.databricks.isv.product"]',
        "spark_version",
    ]
    by_path = {c["path"]: c for c in changes}
    assert by_path["autoscale"] == {
        "path": "autoscale",
        "before": {"min_workers": 2, "max_workers": 8},
        "after": None,
    }
    assert by_path["num_workers"] == {"path": "num_workers", "before": None, "after": 4}
    assert by_path["aws_attributes.availability"]["before"] == "ON_DEMAND"
    assert by_path["aws_attributes.availability"]["after"] == "SPOT_WITH_FALLBACK"


def test_diff_switch_to_autoscale_shows_both_paths() -> None:
    before = {"num_workers": 10, "node_type_id": "r5.4xlarge"}
    after = merge_recommendation(before, {"autoscale": {"min_workers": 2, "max_workers": 6}})
    assert diff_cluster(before, after) == [
        {"path": "autoscale", "before": None, "after": {"min_workers": 2, "max_workers": 6}},
        {"path": "num_workers", "before": 10, "after": None},
    ]


def test_diff_lists_compared_whole_and_bools_not_ints() -> None:
    before = {"init_scripts": [{"a": 1}, {"b": 2}], "enable_elastic_disk": False, "x": 1}
    after = {"init_scripts": [{"a": 1}, {"b": 3}], "enable_elastic_disk": 0, "x": 1}
    assert diff_cluster(before, after) == [
        {"path": "enable_elastic_disk", "before": False, "after": 0},
        {"path": "init_scripts", "before": before["init_scripts"], "after": after["init_scripts"]},
    ]


def test_diff_identical_is_empty_and_formats_as_no_changes(job: JobLoader) -> None:
    spec = job("shared_job_cluster")["settings"]["job_clusters"][0]["new_cluster"]
    assert diff_cluster(spec, copy.deepcopy(spec)) == []
    assert format_diff([]) == "no changes"


def test_format_diff_table() -> None:
    changes = diff_cluster(
        {"num_workers": 10, "custom_tags": {"team": "ml"}},
        {
            "autoscale": {"min_workers": 2, "max_workers": 6},
            "custom_tags": {"team": "ml", "a.b": "x"},
        },
    )
    table = format_diff(changes).splitlines()
    assert table[0].split(" | ") == ["path".ljust(18), "before".ljust(8), "after"]
    assert set(table[1]) == {"-", "+"}
    rows = table[2:]
    assert [row.split(" | ")[0].rstrip() for row in rows] == [
        "autoscale",
        'custom_tags["a.b"]',
        "num_workers",
    ]
    assert [row.split(" | ")[1].rstrip() for row in rows] == ["(absent)", "(absent)", "10"]
    assert [row.split(" | ")[2] for row in rows] == [
        '{"max_workers": 6, "min_workers": 2}',
        '"x"',
        "(absent)",
    ]
    # fixed width: the column separators line up on every line
    assert len({line.index(" | ") for line in [table[0], *rows]}) == 1


def test_read_back_ignores_defaults_databricks_adds_but_not_lost_values() -> None:
    from airflow_gradient.cluster import read_back_differences

    written = {"num_workers": 4, "node_type_id": "m5.xlarge", "custom_tags": {"a": "1"}}
    with_defaults = {**written, "enable_elastic_disk": True, "custom_tags": {"a": "1", "b": "2"}}
    assert read_back_differences(written, with_defaults) == []
    assert read_back_differences(written, {**written, "node_type_id": "i3.xlarge"}) == [
        {"path": "node_type_id", "before": "m5.xlarge", "after": "i3.xlarge"}
    ]
    both_sizes = {**written, "autoscale": {"min_workers": 1, "max_workers": 2}}
    assert [c["path"] for c in read_back_differences(written, both_sizes)] == ["autoscale"]
    assert [c["path"] for c in read_back_differences(written, {})] == [
        "custom_tags",
        "node_type_id",
        "num_workers",
    ]


def test_merge_tags_the_recommendation_in_force_when_asked() -> None:
    from airflow_gradient.cluster import applied_recommendation_id, merge_recommendation

    merged = merge_recommendation(
        {"num_workers": 1, "custom_tags": {"team": "x"}},
        {"num_workers": 2},
        recommendation_id="r-1",
    )
    assert merged["custom_tags"] == {"team": "x", "sync:recommendation-id": "r-1"}
    assert applied_recommendation_id(merged) == "r-1"
    assert "custom_tags" not in merge_recommendation({"num_workers": 1}, {"num_workers": 2})


def test_reverted_fields_lists_what_no_longer_holds_the_recommendation() -> None:
    from airflow_gradient.cluster import merge_recommendation, reverted_fields

    config = {"num_workers": 4, "node_type_id": "m5.xlarge"}
    original = {"autoscale": {"min_workers": 2, "max_workers": 8}, "node_type_id": "i3.2xlarge"}
    applied = merge_recommendation(original, config, recommendation_id="r-1")
    assert reverted_fields(applied, config, "r-1") == []
    # Terraform put the sizing and node type back but left the tag (ignore_changes on tags only)
    reverted = {**original, "custom_tags": {"sync:recommendation-id": "r-1"}}
    paths = [c["path"] for c in reverted_fields(reverted, config, "r-1")]
    assert paths == ["autoscale", "node_type_id", "num_workers"]


# --- fields newer than the installed databricks-sdk ----------------------------------------

#: No databricks-sdk release knows this field, so these tests hold on any SDK version.
FUTURE_FIELD = "zz_field_newer_than_any_sdk"


def test_validate_keeps_an_unknown_field_the_job_already_had(
    caplog: pytest.LogCaptureFixture,
) -> None:
    existing = {"num_workers": 2, "node_type_id": "m5.large", FUTURE_FIELD: 125}
    merged = {**existing, "num_workers": 4}

    with caplog.at_level("WARNING", logger="airflow_gradient.cluster"):
        kept = validate_cluster_spec(merged, where="job 7 cluster main", existing=existing)

    assert len(kept) == 1 and kept[0].startswith(f"{FUTURE_FIELD}: kept as the job has it")
    assert "does not know it" in kept[0]
    assert f"job 7 cluster main: {FUTURE_FIELD}: kept" in caplog.text


def test_validate_keeps_an_unknown_nested_field_the_job_already_had() -> None:
    existing = {"num_workers": 1, "aws_attributes": {"availability": "SPOT", FUTURE_FIELD: "x"}}

    kept = validate_cluster_spec(dict(existing), where="here", existing=existing)

    assert [k.split(":")[0] for k in kept] == [f"aws_attributes.{FUTURE_FIELD}"]


def test_validate_refuses_an_unknown_field_the_recommendation_added() -> None:
    existing = {"num_workers": 2, "node_type_id": "m5.large"}
    merged = {**existing, FUTURE_FIELD: 125}

    with pytest.raises(InvalidClusterSpecError) as caught:
        validate_cluster_spec(merged, where="job 7 cluster main", existing=existing)

    assert f"{FUTURE_FIELD}: dropped by databricks-sdk" in str(caught.value)


def test_validate_refuses_an_unknown_field_whose_value_the_recommendation_changed() -> None:
    existing = {"num_workers": 2, FUTURE_FIELD: 125}

    with pytest.raises(InvalidClusterSpecError, match=f"{FUTURE_FIELD}: dropped"):
        validate_cluster_spec({**existing, FUTURE_FIELD: 250}, where="here", existing=existing)


def test_validate_still_refuses_wrong_types_in_fields_the_job_had() -> None:
    existing = {"num_workers": 2, "spark_conf": {"a": "1"}, FUTURE_FIELD: 1}
    merged = {**existing, "num_workers": "many", "spark_conf": {"a": 1}}

    with pytest.raises(InvalidClusterSpecError) as caught:
        validate_cluster_spec(merged, where="here", existing=existing)

    message = str(caught.value)
    assert "num_workers: must be an integer >= 0" in message
    assert "spark_conf.a: must be a string, got 1" in message
    assert FUTURE_FIELD not in message


def test_validate_without_the_existing_spec_refuses_every_unknown_field() -> None:
    with pytest.raises(InvalidClusterSpecError, match=f"{FUTURE_FIELD}: dropped"):
        validate_cluster_spec({"num_workers": 1, FUTURE_FIELD: 1}, where="here")
