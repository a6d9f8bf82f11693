"""Tests of airflow_gradient.core.guardrails: building the rails and finding every violation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.core.cluster.merge import merge_recommendation
from airflow_gradient.core.errors import GuardRailViolationError, InvalidGuardRailsError
from airflow_gradient.core.guardrails import GuardRails, check_guard_rails, guard_rail_violations
from airflow_gradient.core.recommendation import parse_recommendation

PROJECT = "11111111-2222-4333-8444-555555555555"

BEFORE: dict[str, Any] = {
    "spark_version": "14.3.x-scala2.12",
    "node_type_id": "i3.2xlarge",
    "driver_node_type_id": "i3.2xlarge",
    "autoscale": {"min_workers": 2, "max_workers": 8},
    "aws_attributes": {"availability": "ON_DEMAND", "zone_id": "auto"},
}


def after(**changes: Any) -> dict[str, Any]:
    """BEFORE with a recommendation-like patch merged in."""
    return merge_recommendation(BEFORE, changes)


# --- from_value ---------------------------------------------------------------------------


def test_from_value_none_allows_everything() -> None:
    rails = GuardRails.from_value(None)
    assert rails == GuardRails()
    changed = after(
        num_workers=500,
        node_type_id="x1.32xlarge",
        spark_version="16.0.x",
        runtime_engine="PHOTON",
        aws_attributes={"availability": "SPOT"},
    )
    assert guard_rail_violations(BEFORE, changed, phase="LEARNING", rails=rails) == []


def test_from_value_instance_is_returned_as_is() -> None:
    rails = GuardRails(max_workers=3)
    assert GuardRails.from_value(rails) is rails


def test_from_value_mapping_normalises_lists() -> None:
    rails = GuardRails.from_value(
        {
            "max_workers": 16,
            "allowed_node_types": ["m5.*", "r5.*"],
            "allowed_availability": "ON_DEMAND",
            "allow_spark_version_change": False,
            "allow_runtime_engine_change": False,
            "apply_during_learning": False,
        }
    )
    assert rails == GuardRails(
        max_workers=16,
        allowed_node_types=("m5.*", "r5.*"),
        allowed_availability=("ON_DEMAND",),
        allow_spark_version_change=False,
        allow_runtime_engine_change=False,
        apply_during_learning=False,
    )
    assert hash(rails) == hash(GuardRails.from_value(dict(rails.__dict__)))


def test_from_value_unknown_key_names_the_valid_ones() -> None:
    with pytest.raises(InvalidGuardRailsError) as caught:
        GuardRails.from_value({"max_worker": 4, "min_workers": 1})
    message = str(caught.value)
    assert "['max_worker', 'min_workers']" in message
    assert (
        "Valid keys: max_workers, allowed_node_types, allowed_availability, "
        "allow_spark_version_change, allow_runtime_engine_change, apply_during_learning."
    ) in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"max_workers": "5"}, "max_workers must be an integer >= 0"),
        ({"max_workers": True}, "max_workers must be an integer >= 0"),
        ({"max_workers": -1}, "max_workers must be an integer >= 0"),
        ({"allowed_node_types": 5}, "allowed_node_types must be a list of non-empty strings"),
        ({"allowed_node_types": ["m5.*", ""]}, "allowed_node_types must be a list"),
        ({"allowed_node_types": []}, "would block every recommendation"),
        ({"allowed_availability": ["ON_DEMAND", "CHEAP"]}, "unknown values ['CHEAP']"),
        ({"apply_during_learning": "no"}, "apply_during_learning must be true or false"),
        ({"allow_spark_version_change": 0}, "allow_spark_version_change must be true or false"),
        (["max_workers"], "guard_rails must be a GuardRails, a dict or None, got list"),
    ],
)
def test_from_value_rejects_wrong_types(value: Any, expected: str) -> None:
    with pytest.raises(InvalidGuardRailsError) as caught:
        GuardRails.from_value(value)
    assert expected in str(caught.value)


def test_guard_rails_are_frozen() -> None:
    rails = GuardRails()
    with pytest.raises(AttributeError):
        rails.max_workers = 3  # type: ignore[misc]


# --- each rail ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"num_workers": 12}, ["num_workers would be 12, above the max_workers guard rail of 10"]),
        ({"num_workers": 10}, []),
        (
            {"autoscale": {"min_workers": 2, "max_workers": 11}},
            ["autoscale.max_workers would be 11, above the max_workers guard rail of 10"],
        ),
        ({"autoscale": {"min_workers": 2, "max_workers": 10}}, []),
    ],
)
def test_max_workers(patch: dict[str, Any], expected: list[str]) -> None:
    rails = GuardRails(max_workers=10)
    assert guard_rail_violations(BEFORE, after(**patch), phase=None, rails=rails) == expected


def test_max_workers_applies_to_the_merged_spec() -> None:
    # the recommendation does not touch sizing; the current autoscale max of 8 is above 6
    rails = GuardRails(max_workers=6)
    assert guard_rail_violations(
        BEFORE, after(node_type_id="m5.large"), phase=None, rails=rails
    ) == ["autoscale.max_workers would be 8, above the max_workers guard rail of 6"]


def test_allowed_node_types() -> None:
    rails = GuardRails(allowed_node_types=("m5.*", "r5.2xlarge"))
    ok = after(node_type_id="m5.4xlarge", driver_node_type_id="r5.2xlarge")
    assert guard_rail_violations(BEFORE, ok, phase=None, rails=rails) == []
    bad = after(node_type_id="r5.24xlarge", driver_node_type_id="M5.large")
    assert guard_rail_violations(BEFORE, bad, phase=None, rails=rails) == [
        "node_type_id would be 'r5.24xlarge', which matches none of the allowed_node_types "
        "patterns ['m5.*', 'r5.2xlarge']",
        "driver_node_type_id would be 'M5.large', which matches none of the allowed_node_types "
        "patterns ['m5.*', 'r5.2xlarge']",
    ]


def test_allowed_node_types_skips_an_absent_driver() -> None:
    rails = GuardRails(allowed_node_types=("m5.*",))
    spec = {"num_workers": 1, "node_type_id": "m5.large"}
    assert guard_rail_violations(spec, spec, phase=None, rails=rails) == []


def test_allowed_availability_aws_and_azure() -> None:
    rails = GuardRails(allowed_availability=("ON_DEMAND", "ON_DEMAND_AZURE"))
    assert guard_rail_violations(BEFORE, after(num_workers=2), phase=None, rails=rails) == []
    spot = after(aws_attributes={"availability": "SPOT_WITH_FALLBACK"})
    assert guard_rail_violations(BEFORE, spot, phase=None, rails=rails) == [
        "aws_attributes.availability would be 'SPOT_WITH_FALLBACK', not one of "
        "allowed_availability ['ON_DEMAND', 'ON_DEMAND_AZURE']"
    ]
    azure = {"num_workers": 2, "azure_attributes": {"availability": "SPOT_AZURE"}}
    assert guard_rail_violations(azure, azure, phase=None, rails=rails) == [
        "azure_attributes.availability would be 'SPOT_AZURE', not one of "
        "allowed_availability ['ON_DEMAND', 'ON_DEMAND_AZURE']"
    ]


def test_spark_version_change() -> None:
    rails = GuardRails(allow_spark_version_change=False)
    assert guard_rail_violations(BEFORE, after(num_workers=2), phase=None, rails=rails) == []
    assert guard_rail_violations(
        BEFORE, after(spark_version="15.4.x-scala2.12"), phase=None, rails=rails
    ) == [
        "spark_version would change from '14.3.x-scala2.12' to '15.4.x-scala2.12', and the "
        "guard rail allow_spark_version_change is off"
    ]


@pytest.mark.parametrize(
    ("before", "patch", "violation"),
    [
        ({}, {"runtime_engine": "STANDARD"}, None),
        ({}, {"runtime_engine": "PHOTON"}, "from STANDARD to PHOTON"),
        ({"runtime_engine": "PHOTON"}, {"runtime_engine": "STANDARD"}, "from PHOTON to STANDARD"),
        ({"spark_version": "14.3.x-photon-scala2.12"}, {"runtime_engine": "PHOTON"}, None),
        # Databricks answers "NULL" for an engine nobody chose: the default, not an engine.
        ({"runtime_engine": "NULL"}, {"runtime_engine": "STANDARD"}, None),
        ({"runtime_engine": "NULL"}, {"runtime_engine": "PHOTON"}, "from STANDARD to PHOTON"),
        (
            {"runtime_engine": "NULL", "spark_version": "14.3.x-photon-scala2.12"},
            {"runtime_engine": "PHOTON"},
            None,
        ),
        ({"runtime_engine": "STANDARD"}, {"runtime_engine": "NULL"}, None),
        (
            {"spark_version": "14.3.x-photon-scala2.12"},
            {"spark_version": "15.4.x-scala2.12"},
            "from PHOTON to STANDARD",
        ),
        # The version names Photon in any case.
        ({"spark_version": "14.3.x-PHOTON-scala2.12"}, {"runtime_engine": "PHOTON"}, None),
        (
            {"spark_version": "14.3.x-Photon-scala2.12"},
            {"spark_version": "15.4.x-scala2.12"},
            "from PHOTON to STANDARD",
        ),
    ],
)
def test_runtime_engine_change(
    before: dict[str, Any], patch: dict[str, Any], violation: str | None
) -> None:
    rails = GuardRails(allow_runtime_engine_change=False)
    spec = {"num_workers": 1, **before}
    found = guard_rail_violations(spec, merge_recommendation(spec, patch), phase=None, rails=rails)
    if violation is None:
        assert found == []
    else:
        assert found == [
            f"the runtime engine would change {violation}, and the guard rail "
            "allow_runtime_engine_change is off"
        ]


@pytest.mark.parametrize(
    ("phase", "blocked"),
    [
        ("LEARNING", True),
        ("learning", True),
        (" Learning ", True),
        ("OPTIMIZING", False),
        (None, False),
    ],
)
def test_apply_during_learning(phase: str | None, blocked: bool) -> None:
    rails = GuardRails(apply_during_learning=False)
    found = guard_rail_violations(BEFORE, after(num_workers=2), phase=phase, rails=rails)
    assert found == (
        [
            f"the project is in its LEARNING phase ({phase!r}) and the guard rail "
            "apply_during_learning is off"
        ]
        if blocked
        else []
    )


# --- several at once, with the fixtures ----------------------------------------------------


def test_check_guard_rails_lists_every_violation(
    job: Callable[[str], dict[str, Any]], rec: Callable[[str], Any]
) -> None:
    spec = job("shared_job_cluster")["settings"]["job_clusters"][0]["new_cluster"]
    recommendation = parse_recommendation(rec("aws_autoscale_success"), project_id=PROJECT)
    merged = merge_recommendation(spec, recommendation.configuration)
    rails = GuardRails.from_value(
        {
            "max_workers": 4,
            "allowed_node_types": ["m5.*"],
            "allowed_availability": ["ON_DEMAND"],
            "allow_spark_version_change": False,
            "allow_runtime_engine_change": False,
            "apply_during_learning": False,
        }
    )
    with pytest.raises(GuardRailViolationError) as caught:
        check_guard_rails(
            spec,
            merged,
            phase=recommendation.phase,
            rails=rails,
            where="job 123456789 cluster job_clusters/main",
        )
    error = caught.value
    assert error.violations == [
        "the project is in its LEARNING phase ('LEARNING') and the guard rail "
        "apply_during_learning is off",
        "autoscale.max_workers would be 6, above the max_workers guard rail of 4",
        "node_type_id would be 'r5.2xlarge', which matches none of the allowed_node_types "
        "patterns ['m5.*']",
        "driver_node_type_id would be 'r5.xlarge', which matches none of the allowed_node_types "
        "patterns ['m5.*']",
    ]
    message = str(error)
    assert "job 123456789 cluster job_clusters/main" in message
    assert "(4 violations)" in message
    assert all(violation in message for violation in error.violations)


def test_check_guard_rails_passes_silently(
    job: Callable[[str], dict[str, Any]], rec: Callable[[str], Any]
) -> None:
    spec = job("shared_job_cluster")["settings"]["job_clusters"][0]["new_cluster"]
    recommendation = parse_recommendation(rec("aws_fixed_success"), project_id=PROJECT)
    merged = merge_recommendation(spec, recommendation.configuration)
    rails = GuardRails(
        max_workers=4,
        allowed_node_types=("m5.*",),
        allowed_availability=("SPOT_WITH_FALLBACK",),
        allow_runtime_engine_change=False,
        apply_during_learning=False,
    )
    check_guard_rails(spec, merged, phase=recommendation.phase, rails=rails, where="w")
    assert guard_rail_violations(spec, merged, phase="OPTIMIZING", rails=rails) == []
