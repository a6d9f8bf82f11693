"""Rollback with secret values in the cluster: the apply's result keeps none of them, and the
rollback still restores exactly, or refuses saying what to do (pure core, no Airflow)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from airflow_gradient.core.cluster.merge import merge_recommendation
from airflow_gradient.core.errors import RollbackRefusedError
from airflow_gradient.core.results import field_changes
from airflow_gradient.core.rollback import rollback_plan
from airflow_gradient.core.rollback_request import request_from_apply_result
from tests.oracles import expected_rollback

PASSWORD = "plain-db-password-5517"
AZURE_KEY = "azure-account-key-8843"
TOKEN = "tag-token-value-2209"
REFERENCE = "{{secrets/etl/warehouse}}"
AZURE = "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net"
PATH = "job_clusters/main"


def hidden(key: str, value: Any) -> Any:
    """A stand-in for Airflow's redactor: names with password, key or token."""
    lowered = key.lower()
    return "***" if any(w in lowered for w in ("password", ".key.", "token")) else value


def cluster() -> dict[str, Any]:
    return {
        "spark_version": "14.3.x-scala2.12",
        "node_type_id": "i3.xlarge",
        "autoscale": {"min_workers": 2, "max_workers": 8},
        "spark_env_vars": {"DB_PASSWORD": PASSWORD, "WAREHOUSE": REFERENCE},
        "spark_conf": {AZURE: AZURE_KEY, "spark.sql.shuffle.partitions": "200"},
        "custom_tags": {"team": "data-eng", "api_token": TOKEN},
    }


def apply_record(previous: dict[str, Any], applied: dict[str, Any], job_id: int = 7) -> Any:
    """The result as the apply writes it, through JSON like an XCom."""
    fields = field_changes(previous, applied, job_id=job_id, cluster_path=PATH, redactor=hidden)
    record = {
        "applied": True,
        "dry_run": False,
        "job_id": job_id,
        "cluster_path": PATH,
        "rollback_fields": fields,
    }
    return json.loads(json.dumps(record))


def settings_with(spec: dict[str, Any]) -> dict[str, Any]:
    return {"job_clusters": [{"job_cluster_key": "main", "new_cluster": copy.deepcopy(spec)}]}


def plan(settings: dict[str, Any], record: Any, *, force: bool = False) -> Any:
    request = request_from_apply_result(record, source="apply task 'apply'")
    return rollback_plan(settings, request, redactor=hidden, force=force)


SECRETS = (PASSWORD, AZURE_KEY, TOKEN)

RECOMMENDATIONS = [
    {"num_workers": 4, "node_type_id": "m5.xlarge"},
    {"autoscale": {"min_workers": 1, "max_workers": 3}, "spark_conf": {"spark.a": "1"}},
    {"runtime_engine": "PHOTON", "custom_tags": {"team": "platform"}},
]


@pytest.mark.parametrize("configuration", RECOMMENDATIONS)
@pytest.mark.parametrize("edit_elsewhere", [False, True])
def test_secrets_the_apply_left_alone_are_restored_exactly(
    configuration: dict[str, Any], edit_elsewhere: bool
) -> None:
    previous = cluster()
    applied = merge_recommendation(previous, configuration, recommendation_id="rec-1")
    record = apply_record(previous, applied)
    now = copy.deepcopy(applied)
    if edit_elsewhere:  # after the apply, someone rotates the password and adds a tag
        now["spark_env_vars"]["DB_PASSWORD"] = "rotated-password-3391"
        now["custom_tags"]["owner"] = "alice"

    result = plan(settings_with(now), record)

    assert result.write is True
    assert result.restored == expected_rollback(previous, applied, now)
    if not edit_elsewhere:
        assert result.restored == previous
    text = json.dumps(record) + result.reason + json.dumps(result.differences)
    for secret in SECRETS:
        assert secret not in text
    assert REFERENCE not in json.dumps(record)  # unchanged fields are not in the record at all


