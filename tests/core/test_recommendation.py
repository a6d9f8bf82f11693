"""Tests of airflow_gradient.core.recommendation: parsing, configuration, metrics line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.core.configuration import MAX_WORKERS
from airflow_gradient.core.errors import InvalidRecommendationError
from airflow_gradient.core.recommendation import (
    Recommendation,
    format_metrics,
    parse_recommendation,
)

PROJECT = "11111111-2222-4333-8444-555555555555"
RecLoader = Callable[[str], Any]


# --- parse_recommendation: good replies ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "phase", "workers"),
    [
        ("aws_fixed_success", "OPTIMIZING", {"num_workers": 4}),
        ("aws_autoscale_success", "LEARNING", {"autoscale": {"min_workers": 2, "max_workers": 6}}),
        ("azure_fixed_success", "OPTIMIZING", {"num_workers": 6}),
    ],
)
def test_parse_success(rec: RecLoader, name: str, phase: str, workers: dict[str, Any]) -> None:
    raw = rec(name)
    parsed = parse_recommendation(raw, project_id=PROJECT)
    assert parsed.id == raw["id"]
    assert parsed.state == "SUCCESS"
    assert parsed.created_at == raw["created_at"]
    assert parsed.updated_at == raw["updated_at"]
    assert parsed.error is None
    assert parsed.phase == phase
    assert parsed.configuration == raw["recommendation"]["configuration"]
    for key, value in workers.items():
        assert parsed.configuration[key] == value
    assert parsed.metrics == raw["recommendation"]["metrics"]
    assert parsed.prediction_params == raw["recommendation"]["prediction_params"]
    assert parsed.context == raw["context"]
    assert parsed.is_applicable is True
    # a copy, not a view of the reply
    raw["recommendation"]["configuration"]["node_type_id"] = "changed"
    assert parsed.configuration["node_type_id"] != "changed"


def test_parse_pending(rec: RecLoader) -> None:
    parsed = parse_recommendation(rec("pending"), project_id=PROJECT)
    assert parsed == Recommendation(
        id="e5f6a7b8-c9d0-4e1f-a2b3-c4d5e6f7a8b9",
        state="PENDING",
        created_at="2026-10-05T08:00:00Z",
        updated_at="2026-10-05T08:00:00Z",
        error=None,
        configuration={},
        metrics={},
        prediction_params={},
        phase="LEARNING",
        context={"phase": "LEARNING"},
    )
    assert parsed.is_applicable is False


def test_parse_failure_keeps_error(rec: RecLoader) -> None:
    parsed = parse_recommendation(rec("failure"), project_id=PROJECT)
    assert parsed.state == "FAILURE"
    assert parsed.error == "No event log found for the latest run"
    assert parsed.configuration == {}
    assert parsed.is_applicable is False


def test_parse_list_entries(rec: RecLoader) -> None:
    entries = rec("list_newest_pending")
    parsed = [parse_recommendation(entry, project_id=PROJECT) for entry in entries]
    assert [p.state for p in parsed] == ["PENDING", "FAILURE", "SUCCESS"]
    assert [p.is_applicable for p in parsed] == [False, False, True]
    assert parsed[2].configuration["num_workers"] == 4


def test_parse_the_list_itself_is_an_error(rec: RecLoader) -> None:
    with pytest.raises(InvalidRecommendationError, match="pass one entry of the list"):
        parse_recommendation(rec("list_newest_pending"), project_id=PROJECT)


def test_parse_state_is_case_insensitive(rec: RecLoader) -> None:
    raw = rec("aws_fixed_success")
    raw["state"] = "success"
    assert parse_recommendation(raw, project_id=PROJECT).state == "SUCCESS"


def test_parse_non_string_error_is_kept_as_json(rec: RecLoader) -> None:
    raw = rec("failure")
    raw["error"] = {"reason": "no logs"}
    assert parse_recommendation(raw, project_id=PROJECT).error == '{"reason": "no logs"}'


def test_parse_pending_ignores_a_configuration(rec: RecLoader) -> None:
    raw = rec("aws_fixed_success")
    raw["state"] = "PENDING"
    parsed = parse_recommendation(raw, project_id=PROJECT)
    assert parsed.configuration == {}
    assert parsed.is_applicable is False
    assert parsed.metrics["spark_duration_minutes"] == 41.5


# --- parse_recommendation: malformed replies -------------------------------------------------


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        target = raw
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


MALFORMED = [
    ("no id", _delete(("id",)), "has no usable id"),
    ("int id", _set(("id",), 42), "has no usable id (its id is 42, an integer)"),
    ("empty id", _set(("id",), "  "), "has no usable id"),
    ("no state", _delete(("state",)), "state: must be one of PENDING, SUCCESS, FAILURE, got null"),
    (
        "unknown state",
        _set(("state",), "DONE"),
        'state: must be one of PENDING, SUCCESS, FAILURE, got "DONE"',
    ),
    ("int state", _set(("state",), 1), "got 1 (an integer)"),
    (
        "null recommendation",
        _set(("recommendation",), None),
        "recommendation: is null, but the state is SUCCESS",
    ),
    (
        "string recommendation",
        _set(("recommendation",), "x"),
        "recommendation: must be an object or null",
    ),
    (
        "no configuration",
        _delete(("recommendation", "configuration")),
        "configuration: missing or empty",
    ),
    (
        "empty configuration",
        _set(("recommendation", "configuration"), {}),
        "configuration: missing or empty",
    ),
    (
        "list configuration",
        _set(("recommendation", "configuration"), [1]),
        "configuration: must be an object, got [1]",
    ),
    ("bad created_at", _set(("created_at",), 1700000000), "created_at: must be a string or null"),
    ("list context", _set(("context",), ["LEARNING"]), "context: must be an object or null"),
    ("int phase", _set(("context", "phase"), 2), "context.phase: must be a string or null"),
    (
        "list metrics",
        _set(("recommendation", "metrics"), [1]),
        "recommendation.metrics: must be an object or null",
    ),
    (
        "bad prediction_params",
        _set(("recommendation", "prediction_params"), "x"),
        "recommendation.prediction_params",
    ),
    (
        "bool num_workers",
        _set(("recommendation", "configuration", "num_workers"), True),
        "recommendation.configuration.num_workers: must be an integer, got true (a boolean)",
    ),
    (
        "unknown field",
        _set(("recommendation", "configuration", "docker_image"), {"url": "x"}),
        "recommendation.configuration.docker_image: not a field a recommendation may set",
    ),
    (
        "foreign project tag",
        _set(("recommendation", "configuration", "custom_tags", "sync:project-id"), "other"),
        'custom_tags["sync:project-id"]: is "other"',
    ),
    (
        "foreign recommendation tag",
        _set(("recommendation", "configuration", "custom_tags", "sync:recommendation-id"), "other"),
        "tag the cluster for another recommendation",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_parse_malformed(
    rec: RecLoader, mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    raw = rec("aws_fixed_success")
    mutate(raw)
    with pytest.raises(InvalidRecommendationError) as caught:
        parse_recommendation(raw, project_id=PROJECT)
    message = str(caught.value)
    assert expected in message
    assert PROJECT in message
    if isinstance(raw.get("id"), str) and raw["id"].strip():
        assert raw["id"] in message
    assert "Request a new recommendation, or report it to Sync Computing." in message


@pytest.mark.parametrize("value", [None, "SUCCESS", 5, ["a"], ("b",)])
def test_parse_not_an_object(value: Any) -> None:
    with pytest.raises(InvalidRecommendationError, match="is not a JSON object") as caught:
        parse_recommendation(value, project_id=PROJECT)
    assert PROJECT in str(caught.value)


def test_parse_reports_every_problem(rec: RecLoader) -> None:
    raw = rec("aws_fixed_success")
    raw["created_at"] = 5
    raw["context"] = {"phase": 3}
    raw["recommendation"]["configuration"]["num_workers"] = -2
    raw["recommendation"]["configuration"]["runtime_engine"] = "TURBO"
    with pytest.raises(InvalidRecommendationError) as caught:
        parse_recommendation(raw, project_id=PROJECT)
    message = str(caught.value)
    assert "(4 problems)" in message
    assert message.count("\n  - ") == 4


# --- the configuration patch -----------------------------------------------------------------


def parse_configuration(configuration: Any) -> Recommendation:
    """A SUCCESS reply carrying ``configuration``, parsed: the way a patch reaches its checks."""
    reply = {"id": "r1", "state": "SUCCESS", "recommendation": {"configuration": configuration}}
    return parse_recommendation(reply, project_id="p1")


VALID_CONFIGS = [
    {"num_workers": 0},
    {"num_workers": MAX_WORKERS},
    {"autoscale": {"min_workers": 0, "max_workers": 1}},
    {"autoscale": {"min_workers": 3, "max_workers": 3}},
    {"node_type_id": "m5.xlarge", "driver_node_type_id": "m5.large", "spark_version": "15.4.x"},
    {"runtime_engine": "PHOTON"},
    {"spark_conf": {"spark.a": "1"}, "spark_env_vars": {"A": "b"}, "custom_tags": {"x:y": ""}},
    {
        "aws_attributes": {
            "availability": "SPOT",
            "first_on_demand": 0,
            "spot_bid_price_percent": 100,
            "ebs_volume_type": "THROUGHPUT_OPTIMIZED_HDD",
            "ebs_volume_count": 10,
            "ebs_volume_size": 500,
            "ebs_volume_iops": 3000,
            "ebs_volume_throughput": 125,
            "zone_id": "auto",
            "instance_profile_arn": "arn:aws:iam::1:instance-profile/x",
        }
    },
    {
        "azure_attributes": {
            "availability": "SPOT_AZURE",
            "first_on_demand": 1,
            "spot_bid_max_price": -1,
        }
    },
    {"azure_attributes": {"spot_bid_max_price": 0.35}},
    {
        "gcp_attributes": {
            "availability": "PREEMPTIBLE_GCP",
            "local_ssd_count": 1,
            "zone_id": "auto",
        }
    },
    {
        "cluster_log_conf": {
            "s3": {"destination": "s3://l", "region": "us-east-1", "enable_encryption": True}
        }
    },
    {"cluster_log_conf": {"volumes": {"destination": "/Volumes/a/b/c"}}},
    {"init_scripts": []},
    {
        "init_scripts": [
            {"workspace": {"destination": "/a.sh"}},
            {"s3": {"destination": "s3://b.sh", "region": "eu"}},
        ]
    },
]


@pytest.mark.parametrize("configuration", VALID_CONFIGS)
def test_a_valid_configuration_is_kept_as_a_copy(configuration: dict[str, Any]) -> None:
    result = parse_configuration(configuration).configuration
    assert result == configuration
    assert result is not configuration


INVALID_CONFIGS = [
    ({"docker_image": {}}, "docker_image: not a field a recommendation may set"),
    ({"num_workers": True}, "num_workers: must be an integer, got true (a boolean)"),
    ({"num_workers": 4.0}, "num_workers: must be an integer, got 4.0 (a number)"),
    ({"num_workers": "4"}, 'num_workers: must be an integer, got "4" (a string)'),
    ({"num_workers": -1}, "num_workers: must be >= 0, got -1"),
    (
        {"num_workers": MAX_WORKERS + 1},
        f"num_workers: must be <= {MAX_WORKERS}, got {MAX_WORKERS + 1}",
    ),
    (
        {"num_workers": 2, "autoscale": {"min_workers": 1, "max_workers": 2}},
        "num_workers: set together with autoscale",
    ),
    (
        {"autoscale": {"min_workers": 5, "max_workers": 2}},
        "autoscale: min_workers 5 is greater than max_workers 2",
    ),
    ({"autoscale": {"min_workers": 1}}, "autoscale.max_workers: missing (required)"),
    (
        {"autoscale": {"min_workers": False, "max_workers": 2}},
        "autoscale.min_workers: must be an integer, got false",
    ),
    (
        {"autoscale": {"min_workers": 0, "max_workers": 0}},
        "autoscale.max_workers: must be >= 1, got 0",
    ),
    (
        {"autoscale": {"min_workers": 1, "max_workers": 2, "step": 1}},
        "autoscale.step: unknown field",
    ),
    ({"autoscale": [1, 2]}, "autoscale: must be an object, got [1, 2] (a list)"),
    ({"node_type_id": 5}, "node_type_id: must be a non-empty string, got 5"),
    ({"driver_node_type_id": ""}, 'driver_node_type_id: must be a non-empty string, got ""'),
    ({"spark_version": None}, "spark_version: must be a non-empty string, got null"),
    ({"runtime_engine": "TURBO"}, 'runtime_engine: must be one of STANDARD, PHOTON, got "TURBO"'),
    ({"runtime_engine": "photon"}, "runtime_engine: must be one of STANDARD, PHOTON"),
    (
        {"spark_conf": {"spark.sql.shuffle.partitions": 200}},
        'spark_conf["spark.sql.shuffle.partitions"]: must be a string, got 200',
    ),
    ({"custom_tags": {"team": None}}, "custom_tags.team: must be a string, got null"),
    ({"spark_env_vars": ["A=b"]}, "spark_env_vars: must be an object of strings"),
    (
        {"aws_attributes": {"availability": "CHEAP"}},
        "aws_attributes.availability: must be one of ON_DEMAND, SPOT, SPOT_WITH_FALLBACK",
    ),
    (
        {"aws_attributes": {"availability": "SPOT_AZURE"}},
        "aws_attributes.availability: must be one of",
    ),
    (
        {"aws_attributes": {"first_on_demand": -1}},
        "aws_attributes.first_on_demand: must be >= 0, got -1",
    ),
    (
        {"aws_attributes": {"spot_bid_price_percent": "100"}},
        "aws_attributes.spot_bid_price_percent: must be an integer",
    ),
    (
        {"aws_attributes": {"ebs_volume_type": "NVME"}},
        "aws_attributes.ebs_volume_type: must be one of GENERAL_PURPOSE_SSD, "
        "THROUGHPUT_OPTIMIZED_HDD",
    ),
    (
        {"aws_attributes": {"ebs_volume_count": 11}},
        "aws_attributes.ebs_volume_count: must be <= 10, got 11",
    ),
    (
        {"aws_attributes": {"ebs_volume_size": True}},
        "aws_attributes.ebs_volume_size: must be an integer, got true",
    ),
    ({"aws_attributes": {"spot_price": 1}}, "aws_attributes.spot_price: unknown field"),
    ({"aws_attributes": "SPOT"}, "aws_attributes: must be an object"),
    (
        {"azure_attributes": {"availability": "SPOT"}},
        "azure_attributes.availability: must be one of ON_DEMAND_AZURE",
    ),
    (
        {"azure_attributes": {"spot_bid_max_price": "max"}},
        "azure_attributes.spot_bid_max_price: must be a number",
    ),
    (
        {"azure_attributes": {"spot_bid_max_price": -2}},
        "azure_attributes.spot_bid_max_price: must be >= -1, got -2",
    ),
    (
        {"azure_attributes": {"spot_bid_max_price": float("nan")}},
        "azure_attributes.spot_bid_max_price: must be a number",
    ),
    (
        {"gcp_attributes": {"availability": "SPOT"}},
        "gcp_attributes.availability: must be one of ON_DEMAND_GCP",
    ),
    ({"gcp_attributes": {"machine": "x"}}, "gcp_attributes.machine: unknown field"),
    (
        {"cluster_log_conf": {"dbfs": {"destination": "a"}, "s3": {"destination": "b"}}},
        "cluster_log_conf: must have exactly one of dbfs, s3, volumes",
    ),
    (
        {"cluster_log_conf": {"s3": {"region": "x"}}},
        "cluster_log_conf.s3.destination: missing (required)",
    ),
    (
        {"cluster_log_conf": {"s3": {"destination": ""}}},
        "cluster_log_conf.s3.destination: must be a non-empty string",
    ),
    ({"init_scripts": {"workspace": {"destination": "/a"}}}, "init_scripts: must be a list"),
    (
        {"init_scripts": [{"workspace": {"destination": "/a"}, "dbfs": {"destination": "/b"}}]},
        "init_scripts[0]: must have exactly one of",
    ),
    ({"init_scripts": ["/a.sh"]}, "init_scripts[0]: must be an object"),
]


@pytest.mark.parametrize(("configuration", "expected"), INVALID_CONFIGS)
def test_an_invalid_configuration_is_refused(configuration: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidRecommendationError) as caught:
        parse_configuration(configuration)
    message = str(caught.value)
    assert message.startswith("Gradient recommendation r1 (project p1) is invalid")
    assert f"recommendation.configuration.{expected}" in message
    assert "Request a new recommendation" in message


def test_every_problem_of_a_configuration_is_listed() -> None:
    configuration = {
        "num_workers": True,
        "autoscale": {"min_workers": 9, "max_workers": 3},
        "bogus": 1,
        "spark_conf": {"a": 1, "b": 2},
        "aws_attributes": {"availability": "CHEAP", "ebs_volume_count": 99},
    }
    with pytest.raises(InvalidRecommendationError) as caught:
        parse_configuration(configuration)
    prefix = "  - recommendation.configuration."
    problems = [
        line[len(prefix) :] for line in str(caught.value).splitlines() if line[:4] == "  - "
    ]
    assert problems == [
        "num_workers: must be an integer, got true (a boolean)",
        "autoscale: min_workers 9 is greater than max_workers 3",
        "bogus: not a field a recommendation may set (allowed: autoscale, aws_attributes, "
        "azure_attributes, cluster_log_conf, custom_tags, driver_node_type_id, gcp_attributes, "
        "init_scripts, node_type_id, num_workers, runtime_engine, spark_conf, spark_env_vars, "
        "spark_version)",
        "spark_conf.a: must be a string, got 1 (an integer)",
        "spark_conf.b: must be a string, got 2 (an integer)",
        "aws_attributes.availability: must be one of ON_DEMAND, SPOT, SPOT_WITH_FALLBACK, "
        'got "CHEAP" (a string)',
        "aws_attributes.ebs_volume_count: must be <= 10, got 99",
        "num_workers: set together with autoscale; a cluster has one sizing form, not both",
    ]
    assert "(8 problems)" in str(caught.value)


# --- format_metrics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (
            {
                "spark_duration_minutes": 41.5,
                "spark_cost_requested_usd": 12.4,
                "spark_cost_lower_usd": 10.9,
                "spark_cost_midpoint_usd": 12.4,
                "spark_cost_upper_usd": 14.0,
            },
            "predicted duration 41.5 min, cost $12.40 (range $10.90 to $14.00)",
        ),
        ({"spark_duration_minutes": 28}, "predicted duration 28 min"),
        ({"spark_cost_midpoint_usd": 9.1}, "predicted cost $9.10"),
        (
            {"spark_cost_lower_usd": 8.2, "spark_cost_upper_usd": 10.3},
            "predicted cost range $8.20 to $10.30",
        ),
        (
            {"spark_cost_requested_usd": 5, "spark_cost_upper_usd": 6},
            "predicted cost $5.00 (at most $6.00)",
        ),
        (
            {"spark_duration_minutes": "41", "spark_cost_requested_usd": True},
            "no predicted metrics",
        ),
        ({}, "no predicted metrics"),
        (None, "no predicted metrics"),
        ([1, 2], "no predicted metrics"),
    ],
)
def test_format_metrics(metrics: Any, expected: str) -> None:
    assert format_metrics(metrics) == expected
