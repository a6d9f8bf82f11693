"""Apply then roll back a job whose cluster holds plain secrets, with the real operators and
Airflow's redactor against the sandbox: no secret value in either XCom, the log or an error,
and the job restored exactly (to the literal settings from before the apply)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest

from airflow_gradient.exceptions import RollbackRefusedError
from airflow_gradient.sandbox import Sandbox
from tests.operators.conftest import configuration, job_settings

Run = Callable[..., dict[str, Any]]
APPLY = "apply_recommendation"
PASSWORD = "plain-db-password-6120"
NEW_PASSWORD = "recommended-db-password-3307"
AZURE = "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net"
AZURE_KEY = "azure-storage-key-4471"
TOKEN = "tag-token-value-8852"
REFERENCE = "{{secrets/etl/warehouse}}"
SECRETS = (PASSWORD, NEW_PASSWORD, AZURE_KEY, TOKEN)


@pytest.fixture
def logged() -> Iterator[list[MutableMapping[str, Any]]]:
    from structlog.testing import capture_logs

    with capture_logs() as entries:
        yield entries


def job_with_secrets(sb: Sandbox, recommended: dict[str, Any]) -> tuple[int, str]:
    settings = job_settings("shared_job_cluster")
    cluster = settings["job_clusters"][0]["new_cluster"]
    cluster["spark_env_vars"] = {"DB_PASSWORD": PASSWORD, "WAREHOUSE": REFERENCE}
    cluster["spark_conf"][AZURE] = AZURE_KEY
    cluster["custom_tags"]["api_token"] = TOKEN
    job_id = sb.databricks.create_job(settings)
    project_id = sb.gradient.create_project(job_id=job_id)["id"]
    config = configuration("aws_fixed_success")
    config["custom_tags"].pop("sync:recommendation-id", None)
    config["custom_tags"]["sync:project-id"] = project_id
    config.update(recommended)
    sb.gradient.add_recommendation(project_id, config, state="SUCCESS")
    return job_id, project_id


def settings_of(sb: Sandbox, job_id: int) -> dict[str, Any]:
    settings: dict[str, Any] = sb.databricks.get_job(job_id)["settings"]
    return settings


def shown(*values: Any, logged: list[MutableMapping[str, Any]]) -> str:
    return json.dumps(values, default=str) + "\n".join(str(e) for e in logged)


def test_apply_and_rollback_keep_secrets_out_and_restore_exactly(
    sb: Sandbox, run_apply: Run, run_rollback: Run, logged: list[MutableMapping[str, Any]]
) -> None:
    job_id, project_id = job_with_secrets(sb, {})
    before = settings_of(sb, job_id)

    result = run_apply(project_id=project_id, job_id=job_id)
    result.pop("_links")
    result = json.loads(json.dumps(result))
    assert result["applied"] is True
    assert result["previous_cluster"]["spark_env_vars"] == {
        "DB_PASSWORD": "***",
        "WAREHOUSE": REFERENCE,
    }
    assert result["new_cluster"]["spark_conf"][AZURE] == "***"
    assert result["new_cluster"]["custom_tags"]["api_token"] == "***"
    paths = [field["path"] for field in result["rollback_fields"]]
    assert "num_workers" in paths and not any("DB_PASSWORD" in path for path in paths)

    out = run_rollback(xcom={APPLY: result})

    assert out["rolled_back"] is True
    assert settings_of(sb, job_id) == before  # exactly, secrets included
    assert out["restored_cluster"]["spark_env_vars"]["DB_PASSWORD"] == "***"
    text = shown(result, out, logged=logged)
    for secret in SECRETS:
        assert secret not in text
    assert REFERENCE in text and "Changes to job_clusters/main" in text  # the log was read


def test_a_replaced_secret_is_refused_until_it_is_put_back_by_hand(
    sb: Sandbox, run_apply: Run, run_rollback: Run, logged: list[MutableMapping[str, Any]]
) -> None:
    job_id, project_id = job_with_secrets(
        sb, {"spark_env_vars": {"DB_PASSWORD": NEW_PASSWORD, "WAREHOUSE": REFERENCE}}
    )
    before = settings_of(sb, job_id)
    result = run_apply(project_id=project_id, job_id=job_id)
    result.pop("_links")
    applied_cluster = settings_of(sb, job_id)["job_clusters"][0]["new_cluster"]
    assert applied_cluster["spark_env_vars"]["DB_PASSWORD"] == NEW_PASSWORD

    with pytest.raises(RollbackRefusedError) as caught:
        run_rollback(xcom={APPLY: result}, force=True)
    message = str(caught.value)
    assert f"Databricks job {job_id} cluster job_clusters/main" in message
    assert "spark_env_vars.DB_PASSWORD held a secret value" in message
    assert settings_of(sb, job_id)["job_clusters"][0]["new_cluster"] == applied_cluster

    # As the message says: put the old value back by hand, then roll back again.
    settings = settings_of(sb, job_id)
    settings["job_clusters"][0]["new_cluster"]["spark_env_vars"]["DB_PASSWORD"] = PASSWORD
    sb.databricks.update_job(job_id, {"job_clusters": settings["job_clusters"]})
    out = run_rollback(xcom={APPLY: result})

    assert out["rolled_back"] is True and settings_of(sb, job_id) == before
    text = shown(result, out, message, logged=logged)
    for secret in SECRETS:
        assert secret not in text
