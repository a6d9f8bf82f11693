"""merge_recommendation: what a recommendation makes of a spec."""

from __future__ import annotations

import copy

import pytest

from airflow_gradient.core.cluster.merge import merge_recommendation
from tests.core.cluster.shapes import (
    PROJECT,
    SUCCESS_RECS,
    JobLoader,
    RecLoader,
    config_of,
)

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
