"""Airflow's secrets masker at the edge: handed to the core as a
:data:`~airflow_gradient.core.redaction.Redactor`, and told every secret value of a cluster.

Airflow's secrets masker hides a value when its name is sensitive (``[core]
sensitive_var_conn_names`` plus Airflow's list: password, secret, token, api_key, ...) and any
value it was told about (``mask_secret``, connection passwords). Spark settings name keys like
``fs.azure.account.key.<account>.dfs.core.windows.net`` or ``...credentials...``, which that
list misses, so names with a ``key`` or ``credential`` word are hidden too.

The one import of the masker is here, through ``airflow.providers.common.compat.sdk``, which
finds ``redact`` on every Airflow 3 minor (``airflow.sdk.log`` on 3.2+,
``airflow.sdk.execution_time.secrets_masker`` on 3.0/3.1).
"""

from __future__ import annotations

import re
from typing import Any

from airflow_gradient.core.redaction import Redactor, secret_values

__all__ = ["airflow_redactor", "mask_cluster_secrets"]

#: Words in a Spark setting's name that Airflow's list misses; matched between separators.
_SPARK_SENSITIVE = re.compile(r"(^|[._\-])(key|keys|credential|credentials)($|[._\-])", re.I)
REPLACEMENT = "***"


def airflow_redactor() -> Redactor:
    """The redactor the operators use: Airflow's masker plus Spark's key/credential names."""
    from airflow.providers.common.compat.sdk import redact

    def redactor(key: str, value: Any) -> Any:
        if _SPARK_SENSITIVE.search(key):
            return REPLACEMENT
        return redact(value, name=key)

    return redactor


def mask_cluster_secrets(*trees: Any) -> None:
    """Tell Airflow's masker every secret value in the clusters of ``trees`` (job settings,
    recommendations), so the task log masks them wherever they appear, also in messages this
    package does not build."""
    from airflow_gradient._compat import mask_secret

    redactor = airflow_redactor()
    for tree in trees:
        for value in secret_values(tree, redactor):
            mask_secret(value)
