"""validate_cluster_spec: would Databricks accept the spec."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_gradient.core.cluster.spec import validate_cluster_spec
from airflow_gradient.core.errors import (
    InvalidClusterSpecError,
)
from tests.core.cluster.shapes import (
    JobLoader,
)

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


# --- fields newer than the installed databricks-sdk ----------------------------------------

#: No databricks-sdk release knows this field, so these tests hold on any SDK version.
FUTURE_FIELD = "zz_field_newer_than_any_sdk"


def test_validate_keeps_an_unknown_field_the_job_already_had() -> None:
    existing = {"num_workers": 2, "node_type_id": "m5.large", FUTURE_FIELD: 125}
    merged = {**existing, "num_workers": 4}

    kept = validate_cluster_spec(merged, where="job 7 cluster main", existing=existing)

    assert len(kept) == 1
    assert kept[0].startswith(f"job 7 cluster main: {FUTURE_FIELD}: kept as the job has it")
    assert "does not know it" in kept[0]


def test_validate_keeps_an_unknown_nested_field_the_job_already_had() -> None:
    existing = {"num_workers": 1, "aws_attributes": {"availability": "SPOT", FUTURE_FIELD: "x"}}

    kept = validate_cluster_spec(dict(existing), where="here", existing=existing)

    assert [k.split(": ")[1] for k in kept] == [f"aws_attributes.{FUTURE_FIELD}"]


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
