"""A GCP recommendation is a Gradient recommendation for the Terraform helpers too.

They used to keep their own list of configuration fields, without ``gcp_attributes`` and
``init_scripts``, and called such a configuration "not a Gradient recommendation" while the
operator applied it. They now read THE list (``CONFIGURATION_FIELDS``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.cli import main
from airflow_gradient.core.configuration import CONFIGURATION_FIELDS
from airflow_gradient.core.terraform import recommendation_configuration, unmanaged_settings

STATE = Path(__file__).parents[2] / "fixtures" / "terraform" / "state_show.json"

GCP_CONFIGURATION: dict[str, Any] = {
    "num_workers": 6,
    "node_type_id": "n2-highmem-8",
    "gcp_attributes": {"availability": "PREEMPTIBLE_WITH_FALLBACK_GCP", "first_on_demand": 1},
    "init_scripts": [{"volumes": {"destination": "/Volumes/main/init/sync.sh"}}],
    "custom_tags": {"sync:recommendation-id": "rec-gcp"},
}


def test_every_field_the_operator_accepts_is_a_configuration_for_terraform() -> None:
    bare = {field: GCP_CONFIGURATION.get(field, 1) for field in CONFIGURATION_FIELDS}
    assert recommendation_configuration(bare) == bare


def test_a_bare_gcp_configuration_is_read() -> None:
    assert recommendation_configuration(GCP_CONFIGURATION) == GCP_CONFIGURATION
    assert unmanaged_settings(GCP_CONFIGURATION) == [
        "gcp_attributes[0].availability",
        "gcp_attributes[0].first_on_demand",
        "init_scripts",
    ]


def test_the_cli_takes_a_gcp_recommendation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rec = tmp_path / "gcp.json"
    rec.write_text(json.dumps(GCP_CONFIGURATION), encoding="utf-8")
    status = main(
        [
            "terraform",
            "ignore-changes",
            "--state",
            str(STATE),
            "--address",
            "databricks_job.two_clusters",
            "--recommendation",
            str(rec),
        ]
    )
    out, err = capsys.readouterr()
    assert "not a Gradient recommendation" not in err
    assert status == 0, err
    assert ".num_workers," in out
