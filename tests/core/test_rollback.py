"""The pure rollback decision: what to restore, when to refuse, what to send to jobs/update."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from airflow_gradient.core.cluster.diff import diff_cluster
from airflow_gradient.core.cluster.merge import merge_recommendation
from airflow_gradient.core.errors import (
    AmbiguousClusterError,
    ClusterNotFoundError,
    InvalidClusterSpecError,
    RollbackRefusedError,
)
from airflow_gradient.core.redaction import redact_cluster
from airflow_gradient.core.results import field_changes
from airflow_gradient.core.rollback import rollback_plan
from airflow_gradient.core.rollback_request import explicit_request, request_from_apply_result
from tests.conftest import FIXTURES
from tests.oracles import expected_rollback

SOURCE = "apply task 'apply_recommendation'"


def by_name(key: str, value: Any) -> Any:
    """A stand-in redactor: hides names with PASSWORD or ``.key.``."""
    return "***" if "PASSWORD" in key.upper() or ".key." in key else value


def with_fields(
    result: dict[str, Any], previous: dict[str, Any], applied: dict[str, Any]
) -> dict[str, Any]:
    """``result`` with what a rollback reads (``rollback_fields``), as the apply writes it."""
    fields = field_changes(
        previous,
        applied,
        job_id=result["job_id"],
        cluster_path=result["cluster_path"],
        redactor=by_name,
    )
    return {
        **result,
        "previous_cluster": redact_cluster(previous, by_name),
        "new_cluster": redact_cluster(applied, by_name),
        "rollback_fields": fields,
    }


def fixture(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text(encoding="utf-8"))


def config() -> dict[str, Any]:
    configuration: dict[str, Any] = fixture("recommendations", "aws_fixed_success")["result"][
        "recommendation"
    ]["configuration"]
    return configuration


def job_cluster(settings: dict[str, Any], key: str = "main") -> dict[str, Any]:
    entry = next(e for e in settings["job_clusters"] if e["job_cluster_key"] == key)
    spec: dict[str, Any] = entry["new_cluster"]
    return spec


def task(settings: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in settings["tasks"] if t["task_key"] == key)
    return found


def applied_job(
    name: str = "shared_job_cluster", path: str = "job_clusters/main"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Settings after an apply of aws_fixed_success at ``path``, and the apply's result (with
    ``plain_previous``/``plain_applied``, the specs, for the expectations)."""
    settings = fixture("jobs", name)["settings"]
    kind, key = path.split("/", 1)
    holder = job_cluster(settings, key) if kind == "job_clusters" else task(settings, key)
    if kind == "job_clusters":
        previous = copy.deepcopy(holder)
        applied = merge_recommendation(previous, config())
        holder.clear()
        holder.update(copy.deepcopy(applied))
    else:
        previous = copy.deepcopy(holder["new_cluster"])
        applied = merge_recommendation(previous, config())
        holder["new_cluster"] = copy.deepcopy(applied)
    result = {
        "applied": True,
        "dry_run": False,
        "job_id": 123456789,
        "cluster_key": key,
        "cluster_path": path,
        "recommendation_id": "b6f7c1f2-0d0e-4a53-9a3e-3c1d2f3b9a10",
        "phase": "OPTIMIZING",
        "changes": diff_cluster(previous, applied),
        "metrics": {},
    }
    return settings, {
        **with_fields(result, previous, applied),
        "plain_previous": previous,
        "plain_applied": applied,
    }


def plan_for(settings: dict[str, Any], result: Any, *, force: bool = False) -> Any:
    request = request_from_apply_result(result, source=SOURCE)
    return rollback_plan(settings, request, force=force, redactor=by_name)


# --- restoring -------------------------------------------------------------------------------