def test_the_record_keeps_digests_of_changed_secret_values_and_shows_references() -> None:
    previous = cluster()
    applied = copy.deepcopy(previous)
    applied["spark_env_vars"] = {"DB_PASSWORD": "new-password-7720", "WAREHOUSE": "{{secrets/a/b}}"}
    fields = {f["path"]: f for f in apply_record(previous, applied)["rollback_fields"]}

    password = fields["spark_env_vars.DB_PASSWORD"]
    assert password["before"] == password["after"] == "***"
    assert password["before_digest"].startswith("sha256:")
    assert password["before_digest"] != password["after_digest"]
    assert fields["spark_env_vars.WAREHOUSE"] == {
        "keys": ["spark_env_vars", "WAREHOUSE"],
        "path": "spark_env_vars.WAREHOUSE",
        "before": REFERENCE,
        "after": "{{secrets/a/b}}",
    }
    # Salted by job: the same secret in another job has another digest.
    other = {f["path"]: f for f in apply_record(previous, applied, job_id=8)["rollback_fields"]}
    assert other["spark_env_vars.DB_PASSWORD"]["before_digest"] != password["before_digest"]


def test_a_secret_the_apply_replaced_cannot_be_written_back() -> None:
    previous = cluster()
    applied = merge_recommendation(previous, {"num_workers": 4, "spark_conf": {AZURE: "new-key"}})
    record = apply_record(previous, applied)

    with pytest.raises(RollbackRefusedError) as caught:
        plan(settings_with(applied), record, force=True)

    message = str(caught.value)
    assert "Databricks job 7 cluster job_clusters/main" in message
    assert f'field(s) spark_conf["{AZURE}"] held a secret value' in message
    assert "keeps only a digest" in message and "Nothing was written" in message
    assert "run the rollback again" in message and "cluster_spec=" in message
    for secret in (*SECRETS, "new-key"):
        assert secret not in message


def test_a_secret_put_back_by_hand_lets_the_rollback_restore_the_rest() -> None:
    previous = cluster()
    applied = merge_recommendation(previous, {"num_workers": 4, "spark_conf": {AZURE: "new-key"}})
    record = apply_record(previous, applied)
    now = copy.deepcopy(applied)
    now["spark_conf"][AZURE] = AZURE_KEY  # the user put the old key back, as the refusal said

    result = plan(settings_with(now), record)

    assert result.write is True and result.restored == previous


def test_a_secret_the_apply_wrote_is_recognised_by_its_digest() -> None:
    previous = cluster()
    applied = merge_recommendation(previous, {"spark_env_vars": {"NEW_TOKEN": "tok-6612"}})
    record = apply_record(previous, applied)
    assert "tok-6612" not in json.dumps(record)

    assert plan(settings_with(applied), record).restored == previous
    changed = copy.deepcopy(applied)
    changed["spark_env_vars"]["NEW_TOKEN"] = "tok-someone-else-0071"
    with pytest.raises(RollbackRefusedError, match="NEW_TOKEN: changed since") as caught:
        plan(settings_with(changed), record)
    assert "tok-6612" not in str(caught.value)
    assert "tok-someone-else-0071" not in str(caught.value)
    row = caught.value.differences[0]
    assert row == {
        "path": "spark_env_vars.NEW_TOKEN",
        "previous": None,
        "applied": "***",
        "current": "***",
    }


@pytest.mark.parametrize("fields", [{}, {"rollback_fields": None}])
def test_an_applied_result_without_rollback_fields_is_a_permanent_refusal(
    fields: dict[str, Any],
) -> None:
    """A result that says it wrote but does not list what it changed (not the apply task's own
    result) is refused, naming what to pass instead; the plain specs it may carry are not
    diffed to guess the fields."""
    previous = cluster()
    applied = merge_recommendation(previous, {"num_workers": 4}, recommendation_id="rec-1")
    record = {
        "applied": True,
        "dry_run": False,
        "job_id": 7,
        "cluster_path": PATH,
        "previous_cluster": previous,
        "new_cluster": applied,
        **fields,
    }

    with pytest.raises(RollbackRefusedError, match="has no rollback_fields") as caught:
        request_from_apply_result(record, source="apply task 'apply'")

    message = str(caught.value)
    assert "Nothing was written" in message
    assert "apply_result=apply.output" in message
    assert "cluster_spec=" in message


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ("nope", "rollback_fields is not a list"),
        ([{"path": "x"}], "rollback_fields[0] has no keys"),
        ([{"keys": ["a"], "before_digest": "md5:1"}], "before_digest is not a sha256: digest"),
    ],
)
def test_unreadable_rollback_fields_are_refused(fields: Any, words: str) -> None:
    record = {"applied": True, "job_id": 7, "cluster_path": PATH, "rollback_fields": fields}
    with pytest.raises(RollbackRefusedError, match="Nothing was written") as caught:
        request_from_apply_result(record, source="apply task 'apply'")
    assert words in str(caught.value)
