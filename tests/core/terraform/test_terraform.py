"""The pure functions of airflow_gradient.core.terraform, on the fixtures and small variations."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.core.terraform import (
    MapKey,
    TerraformInputError,
    config_findings,
    document_kind,
    ignore_changes_for,
    lifecycle_block,
    recommendation_configuration,
    render_path,
    reverted_paths,
    unmanaged_settings,
)
from airflow_gradient.core.terraform.managed import MANAGED_ATTRIBUTES

FIXTURES = Path(__file__).parents[2] / "fixtures"
JOB = "databricks_job.two_clusters"
HEAVY = "job_cluster[1].new_cluster[0]"

HEAVY_ALL = [
    f"{HEAVY}.num_workers",
    f"{HEAVY}.autoscale",
    f"{HEAVY}.node_type_id",
    f"{HEAVY}.driver_node_type_id",
    f"{HEAVY}.spark_version",
    f"{HEAVY}.runtime_engine",
    f"{HEAVY}.aws_attributes[0].availability",
    f"{HEAVY}.aws_attributes[0].first_on_demand",
    f"{HEAVY}.aws_attributes[0].spot_bid_price_percent",
    f"{HEAVY}.aws_attributes[0].ebs_volume_type",
    f"{HEAVY}.aws_attributes[0].ebs_volume_count",
    f"{HEAVY}.aws_attributes[0].ebs_volume_size",
    f'{HEAVY}.custom_tags["sync:project-id"]',
    f'{HEAVY}.custom_tags["sync:run-id"]',
    f'{HEAVY}.custom_tags["sync:recommendation-id"]',
    f'{HEAVY}.custom_tags["sync:tenant-id"]',
    f'{HEAVY}.spark_conf["spark.databricks.isv.product"]',
]

REVERTED_BY_PLAN = {
    f"{HEAVY}.num_workers",
    f"{HEAVY}.autoscale",
    f"{HEAVY}.node_type_id",
    f"{HEAVY}.driver_node_type_id",
    f"{HEAVY}.spark_version",
    f"{HEAVY}.aws_attributes[0].availability",
    f"{HEAVY}.aws_attributes[0].spot_bid_price_percent",
    f"{HEAVY}.aws_attributes[0].ebs_volume_count",
    f'{HEAVY}.custom_tags["sync:run-id"]',
    f'{HEAVY}.custom_tags["sync:recommendation-id"]',
    f'{HEAVY}.custom_tags["sync:tenant-id"]',
    f'{HEAVY}.spark_conf["spark.databricks.isv.product"]',
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def state() -> dict[str, Any]:
    return load("terraform/state_show.json")


@pytest.fixture
def plan_reverts() -> dict[str, Any]:
    return load("terraform/plan_reverts_gradient.json")


@pytest.fixture
def plan_ignores() -> dict[str, Any]:
    return load("terraform/plan_ignores_gradient.json")


@pytest.fixture
def tf_text() -> str:
    return (FIXTURES / "terraform/two_clusters.tf").read_text()


def job_values(document: dict[str, Any]) -> dict[str, Any]:
    root = document["values"]["root_module"]
    return next(r for r in root["resources"] if r["address"] == JOB)["values"]  # type: ignore[no-any-return]


def single_resource_state(rtype: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
    resource = {"address": f"{rtype}.{name}", "mode": "managed", "type": rtype, "name": name}
    return {"values": {"root_module": {"resources": [{**resource, "values": values}]}}}


# --- the closed list and rendering ----------------------------------------------------------


def test_closed_list_holds_each_managed_attribute_once() -> None:
    paths = [render_path(a.path) for a in MANAGED_ATTRIBUTES]
    assert len(paths) == len(set(paths)) == 20
    assert {a.configuration_key for a in MANAGED_ATTRIBUTES if a.sizing} == {
        ("num_workers",),
        ("autoscale",),
    }
    assert not any(p in ("custom_tags", "spark_conf", "aws_attributes") for p in paths)


def test_render_path_uses_terraform_syntax() -> None:
    path = ("job_cluster", 1, "new_cluster", 0, "custom_tags", MapKey('a "b"'))
    assert render_path(path) == 'job_cluster[1].new_cluster[0].custom_tags["a \\"b\\""]'
    assert render_path(("num_workers",)) == "num_workers"


# --- ignore_changes_for ---------------------------------------------------------------------


def test_generator_lists_heavy_from_state_and_nothing_of_light(state: dict[str, Any]) -> None:
    paths = ignore_changes_for(state, JOB)
    assert paths == HEAVY_ALL
    assert not any(p.startswith("job_cluster[0]") for p in paths)
    assert not any("azure_attributes" in p for p in paths)  # the cluster runs on AWS


def test_generator_reads_plans_too(
    plan_reverts: dict[str, Any], plan_ignores: dict[str, Any]
) -> None:
    assert ignore_changes_for(plan_reverts, JOB) == HEAVY_ALL
    assert ignore_changes_for(plan_ignores) == HEAVY_ALL  # the only job: --address optional


def test_generator_takes_explicit_cluster_keys(state: dict[str, Any]) -> None:
    light = ignore_changes_for(state, JOB, ["light"])
    assert light[:2] == [
        "job_cluster[0].new_cluster[0].num_workers",
        "job_cluster[0].new_cluster[0].autoscale",
    ]
    # no cloud block, but an AWS node type: AWS fields only
    assert any("aws_attributes" in p for p in light)
    assert not any("azure_attributes" in p for p in light)
    both = ignore_changes_for(state, JOB, ["job_clusters/heavy", "light"])
    assert both[: len(HEAVY_ALL)] == HEAVY_ALL
    assert len(both) == 2 * len(HEAVY_ALL)


def test_generator_resolves_indexes_by_key_not_by_position(state: dict[str, Any]) -> None:
    values = job_values(state)
    values["job_cluster"].reverse()
    assert ignore_changes_for(state, JOB)[0] == "job_cluster[0].new_cluster[0].num_workers"


def test_generator_covers_task_level_clusters(state: dict[str, Any]) -> None:
    values = job_values(state)
    heavy = copy.deepcopy(values["job_cluster"][1]["new_cluster"])
    values["task"].append(
        {
            "task_key": "train",
            "job_cluster_key": "",
            "new_cluster": heavy,
            "existing_cluster_id": "",
        }
    )
    paths = ignore_changes_for(state, JOB, ["train"])
    assert paths[0] == "task[2].new_cluster[0].num_workers"
    assert 'task[2].new_cluster[0].custom_tags["sync:run-id"]' in paths
    # default selection: every tagged cluster, job clusters first
    default = ignore_changes_for(state, JOB)
    assert default[0].startswith("job_cluster[1]")
    assert default[-1].startswith("task[2]")


def test_same_key_for_job_cluster_and_task_must_be_qualified(state: dict[str, Any]) -> None:
    values = job_values(state)
    heavy = copy.deepcopy(values["job_cluster"][1]["new_cluster"])
    values["task"].append({"task_key": "heavy", "new_cluster": heavy})
    with pytest.raises(TerraformInputError, match=r"job_clusters/heavy or tasks/heavy"):
        ignore_changes_for(state, JOB, ["heavy"])
    assert (
        ignore_changes_for(state, JOB, ["tasks/heavy"])[0] == "task[2].new_cluster[0].num_workers"
    )


def test_generator_works_for_databricks_cluster() -> None:
    doc = single_resource_state(
        "databricks_cluster",
        "shared",
        {"node_type_id": "Standard_D4ds_v5", "num_workers": 2, "azure_attributes": []},
    )
    paths = ignore_changes_for(doc, "databricks_cluster.shared")
    assert paths[:2] == ["num_workers", "autoscale"]
    assert "azure_attributes[0].spot_bid_max_price" in paths
    assert not any(p.startswith("aws_attributes") for p in paths)
    assert 'custom_tags["sync:recommendation-id"]' in paths
    with pytest.raises(TerraformInputError, match="takes no --cluster-key"):
        ignore_changes_for(doc, "databricks_cluster.shared", ["x"])


def test_unknown_cloud_lists_both() -> None:
    doc = single_resource_state("databricks_cluster", "c", {"node_type_id": ""})
    paths = ignore_changes_for(doc)
    assert "aws_attributes[0].ebs_volume_size" in paths
    assert "azure_attributes[0].spot_bid_max_price" in paths


@pytest.mark.parametrize(
    "reply",
    [
        load("recommendations/aws_autoscale_success.json"),
        load("recommendations/aws_autoscale_success.json")["result"],
        load("recommendations/aws_autoscale_success.json")["result"]["recommendation"][
            "configuration"
        ],
    ],
    ids=["reply", "bare", "configuration"],
)
def test_recommendation_limits_to_what_it_sets_plus_sizing_pair(
    state: dict[str, Any], reply: Any
) -> None:
    paths = ignore_changes_for(state, JOB, recommendation=reply)
    assert paths[:2] == [f"{HEAVY}.num_workers", f"{HEAVY}.autoscale"]
    assert f"{HEAVY}.node_type_id" in paths
    assert f"{HEAVY}.aws_attributes[0].ebs_volume_size" in paths
    # the autoscale recommendation sets neither of these
    for absent in ("spark_version", "runtime_engine", "aws_attributes[0].spot_bid_price_percent"):
        assert f"{HEAVY}.{absent}" not in paths
    # not Gradient-managed, even though it sets it
    assert not any("shuffle" in p for p in paths)
    assert unmanaged_settings(reply) == ['spark_conf["spark.sql.shuffle.partitions"]']


def test_recommendation_decides_the_cloud(state: dict[str, Any]) -> None:
    azure = load("recommendations/azure_fixed_success.json")
    paths = ignore_changes_for(state, JOB, recommendation=azure)
    assert f"{HEAVY}.azure_attributes[0].spot_bid_max_price" in paths
    assert f"{HEAVY}.runtime_engine" in paths
    assert not any("aws_attributes" in p for p in paths)
    assert unmanaged_settings(azure) == []


def test_fixed_size_recommendation_still_lists_autoscale(state: dict[str, Any]) -> None:
    paths = ignore_changes_for(
        state, JOB, recommendation=load("recommendations/aws_fixed_success.json")
    )
    assert paths == HEAVY_ALL  # this one sets every managed AWS attribute


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("pending.json", "is PENDING and has no configuration"),
        ("failure.json", "is FAILURE (No event log found for the latest run) and has no"),
        ("error_not_found.json", "Gradient error reply (Project Not Found"),
        ("list_newest_pending.json", "a list of recommendations"),
    ],
)
def test_unusable_recommendations_are_refused(name: str, problem: str) -> None:
    with pytest.raises(TerraformInputError, match=re.escape(problem)):
        recommendation_configuration(load(f"recommendations/{name}"))


def test_a_random_object_is_not_a_recommendation() -> None:
    with pytest.raises(TerraformInputError, match="not a Gradient recommendation"):
        recommendation_configuration({"format_version": "1.2", "values": {}})
    with pytest.raises(TerraformInputError, match="not a Gradient recommendation"):
        recommendation_configuration("text")


@pytest.mark.parametrize(
    ("address", "keys", "problem"),
    [
        ("databricks_job.nope", (), "no resource databricks_job.nope"),
        ("databricks_notification_destination.gradient", (), "not a databricks_job"),
        (
            JOB,
            ("medium",),
            "has no cluster key 'medium' \\(clusters: job_clusters/light, job_clusters/heavy\\)",
        ),
    ],
)
def test_bad_address_or_key(
    plan_reverts: dict[str, Any], address: str, keys: tuple[str, ...], problem: str
) -> None:
    with pytest.raises(TerraformInputError, match=problem):
        ignore_changes_for(plan_reverts, address, keys)


def test_no_tagged_cluster_asks_for_a_key(state: dict[str, Any]) -> None:
    del job_values(state)["job_cluster"][1]["new_cluster"][0]["custom_tags"]["sync:project-id"]
    with pytest.raises(TerraformInputError, match="name one with --cluster-key"):
        ignore_changes_for(state, JOB)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "not a Terraform JSON document"),
        ({"version": 4, "resources": []}, "raw terraform.tfstate"),
        ({"hello": "world"}, "not a Terraform plan or state"),
    ],
)
def test_documents_that_are_neither_plan_nor_state(document: Any, problem: str) -> None:
    with pytest.raises(TerraformInputError, match=problem):
        document_kind(document)
    with pytest.raises(TerraformInputError, match=problem):
        ignore_changes_for(document, JOB)


def test_lifecycle_block_is_valid_hcl(state: dict[str, Any]) -> None:
    import hcl2

    block = lifecycle_block(ignore_changes_for(state, JOB), comment="two\nlines")
    parsed = hcl2.loads(f'resource "databricks_job" "x" {{\n{block}}}\n')
    body = parsed["resource"][0]['"databricks_job"']['"x"']
    entries = body["lifecycle"][0]["ignore_changes"]
    assert [e.removeprefix("${").removesuffix("}") for e in entries] == HEAVY_ALL


# --- reverted_paths -------------------------------------------------------------------------


def test_plan_that_reverts_gradient_names_every_path(plan_reverts: dict[str, Any]) -> None:
    reverted = reverted_paths(plan_reverts)
    assert {r.path for r in reverted} == REVERTED_BY_PLAN
    assert {(r.address, r.cluster) for r in reverted} == {(JOB, "job_clusters/heavy")}
    node = next(r for r in reverted if r.path.endswith(".node_type_id"))
    assert (node.current, node.planned, node.drift) == (
        "m5.xlarge",
        "i3.2xlarge",
        ("i3.2xlarge", "m5.xlarge"),
    )
    tag = next(r for r in reverted if "sync:run-id" in r.path)
    assert tag.planned is None
    assert tag.as_dict()["drift"] == {"before": None, "after": tag.current}


def test_plan_that_ignores_gradient_passes(plan_ignores: dict[str, Any]) -> None:
    assert reverted_paths(plan_ignores) == []


def test_changes_to_untagged_clusters_are_not_reverts(plan_reverts: dict[str, Any]) -> None:
    change = plan_reverts["resource_changes"][0]["change"]
    change["after"]["job_cluster"][0]["new_cluster"][0]["node_type_id"] = "c5.4xlarge"
    assert {r.path for r in reverted_paths(plan_reverts)} == REVERTED_BY_PLAN


def test_reordered_clusters_are_matched_by_key(plan_ignores: dict[str, Any]) -> None:
    entry = plan_ignores["resource_changes"][0]
    entry["change"]["actions"] = ["update"]
    entry["change"]["after"]["job_cluster"].reverse()
    assert reverted_paths(plan_ignores) == []


def test_unknown_after_apply_counts_as_revert(plan_ignores: dict[str, Any]) -> None:
    entry = plan_ignores["resource_changes"][0]
    entry["change"]["actions"] = ["update"]
    entry["change"]["after_unknown"] = {
        "job_cluster": [{}, {"new_cluster": [{"spark_version": True}]}]
    }
    [only] = reverted_paths(plan_ignores)
    assert (only.path, only.planned) == (f"{HEAVY}.spark_version", "(known after apply)")


def test_replacement_counts_as_revert(plan_reverts: dict[str, Any]) -> None:
    plan_reverts["resource_changes"][0]["change"]["actions"] = ["delete", "create"]
    assert {r.path for r in reverted_paths(plan_reverts)} == REVERTED_BY_PLAN


def test_reverted_paths_needs_a_plan(state: dict[str, Any]) -> None:
    with pytest.raises(TerraformInputError, match="a state, not a plan"):
        reverted_paths(state)


def test_plan_without_resource_changes_passes() -> None:
    assert reverted_paths({"format_version": "1.2", "planned_values": {"root_module": {}}}) == []


# --- config_findings ------------------------------------------------------------------------


def kinds(findings: list[Any], kind: str) -> list[str]:
    return [f.subject for f in findings if f.kind == kind]


def test_fixture_config_misses_all_but_num_workers(tf_text: str, state: dict[str, Any]) -> None:
    for findings in (config_findings(tf_text), config_findings(tf_text, state)):
        assert kinds(findings, "missing") == HEAVY_ALL[1:]
        assert not kinds(findings, "too_broad")
        assert not kinds(findings, "unmanaged")
        assert all(f.address == JOB for f in findings)


def with_ignore(tf_text: str, entries: list[str]) -> str:
    start = tf_text.index("  lifecycle {")
    end = tf_text.index("}\n", tf_text.index("]", start)) + 2
    body = "".join(f"      {e},\n" for e in entries)
    return (
        tf_text[:start]
        + f"  lifecycle {{\n    ignore_changes = [\n{body}    ]\n  }}\n"
        + tf_text[end:]
    )


def test_generated_block_satisfies_check_config(tf_text: str, state: dict[str, Any]) -> None:
    text = with_ignore(tf_text, ignore_changes_for(state, JOB))
    assert not [f for f in config_findings(text, state) if f.is_problem]
    assert config_findings(text) == []


@pytest.mark.parametrize(
    "entry",
    [
        "all",
        "job_cluster",
        "job_cluster[1]",
        f"{HEAVY}.custom_tags",
        f"{HEAVY}.aws_attributes",
        'job_cluster[1]["new_cluster"]',
    ],
)
def test_entries_broader_than_gradient(tf_text: str, entry: str) -> None:
    findings = config_findings(with_ignore(tf_text, [entry]))
    assert kinds(findings, "too_broad") == [entry]
    too_broad = next(f for f in findings if f.kind == "too_broad")
    assert "ignores more than Gradient manages" in too_broad.message


def test_whole_map_covers_its_entries_but_is_too_broad(tf_text: str) -> None:
    findings = config_findings(with_ignore(tf_text, [f"{HEAVY}.custom_tags"]))
    assert not any("custom_tags" in p for p in kinds(findings, "missing"))


def test_ignore_changes_all_without_a_list(tf_text: str) -> None:
    start = tf_text.index("  lifecycle {")
    end = tf_text.index("}\n", tf_text.index("]", start)) + 2
    text = tf_text[:start] + "  lifecycle {\n    ignore_changes = all\n  }\n" + tf_text[end:]
    findings = config_findings(text)
    assert kinds(findings, "too_broad") == ["all"]
    assert not kinds(findings, "missing")


def test_unrelated_and_legacy_entries(tf_text: str) -> None:
    entries = [
        '"name"',
        "job_cluster[0].new_cluster[0].num_workers",
        f"{HEAVY}.aws_attributes[0].zone_id",
    ]
    findings = config_findings(with_ignore(tf_text, [*entries, *HEAVY_ALL]))
    assert kinds(findings, "unmanaged") == [
        "name",
        "job_cluster[0].new_cluster[0].num_workers",
        f"{HEAVY}.aws_attributes[0].zone_id",
    ]
    assert not [f for f in findings if f.is_problem]


def test_other_cloud_and_unset_node_types_are_not_required_nor_unrelated(tf_text: str) -> None:
    text = tf_text.replace('      driver_node_type_id = "i3.2xlarge"\n', "")
    required = [p for p in HEAVY_ALL if "driver_node_type_id" not in p]
    extra = [f"{HEAVY}.driver_node_type_id", f"{HEAVY}.azure_attributes[0].availability"]
    assert config_findings(with_ignore(text, required)) == []
    assert config_findings(with_ignore(text, [*required, *extra])) == []


def test_narrower_entry_leaves_the_managed_path_missing(tf_text: str) -> None:
    entries = [p for p in HEAVY_ALL if not p.endswith("autoscale")] + [
        f"{HEAVY}.autoscale[0].max_workers"
    ]
    findings = config_findings(with_ignore(tf_text, entries))
    assert kinds(findings, "missing") == [f"{HEAVY}.autoscale"]
    assert not kinds(findings, "unmanaged")


def test_state_indexes_win_over_block_order(tf_text: str, state: dict[str, Any]) -> None:
    job_values(state)["job_cluster"].reverse()
    findings = config_findings(tf_text, state)
    assert kinds(findings, "missing")[0] == "job_cluster[0].new_cluster[0].num_workers"
    assert kinds(findings, "unmanaged") == [f"{HEAVY}.num_workers"]


def test_dynamic_blocks_need_the_state(state: dict[str, Any]) -> None:
    text = """