def test_job_cluster_is_restored_as_its_whole_entry() -> None:
    settings, result = applied_job()
    before = copy.deepcopy(settings)

    plan = plan_for(settings, result)

    assert plan.write is True and plan.forced is False
    assert plan.new_settings == {
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": result["plain_previous"]}]
    }
    assert plan.cluster_path == "job_clusters/main" and plan.job_id == 123456789
    assert plan.restored == result["plain_previous"]
    assert plan.current == result["plain_applied"]
    assert plan.changes == diff_cluster(result["plain_applied"], result["plain_previous"])
    assert {"path": "num_workers", "before": 4, "after": None} in plan.changes
    assert "still holds what apply task 'apply_recommendation' wrote" in plan.reason
    assert "everything else stays as the job has it now" in plan.reason
    assert settings == before  # pure: the input is not touched


def test_task_level_cluster_is_restored_with_the_whole_task_body() -> None:
    settings, result = applied_job("task_clusters", "tasks/train")
    train = copy.deepcopy(task(settings, "train"))

    plan = plan_for(settings, result)

    assert plan.write is True
    assert list(plan.new_settings) == ["tasks"] and len(plan.new_settings["tasks"]) == 1
    sent = plan.new_settings["tasks"][0]
    assert sent["new_cluster"] == result["plain_previous"]
    assert sent["new_cluster"]["num_workers"] == 10 and sent["new_cluster"]["node_type_id"] == (
        "r5.4xlarge"
    )
    assert {k: v for k, v in sent.items() if k != "new_cluster"} == {
        k: v for k, v in train.items() if k != "new_cluster"
    }
    assert sent["python_wheel_task"]["entry_point"] == "main" and sent["max_retries"] == 1


def test_for_each_task_cluster_is_restored_inside_the_outer_task() -> None:
    previous = {"spark_version": "14.3.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}
    applied = merge_recommendation(previous, {"node_type_id": "m5.xlarge", "num_workers": 4})
    outer: dict[str, Any] = {
        "task_key": "fan_out",
        "for_each_task": {
            "inputs": "[1, 2, 3]",
            "concurrency": 2,
            "task": {
                "task_key": "fan_out_iteration",
                "notebook_task": {"notebook_path": "/Repos/etl/one"},
                "new_cluster": applied,
            },
        },
    }
    settings = {"name": "fan", "tasks": [outer]}
    result = with_fields(
        {"applied": True, "job_id": 5, "cluster_path": "tasks/fan_out"}, previous, applied
    )

    plan = plan_for(settings, result)

    expected = copy.deepcopy(outer)
    expected["for_each_task"]["task"]["new_cluster"] = previous
    assert plan.new_settings == {"tasks": [expected]}


def test_fields_the_apply_did_not_change_keep_what_the_job_holds_now() -> None:
    settings, result = applied_job()
    current = job_cluster(settings)
    current["aws_attributes"]["ebs_volume_iops"] = 3000  # a default Databricks filled in
    current["cluster_source"] = "JOB"
    current["custom_tags"]["team"] = "platform"  # someone retagged it after the apply
    now = copy.deepcopy(current)

    plan = plan_for(settings, result)

    assert plan.write is True and plan.forced is False
    restored = plan.new_settings["job_clusters"][0]["new_cluster"]
    assert restored == expected_rollback(result["plain_previous"], result["plain_applied"], now)
    assert restored["custom_tags"]["team"] == "platform" and restored["cluster_source"] == "JOB"
    assert restored["autoscale"] == {"min_workers": 2, "max_workers": 8}
    assert "num_workers" not in restored and restored["node_type_id"] == "i3.2xlarge"


def test_an_apply_that_only_added_fields_is_still_rolled_back() -> None:
    settings = fixture("jobs", "shared_job_cluster")["settings"]
    previous = copy.deepcopy(job_cluster(settings))
    applied = merge_recommendation(previous, {"runtime_engine": "PHOTON"})
    job_cluster(settings)["runtime_engine"] = "PHOTON"
    result = with_fields(
        {"applied": True, "job_id": 1, "cluster_path": "job_clusters/main"},
        previous,
        applied,
    )

    plan = plan_for(settings, result)

    assert plan.write is True
    assert plan.changes == [{"path": "runtime_engine", "before": "PHOTON", "after": None}]


# --- nothing to do ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "words"),
    [
        (None, "returned no result"),
        ({"applied": False, "dry_run": False, "job_id": 7}, "wrote nothing (applied=False"),
        ({"applied": False, "dry_run": True, "job_id": 7}, "was a dry run"),
        ({"applied": True, "dry_run": True, "job_id": 7}, "was a dry run"),
    ],
)
def test_an_apply_that_did_not_write_needs_no_rollback(result: Any, words: str) -> None:
    request = request_from_apply_result(result, source=SOURCE, allow_missing=True)

    plan = rollback_plan({}, request, redactor=by_name)

    assert request.nothing_reason is not None and words in request.nothing_reason
    assert plan.write is False and plan.new_settings is None
    assert plan.reason == request.nothing_reason
    assert plan.job_id == (None if result is None else 7)


