"""The edge's redactor: Airflow's secrets masker plus Spark's key/credential names."""

from __future__ import annotations

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
