"""The one place for Airflow imports that depend on the Airflow version.

Every other Airflow name comes through ``airflow.providers.common.compat.sdk``, which resolves
it on Airflow 2.11 and 3.x alike. What that layer lacks at this package's floor
(``apache-airflow-providers-common-compat`` 1.13) is here, imported lazily by the callers.
"""

from __future__ import annotations

try:  # Airflow 3
    from airflow.sdk.log import mask_secret
except ImportError:  # Airflow 2.11
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef]

__all__ = ["mask_secret"]
