"""The edge's redactor: Airflow's secrets masker plus Spark's key/credential names."""

from __future__ import annotations

import pytest

from airflow_gradient.core.redaction import redact_cluster
from airflow_gradient.masking import airflow_redactor


def test_airflow_names_spark_names_and_masked_values_are_hidden() -> None:
    from airflow.sdk.log import mask_secret

    mask_secret("known-to-the-masker-91")
    spec = {
        "spark_env_vars": {"DB_PASSWORD": "pw-plain-1", "API_TOKEN": "tok-2", "MODE": "fast"},
        "spark_conf": {
            "fs.azure.account.key.acct.dfs.core.windows.net": "az-3",
            "spark.hadoop.fs.s3a.credentials.provider": "x",
            "spark.sql.shuffle.partitions": "200",
        },
        "custom_tags": {"owner": "known-to-the-masker-91", "ref": "{{secrets/s/k}}"},
    }
    shown = redact_cluster(spec, airflow_redactor())
    assert shown["spark_env_vars"] == {"DB_PASSWORD": "***", "API_TOKEN": "***", "MODE": "fast"}
    assert shown["spark_conf"] == {
        "fs.azure.account.key.acct.dfs.core.windows.net": "***",
        "spark.hadoop.fs.s3a.credentials.provider": "***",
        "spark.sql.shuffle.partitions": "200",
    }
    assert shown["custom_tags"] == {"owner": "***", "ref": "{{secrets/s/k}}"}


def test_secret_values_of_a_job_are_masked_in_any_text_and_references_are_not() -> None:
    from airflow.providers.common.compat.sdk import redact

    from airflow_gradient.masking import mask_cluster_secrets

    settings = {
        "job_clusters": [
            {
                "job_cluster_key": "main",
                "new_cluster": {
                    "spark_env_vars": {"DB_PASSWORD": "pw-in-a-job-6628", "MODE": "mode-fast-1"},
                    "spark_conf": {"fs.azure.account.key.a.b": "{{secrets/s/azure}}"},
                },
            }
        ],
        "tasks": [{"task_key": "t", "new_cluster": {"custom_tags": {"api_token": "tok-3319"}}}],
    }
    mask_cluster_secrets(settings, None)

    text = str(redact("error: pw-in-a-job-6628 tok-3319 mode-fast-1 {{secrets/s/azure}}"))
    assert "pw-in-a-job-6628" not in text and "tok-3319" not in text
    assert "mode-fast-1" in text and "{{secrets/s/azure}}" in text


def test_a_diff_row_of_a_dotted_spark_key_is_hidden_by_its_unquoted_name() -> None:
    """A diff row names a dotted key in brackets and quotes (``spark_conf["gcp.credentials"]``);
    Airflow's masker plus the Spark-name rule must see the key itself, without the quotes, or
    the ``credentials`` word is not found and the value shows."""
    from airflow_gradient.core.cluster.diff import diff_cluster
    from airflow_gradient.core.redaction import redact_changes

    before = {"spark_conf": {"gcp.credentials": "old-gcp-cred-4410"}}
    after = {"spark_conf": {"gcp.credentials": "new-gcp-cred-7723", "spark.x": "plain-1"}}
    changes = diff_cluster(before, after)
    assert {row["path"] for row in changes} == {
        'spark_conf["gcp.credentials"]',
        'spark_conf["spark.x"]',
    }

    shown = {row["path"]: row for row in redact_changes(changes, airflow_redactor())}

    row = shown['spark_conf["gcp.credentials"]']
    assert (row["before"], row["after"]) == ("***", "***")
    assert shown['spark_conf["spark.x"]']["after"] == "plain-1"


@pytest.mark.parametrize(
    "name",
    [
        "STORAGE_ACCOUNT_KEY",
        "AZURE_CREDENTIALS",
        "fs.azure.account.KEY.acct.dfs.core.windows.net",
        "Spark.Hadoop.Google.Cloud.Auth.Service.Account.Json.Keys",
    ],
)
def test_spark_key_and_credential_names_are_hidden_in_any_case(name: str) -> None:
    """Airflow's own list does not name these; the Spark-name rule does, whatever the case."""
    assert airflow_redactor()(name, "value-5529") == "***"


@pytest.mark.parametrize("name", ["MONKEY_BUSINESS", "spark.keyboard.layout", "CREDENTIALSX"])
def test_a_key_word_inside_another_word_is_not_taken_for_a_secret(name: str) -> None:
    assert airflow_redactor()(name, "value-5530") == "value-5530"


def test_every_tree_given_to_the_masker_is_masked() -> None:
    """The job's settings and the recommendation are masked alike: a secret only the
    recommendation holds is masked too (and the same for a secret only the job holds)."""
    from airflow.providers.common.compat.sdk import redact

    from airflow_gradient.masking import mask_cluster_secrets

    settings = {
        "job_clusters": [{"new_cluster": {"spark_env_vars": {"DB_PASSWORD": "job-pw-6610"}}}]
    }
    recommendation = {
        "id": "r1",
        "recommendation": {
            "configuration": {"spark_conf": {"fs.azure.account.key.a.b": "rec-only-key-8817"}}
        },
    }
    mask_cluster_secrets(settings, recommendation)

    text = str(redact("error: job-pw-6610 rec-only-key-8817"))
    assert "job-pw-6610" not in text
    assert "rec-only-key-8817" not in text
