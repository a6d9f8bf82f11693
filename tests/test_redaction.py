"""The edge's redactor: Airflow's secrets masker plus Spark's key/credential names."""

from __future__ import annotations

from airflow_gradient.core.redaction import redact_cluster
from airflow_gradient.redaction import airflow_redactor


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