@pytest.mark.parametrize("applied", ["false", "False", "no", 1, "true", None])
def test_only_applied_true_counts_as_a_write(applied: Any) -> None:
    """A complete apply record whose ``applied`` is not the boolean true (text rendered by a
    template, a number) is not read as a write: nothing is rolled back, and the reason shows
    the value."""
    settings, result = applied_job()
    result["applied"] = applied

    request = request_from_apply_result(result, source=SOURCE)
    plan = rollback_plan(settings, request, redactor=by_name)

    assert request.fields is None
    assert request.nothing_reason is not None
    assert f"applied={applied!r}" in request.nothing_reason
    assert plan.write is False and plan.new_settings is None


@pytest.mark.parametrize("result", [None, "None", "null"])
def test_a_missing_apply_result_is_refused_unless_allowed(result: Any) -> None:
    """No result (a typo'd task, an apply that never ran) must not pass as 'nothing to do'."""
    with pytest.raises(RollbackRefusedError, match="returned no result") as caught:
        request_from_apply_result(result, source=SOURCE)

    assert "allow_missing_result=True" in str(caught.value)
    assert "apply_result=<apply task>.output" in str(caught.value)


def test_a_cluster_already_back_at_the_old_spec_is_not_written() -> None:
    settings, result = applied_job()
    job_cluster(settings).clear()
    job_cluster(settings).update(copy.deepcopy(result["plain_previous"]))

    plan = plan_for(settings, result)

    assert plan.write is False and plan.new_settings is None
    assert "already holds the spec from before the apply" in plan.reason


def test_old_spec_plus_databricks_defaults_counts_as_already_back() -> None:
    settings, result = applied_job()
    spec = copy.deepcopy(result["plain_previous"])
    spec["aws_attributes"]["ebs_volume_iops"] = 3000
    job_cluster(settings).clear()
    job_cluster(settings).update(spec)

    assert plan_for(settings, result).write is False


# --- refusing -------------------------------------------------------------------------------


def test_a_field_changed_since_the_apply_is_refused_with_the_three_way_table() -> None:
    settings, result = applied_job()
    current = job_cluster(settings)
    current["num_workers"] = 6  # someone resized it after the apply: a field the apply wrote
    current["custom_tags"]["team"] = "platform"  # and retagged it: a field it did not touch
    before = copy.deepcopy(settings)

    with pytest.raises(RollbackRefusedError) as caught:
        plan_for(settings, result)

    error = caught.value
    message = str(error)
    assert "Refusing to roll back Databricks job 123456789 cluster job_clusters/main" in message
    assert "1 field(s) that apply task 'apply_recommendation' wrote hold something else" in message
    assert "(num_workers: changed since" in message
    assert "force=True" in message
    lines = message.splitlines()
    header = next(line for line in lines if line.startswith("path "))
    assert [cell.strip() for cell in header.split("|")] == [
        "path",
        "before apply",
        "applied",
        "now",
    ]
    by_path = {row["path"]: row for row in error.differences}
    assert by_path["num_workers"] == {
        "path": "num_workers",
        "previous": None,
        "applied": 4,
        "current": 6,
    }
    assert by_path["node_type_id"] == {
        "path": "node_type_id",
        "previous": "i3.2xlarge",
        "applied": "m5.xlarge",
        "current": "m5.xlarge",
    }
    row = next(line for line in lines if line.startswith("num_workers "))
    assert [cell.strip() for cell in row.split("|")] == ["num_workers", "(absent)", "4", "6"]
    # one row per field the apply changed, and only those (from the literal fixtures)
    assert set(by_path) == {
        c["path"] for c in diff_cluster(result["plain_previous"], result["plain_applied"])
    }
    assert "custom_tags.team" not in by_path and "spark_version" in by_path
    assert settings == before