resource "databricks_job" "two_clusters" {
  dynamic "job_cluster" {
    for_each = var.clusters
    content {
      job_cluster_key = job_cluster.key
      new_cluster { num_workers = 1 }
    }
  }
  lifecycle { ignore_changes = [job_cluster[1].new_cluster[0].num_workers] }
}
"""
    [note] = config_findings(text)
    assert (note.kind, note.subject) == ("note", "dynamic")
    assert kinds(config_findings(text, state), "missing") == HEAVY_ALL[1:]


def test_untagged_and_unknown_resources_get_notes(state: dict[str, Any]) -> None:
    text = 'resource "databricks_job" "other" {\n  name = "x"\n}\n'
    findings = config_findings(text, state)
    assert [(f.kind, f.subject) for f in findings] == [("note", "state"), ("note", "untagged")]


def test_hcl_syntax_error_is_one_line_with_position() -> None:
    with pytest.raises(TerraformInputError) as caught:
        config_findings('resource "databricks_job" "x" {\n  name = \n}\n')
    message = str(caught.value)
    assert message.startswith("HCL syntax error at line 2, column")
    assert "\n" not in message


def test_config_findings_rejects_a_bad_state(tf_text: str) -> None:
    with pytest.raises(TerraformInputError, match="not a Terraform plan or state"):
        config_findings(tf_text, {"nope": 1})


def test_core_imports_neither_airflow_nor_hcl2() -> None:
    import subprocess
    import sys

    code = (
        "import sys, airflow_gradient.core.terraform, airflow_gradient.cli.terraform;"
        "print(sorted(m for m in ('airflow', 'hcl2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
