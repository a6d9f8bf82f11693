"""Secret-looking values of a cluster never reach the apply's diff log or its ``changes``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.operators.conftest import configuration, job_settings

OLD_PASSWORD = "old-plain-db-password-4821"
NEW_PASSWORD = "new-plain-db-password-9035"
AZURE_KEY = "azure-storage-key-value-7730"
REFERENCE = "{{secrets/etl/warehouse}}"


@pytest.fixture
def logged() -> Iterator[list[MutableMapping[str, Any]]]:
    from structlog.testing import capture_logs

    with capture_logs() as entries:
        yield entries


def test_changes_and_the_diff_log_hide_secret_values(
    sb: Sandbox,
    run_apply: Callable[..., dict[str, Any]],
    logged: list[MutableMapping[str, Any]],
) -> None:
    settings = job_settings("shared_job_cluster")
    cluster = settings["job_clusters"][0]["new_cluster"]
    cluster["spark_env_vars"] = {"DB_PASSWORD": OLD_PASSWORD, "WAREHOUSE": REFERENCE}
    job_id = sb.databricks.create_job(settings)
    project_id = sb.gradient.create_project(job_id=job_id)["id"]
    config = configuration("aws_fixed_success")
    config["custom_tags"].pop("sync:recommendation-id", None)
    config["custom_tags"]["sync:project-id"] = project_id
    config["spark_env_vars"] = {"DB_PASSWORD": NEW_PASSWORD, "WAREHOUSE": "{{secrets/etl/new}}"}
    config["spark_conf"]["fs.azure.account.key.acct.dfs.core.windows.net"] = AZURE_KEY
    sb.gradient.add_recommendation(project_id, config, state="SUCCESS")

    result = run_apply(project_id=project_id, job_id=job_id)

    changes = {row["path"]: row for row in result["changes"]}
    assert changes["spark_env_vars.DB_PASSWORD"] == {
        "path": "spark_env_vars.DB_PASSWORD",
        "before": "***",
        "after": "***",
    }
    assert changes["spark_env_vars.WAREHOUSE"]["after"] == "{{secrets/etl/new}}"
    shown = json.dumps(result["changes"]) + "\n".join(str(e["event"]) for e in logged)
    for secret in (OLD_PASSWORD, NEW_PASSWORD, AZURE_KEY):
        assert secret not in shown
    assert "Changes to job_clusters/main" in shown and "{{secrets/etl/new}}" in shown
    # The job itself gets the real values.
    written = sb.databricks.get_job(job_id)["settings"]["job_clusters"][0]["new_cluster"]
    assert written["spark_env_vars"]["DB_PASSWORD"] == NEW_PASSWORD
