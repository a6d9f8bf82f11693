"""The one place for Airflow imports and behaviour that depend on the Airflow version.

Every other Airflow name comes through ``airflow.providers.common.compat.sdk``, which resolves
it on Airflow 2.11 and 3.x alike. What that layer lacks at this package's floor
(``apache-airflow-providers-common-compat`` 1.13) is here, imported lazily by the callers.

**Supervisor calls are serialised.** A task asks its supervisor for connections and sends it
secrets to mask over one channel. On Airflow 3.0 that channel is not thread-safe: under
``airflow dags test`` two threads asking at once delete it for the rest of the task
(``NameError: SUPERVISOR_COMMS``), and a worker's socket channel can hand one thread's reply
to the other. Airflow 3.1 added a lock; the apply operator reads from three threads, so every
supervisor call this package makes takes :data:`SUPERVISOR_LOCK` on every version.
"""

from __future__ import annotations

import threading
from typing import Any

# The warning of a deprecated provider argument: Airflow 2.11 and 3.x keep it here, and the
# common.compat layer does not export it.
from airflow.exceptions import AirflowProviderDeprecationWarning

try:  # Airflow 3
    from airflow.sdk.log import mask_secret as _mask_secret
except ImportError:  # Airflow 2.11
    from airflow.utils.log.secrets_masker import (  # type: ignore[no-redef]
        mask_secret as _mask_secret,
    )

#: Held around each call this package makes to the task supervisor (see the module docstring).
SUPERVISOR_LOCK = threading.RLock()


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Airflow's ``mask_secret``, one thread at a time."""
    with SUPERVISOR_LOCK:
        _mask_secret(secret, name)


class SerialConnectionLookup:
    """Hook mix-in: ``get_connection`` one thread at a time (put it before the Airflow hook)."""

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        with SUPERVISOR_LOCK:
            return super().get_connection(conn_id)  # type: ignore[misc]


__all__ = [
    "SUPERVISOR_LOCK",
    "AirflowProviderDeprecationWarning",
    "SerialConnectionLookup",
    "mask_secret",
]
