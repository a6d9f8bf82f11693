"""Apply-time detection of bundle-owned jobs: THE decision for apply, rollback and workflow."""

from __future__ import annotations

import pytest

from airflow_gradient.core.bundles import bundle_decision, bundle_ownership
from airflow_gradient.core.errors import BundleOwnedJobError

STATE = "/Workspace/Users/ci@example.com/.bundle/nightly_etl/prod/state/metadata.json"
BUNDLE = {"deployment": {"kind": "BUNDLE", "metadata_file_path": STATE}, "edit_mode": "UI_LOCKED"}


def test_ownership_reads_bundle_and_target_from_the_default_state_path() -> None:
    owner = bundle_ownership(BUNDLE)
    assert owner is not None
    assert owner.facts() == {
        "kind": "BUNDLE",
        "bundle": "nightly_etl",
        "target": "prod",
        "metadata_file_path": STATE,
        "edit_mode": "UI_LOCKED",
        "deployment_id": None,
    }
    custom = bundle_ownership({"deployment": {"kind": "BUNDLE", "metadata_file_path": "/x/m.json"}})
    assert custom is not None and (custom.bundle, custom.target) == (None, None)
    assert bundle_ownership({"name": "plain"}) is None


def test_warn_names_the_bundle_target_and_the_fixing_command() -> None:
    decision = bundle_decision(BUNDLE, "warn", job_id=42)
    assert decision.level == "warning"
    assert "owned by bundle 'nightly_etl', target 'prod' (edit_mode UI_LOCKED)" in decision.message
    assert (
        "airflow-gradient bundle write-back BUNDLE_DIR --target prod --job JOB_KEY --from-job 42"
        in decision.message
    )
    assert decision.facts is not None and decision.facts["bundle"] == "nightly_etl"
    assert bundle_decision(BUNDLE, "apply", job_id=42).level == "info"
    plain = bundle_decision({"name": "x"}, "fail", job_id=42)
    assert (plain.level, plain.facts) == ("none", None)


def test_fail_refuses_and_system_managed_is_always_refused() -> None:
    with pytest.raises(BundleOwnedJobError, match="on_bundle='fail': nothing was written"):
        bundle_decision(BUNDLE, "fail", job_id=42)
    managed = {"deployment": {"kind": "SYSTEM_MANAGED"}}
    for choice in ("warn", "apply"):
        with pytest.raises(BundleOwnedJobError, match=r"managed by Databricks .* read-only"):
            bundle_decision(managed, choice, job_id=7, action="rollback")
    with pytest.raises(ValueError, match="on_bundle must be one of"):
        bundle_decision(BUNDLE, "ignore", job_id=42)