def test_a_second_sizing_form_added_since_is_a_change_not_a_default() -> None:
    settings, result = applied_job()
    job_cluster(settings)["autoscale"] = {"min_workers": 1, "max_workers": 2}

    with pytest.raises(RollbackRefusedError, match=r"1 field\(s\) that .* \(autoscale:") as caught:
        plan_for(settings, result)

    autoscale = next(r for r in caught.value.differences if r["path"] == "autoscale")
    assert autoscale["previous"] == {"min_workers": 2, "max_workers": 8}
    assert autoscale["applied"] is None
    assert autoscale["current"] == {"min_workers": 1, "max_workers": 2}


def test_a_sizing_field_neither_spec_had_is_never_taken_for_a_default() -> None:
    previous = {"spark_version": "14.3.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}
    applied = merge_recommendation(previous, {"num_workers": 4})
    current = {**applied, "autoscale": {"min_workers": 1, "max_workers": 9}}
    settings = {"job_clusters": [{"job_cluster_key": "main", "new_cluster": current}]}
    result = with_fields(
        {"applied": True, "job_id": 1, "cluster_path": "job_clusters/main"},
        previous,
        applied,
    )

    with pytest.raises(RollbackRefusedError, match="\\(autoscale: changed since"):
        plan_for(settings, result)


def test_force_restores_a_changed_cluster_and_says_so() -> None:
    settings, result = applied_job()
    job_cluster(settings)["num_workers"] = 6

    plan = plan_for(settings, result, force=True)

    assert plan.write is True and plan.forced is True
    assert plan.new_settings["job_clusters"][0]["new_cluster"] == result["plain_previous"]
    assert "force=True: restoring their values from before the apply anyway" in plan.reason
    assert re.search(r"path +\| before apply +\| applied +\| now", plan.reason)
    assert {"path": "num_workers", "before": 6, "after": None} in plan.changes


@pytest.mark.parametrize("force", [False, True])
def test_a_cluster_gone_from_the_job_cannot_be_restored(force: bool) -> None:
    settings, result = applied_job()
    settings["job_clusters"][0]["job_cluster_key"] = "renamed"

    with pytest.raises(ClusterNotFoundError, match="no cluster job_clusters/main now"):
        plan_for(settings, result, force=force)


def test_a_task_moved_to_a_shared_cluster_cannot_be_restored() -> None:
    settings, result = applied_job("task_clusters", "tasks/train")
    train = task(settings, "train")
    del train["new_cluster"]
    train["job_cluster_key"] = "shared"

    with pytest.raises(ClusterNotFoundError, match="tasks/train"):
        plan_for(settings, result)


@pytest.mark.parametrize(
    ("result", "words"),
    [
        ("not a dict", "is not an apply result"),
        ([1, 2], "is not an apply result"),
        (
            {"applied": True, "job_id": 1, "rollback_fields": []},
            "missing cluster_path",
        ),
        (
            {"applied": True, "job_id": "abc", "cluster_path": "main", "rollback_fields": []},
            "job_id 'abc' is not an integer; cluster_path 'main' is not",
        ),
    ],
)
def test_an_unusable_apply_result_is_refused(result: Any, words: str) -> None:
    with pytest.raises(RollbackRefusedError, match="Nothing was written") as caught:
        request_from_apply_result(result, source=SOURCE)
    assert words in str(caught.value)
    assert caught.value.differences == []


@pytest.mark.parametrize("render", [json.dumps, str])
def test_an_apply_result_rendered_to_text_is_read_back(render: Any) -> None:
    settings, result = applied_job()

    request = request_from_apply_result(render(result), source=SOURCE)

    assert request.fields is not None and len(request.fields) > 1
    plan = rollback_plan(settings, request, redactor=by_name)
    assert plan.restored == result["plain_previous"]


# --- an explicit spec ------------------------------------------------------------------------


SMALL = {"spark_version": "14.3.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 1}


@pytest.mark.parametrize("key", ["main", "job_clusters/main"])
def test_an_explicit_spec_is_written_whatever_the_cluster_holds(key: str) -> None:
    settings, _ = applied_job()
    job_cluster(settings)["num_workers"] = 99  # changed: no apply record to check it against

    plan = rollback_plan(
        settings, redactor=by_name, request=explicit_request("123456789", key, SMALL)
    )

    assert plan.write is True and plan.forced is False
    assert plan.differences == []
    assert plan.new_settings == {
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": SMALL}]
    }
    assert plan.job_id == 123456789 and plan.cluster_path == "job_clusters/main"


def test_an_explicit_bare_task_key_finds_the_task_cluster() -> None:
    settings = fixture("jobs", "task_clusters")["settings"]

    plan = rollback_plan(
        settings, redactor=by_name, request=explicit_request(1, "train", json.dumps(SMALL))
    )

    assert plan.cluster_path == "tasks/train" and plan.new_settings is not None
    assert plan.new_settings["tasks"][0]["new_cluster"] == SMALL
    assert plan.new_settings["tasks"][0]["libraries"] == task(settings, "train")["libraries"]


def test_an_explicit_spec_equal_to_the_cluster_is_not_written() -> None:
    settings = fixture("jobs", "shared_job_cluster")["settings"]

    plan = rollback_plan(
        settings, redactor=by_name, request=explicit_request(1, "main", job_cluster(settings))
    )

    assert plan.write is False and "already holds" in plan.reason


def test_an_explicit_bare_key_naming_two_clusters_is_ambiguous() -> None:
    settings = {
        "job_clusters": [{"job_cluster_key": "x", "new_cluster": SMALL}],
        "tasks": [
            {"task_key": "x", "new_cluster": SMALL, "notebook_task": {"notebook_path": "/n"}}
        ],
    }
    with pytest.raises(AmbiguousClusterError, match="cluster_key='job_clusters/x'"):
        rollback_plan(settings, redactor=by_name, request=explicit_request(1, "x", SMALL))


def test_an_explicit_key_that_names_no_cluster_is_not_found() -> None:
    settings = fixture("jobs", "shared_job_cluster")["settings"]
    with pytest.raises(ClusterNotFoundError, match="'ingest' \\(a job cluster or a task"):
        rollback_plan(settings, redactor=by_name, request=explicit_request(1, "ingest", SMALL))


def test_an_explicit_spec_databricks_would_reject_is_refused_before_reading() -> None:
    with pytest.raises(InvalidClusterSpecError, match="both num_workers and autoscale"):
        explicit_request(1, "main", {**SMALL, "autoscale": {"min_workers": 1, "max_workers": 2}})


@pytest.mark.parametrize(
    ("job_id", "key", "spec", "words"),
    [
        ("abc", "main", SMALL, "job_id 'abc' is not"),
        (1, "", SMALL, "cluster_key '' is not"),
        (1, "main", "[1]", "cluster_spec is not an object"),
    ],
)
def test_explicit_arguments_of_the_wrong_kind_are_refused(
    job_id: Any, key: Any, spec: Any, words: str
) -> None:
    with pytest.raises(RollbackRefusedError, match="Nothing was written") as caught:
        explicit_request(job_id, key, spec)
    assert words in str(caught.value)
