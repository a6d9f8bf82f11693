"""The bundle merge model: the effective job of a target, as the CLI computes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_gradient.core.bundles import effective_job, job_keys, load_bundle, target_names
from airflow_gradient.core.bundles.model import cli_merge
from airflow_gradient.core.errors import BundleInputError
from tests.bundle_fixtures import copy_bundle


def _cluster(job: dict, key: str) -> dict:
    entries = {e["job_cluster_key"]: e for e in job.get("job_clusters", [])}
    entries |= {t["task_key"]: t for t in job["tasks"] if "new_cluster" in t}
    return entries[key]["new_cluster"]


def test_target_override_merges_by_job_cluster_key_target_winning(tmp_path: Path) -> None:
    bundle = load_bundle(copy_bundle("single", tmp_path))
    assert target_names(bundle) == ["dev", "staging", "prod"]
    prod = effective_job(bundle, "prod", "nightly")
    dev = effective_job(bundle, "dev", "nightly")
    assert [c["job_cluster_key"] for c in prod["job_clusters"]] == ["etl"]  # merged, not added
    assert _cluster(prod, "etl")["node_type_id"] == "i3.2xlarge"
    assert _cluster(dev, "etl")["node_type_id"] == "i3.xlarge"
    # Everything the override does not mention is kept from the definition.
    assert _cluster(prod, "etl")["autoscale"] == {"min_workers": 2, "max_workers": 8}
    assert _cluster(prod, "etl")["custom_tags"]["team"] == "data-eng"


def test_task_cluster_override_in_an_included_file(tmp_path: Path) -> None:
    bundle = load_bundle(copy_bundle("includes", tmp_path))
    assert [f.path for f in bundle.files] == [
        "databricks.yml",
        "resources/reporting.job.yml",
        "targets/prod.yml",
    ]
    prod = effective_job(bundle, "prod", "reporting")
    assert [t["task_key"] for t in prod["tasks"]] == ["extract", "aggregate"]
    assert _cluster(prod, "aggregate")["num_workers"] == 6
    assert _cluster(prod, "aggregate")["spark_conf"] == {"spark.sql.shuffle.partitions": "200"}
    assert _cluster(effective_job(bundle, "dev", "reporting"), "aggregate")["num_workers"] == 2


def test_variables_default_and_a_target_value_replacing_a_complex_variable_whole(
    tmp_path: Path,
) -> None:
    root = copy_bundle("variables", tmp_path)
    # A value only in the git-ignored overrides file: CI never sees it, so neither does the model.
    local = root / ".databricks" / "bundle" / "dev"
    local.mkdir(parents=True)
    (local / "variable-overrides.json").write_text('{"workers": 99}')
    bundle = load_bundle(root)
    assert job_keys(bundle) == ["features", "backfill"]
    dev = _cluster(effective_job(bundle, "dev", "features"), "features")
    prod = _cluster(effective_job(bundle, "prod", "features"), "features")
    assert (dev["node_type_id"], dev["num_workers"]) == ("r5.xlarge", 2)
    assert (prod["node_type_id"], prod["num_workers"]) == ("r5.2xlarge", 8)
    assert _cluster(effective_job(bundle, "dev", "backfill"), "backfill")["num_workers"] == 2


def test_merge_rules_null_keeps_sequences_append_kinds_must_match() -> None:
    assert cli_merge({"a": 1, "b": {"c": 2}}, {"b": {"c": None, "d": 3}}) == {
        "a": 1,
        "b": {"c": 2, "d": 3},
    }
    assert cli_merge({"init": [1]}, {"init": [2]}) == {"init": [1, 2]}
    with pytest.raises(BundleInputError, match=r"cannot merge a map onto a string .*var"):
        cli_merge({"new_cluster": "${var.c}"}, {"new_cluster": {"num_workers": 2}})
    with pytest.raises(BundleInputError, match="cannot merge a int onto a string"):
        cli_merge({"num_workers": "${var.w}"}, {"num_workers": 4})


def test_only_the_root_include_is_read_and_a_job_defined_twice_is_refused(tmp_path: Path) -> None:
    root = copy_bundle("includes", tmp_path)
    (root / "resources" / "more.yml").write_text("include:\n  - extra/*.yml\n")
    (root / "extra").mkdir()
    (root / "extra" / "hidden.yml").write_text("resources:\n  jobs:\n    hidden:\n      name: h\n")
    bundle = load_bundle(root)
    assert bundle.ignored_includes == ["resources/more.yml"]
    with pytest.raises(BundleInputError, match="no file of the bundle defines the job 'hidden'"):
        effective_job(bundle, "dev", "hidden")

    (root / "resources" / "copy.yml").write_text(
        (root / "resources" / "reporting.job.yml").read_text()
    )
    with pytest.raises(BundleInputError, match="defined in several files"):
        effective_job(load_bundle(root), "dev", "reporting")


def test_bad_input_names_the_file_and_the_problem(tmp_path: Path) -> None:
    root = copy_bundle("single", tmp_path)
    with pytest.raises(BundleInputError, match="no target 'qa'; its targets are dev, staging"):
        effective_job(load_bundle(root), "qa", "nightly")
    (root / "databricks.yml").write_text("bundle:\n  name: [unclosed\n")
    with pytest.raises(BundleInputError, match=r"databricks.yml: not valid YAML \(line 3"):
        load_bundle(root)
    with pytest.raises(BundleInputError, match=r"holds no databricks\.yml"):
        load_bundle(tmp_path)
