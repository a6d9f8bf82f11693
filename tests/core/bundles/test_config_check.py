"""``bundle check-config`` findings: what a write-back will have to touch."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_gradient.core.bundles import GENERATED_FILE, config_findings, load_bundle
from airflow_gradient.core.errors import BundleInputError
from tests.bundle_fixtures import copy_bundle


def _kinds(findings: list) -> list[tuple[str, str]]:
    return [(f.where, f.kind) for f in findings]


def test_single_file_bundle_overrides_possible_and_the_sizing_key_an_override_cannot_delete(
    tmp_path: Path,
) -> None:
    findings = config_findings(load_bundle(copy_bundle("single", tmp_path)), target="prod")
    assert _kinds(findings) == [
        ("prod/nightly/job_clusters/etl", "override"),
        ("prod/nightly/job_clusters/etl", "cannot-delete"),
    ]
    assert not any(f.is_problem for f in findings)
    assert findings[1].message.startswith(
        "autoscale is set in databricks.yml: resources.jobs.nightly.job_clusters[0].new_cluster"
    )


def test_task_cluster_found_by_tag_in_every_target(tmp_path: Path) -> None:
    findings = config_findings(load_bundle(copy_bundle("includes", tmp_path)))
    assert ("dev/reporting/tasks/aggregate", "override") in _kinds(findings)
    prod = [f.message for f in findings if f.where == "prod/reporting/tasks/aggregate"]
    assert any("num_workers is set in targets/prod.yml" in m for m in prod)


def test_variable_clusters_and_the_git_ignored_overrides_file_are_problems(tmp_path: Path) -> None:
    root = copy_bundle("variables", tmp_path)
    local = root / ".databricks" / "bundle" / "dev"
    local.mkdir(parents=True)
    (local / "variable-overrides.json").write_text('{"features_cluster": {"num_workers": 1}}')
    findings = config_findings(load_bundle(root), target="dev")
    assert _kinds(findings) == [
        ("dev/features/job_clusters/features", "variable-cluster"),
        ("dev/features/job_clusters/features", "variable-file"),
    ]
    assert all(f.is_problem for f in findings)
    assert "git-ignored: CI deploys another value" in findings[1].message

    backfill = config_findings(load_bundle(root), target="dev", job_key="backfill")
    assert ("dev/backfill/tasks/backfill", "variable-field") in _kinds(backfill)


def test_ignored_include_and_an_override_file_nobody_includes(tmp_path: Path) -> None:
    root = copy_bundle("includes", tmp_path)
    (root / "targets" / "extra.yml").write_text("include:\n  - more/*.yml\n")
    (root / GENERATED_FILE).write_text("targets: {}\n")
    findings = config_findings(load_bundle(root), target="dev")
    problems = {(f.where, f.kind) for f in findings if f.is_problem}
    assert problems == {("targets/extra.yml", "ignored-include"), (GENERATED_FILE, "not-included")}


def test_no_tagged_job_needs_job(tmp_path: Path) -> None:
    root = copy_bundle("single", tmp_path)
    text = (root / "databricks.yml").read_text().replace("sync:project-id", "owner")
    (root / "databricks.yml").write_text(text)
    with pytest.raises(BundleInputError, match="name one with --job"):
        config_findings(load_bundle(root))
    assert _kinds(config_findings(load_bundle(root), target="dev", job_key="nightly"))[0] == (
        "dev/nightly/job_clusters/etl",
        "override",
    )
