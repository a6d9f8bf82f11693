"""diff_cluster, format_diff, format_path: what changed."""

from __future__ import annotations

import copy

import pytest

from airflow_gradient.core.cluster.diff import diff_cluster, format_diff
from airflow_gradient.core.cluster.merge import applied_recommendation_id, merge_recommendation
from airflow_gradient.core.cluster.paths import format_path
from tests.core.cluster.shapes import (
    JobLoader,
    RecLoader,
    config_of,
)

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
    from airflow_gradient.core.cluster.diff import read_back_differences

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
    from airflow_gradient.core.cluster.merge import merge_recommendation

    merged = merge_recommendation(
        {"num_workers": 1, "custom_tags": {"team": "x"}},
        {"num_workers": 2},
        recommendation_id="r-1",
    )
    assert merged["custom_tags"] == {"team": "x", "sync:recommendation-id": "r-1"}
    assert applied_recommendation_id(merged) == "r-1"
    assert "custom_tags" not in merge_recommendation({"num_workers": 1}, {"num_workers": 2})


def test_reverted_fields_lists_what_no_longer_holds_the_recommendation() -> None:
    from airflow_gradient.core.cluster.merge import merge_recommendation, reverted_fields

    config = {"num_workers": 4, "node_type_id": "m5.xlarge"}
    original = {"autoscale": {"min_workers": 2, "max_workers": 8}, "node_type_id": "i3.2xlarge"}
    applied = merge_recommendation(original, config, recommendation_id="r-1")
    assert reverted_fields(applied, config, "r-1") == []
    # Terraform put the sizing and node type back but left the tag (ignore_changes on tags only)
    reverted = {**original, "custom_tags": {"sync:recommendation-id": "r-1"}}
    paths = [c["path"] for c in reverted_fields(reverted, config, "r-1")]
    assert paths == ["autoscale", "node_type_id", "num_workers"]


def test_format_diff_markdown_is_a_table_with_literal_cells() -> None:
    from airflow_gradient.core.cluster.diff import format_diff_markdown

    changes = [
        {"path": "num_workers", "before": None, "after": 4},
        {"path": 'custom_tags["a|b"]', "before": "x`y", "after": None},
    ]
    assert format_diff_markdown(changes).splitlines() == [
        "| path | before | after |",
        "| --- | --- | --- |",
        "| `num_workers` | `(absent)` | `4` |",
        '| `custom_tags["a\\|b"]` | `"x\'y"` | `(absent)` |',
    ]
    assert format_diff_markdown([]) == "no changes"
