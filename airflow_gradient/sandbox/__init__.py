"""A local emulator of the Gradient API and the Databricks Jobs API, for tests and demos.

Like ``moto`` for AWS: real HTTP servers on ``127.0.0.1`` speaking the same wire protocols as
the real services, so the provider's hooks, ``DatabricksHook`` and ``databricks-sdk`` run
their production code paths against it. Faults (error statuses, slow replies, dropped
connections) can be injected per request. Importing this package does not import Airflow.

    from airflow_gradient.sandbox import Sandbox

    with Sandbox() as sb:
        os.environ.update(sb.connections())
        ids = sb.seed_demo()
        ...
        sb.reset()  # a clean slate for the next test, same ports and credentials

Layout, like ``moto``: each service is a backend (state and the Python API, e.g.
``sb.databricks``) and routes (the HTTP endpoints) in ``databricks/`` and ``gradient/``;
``routing`` maps requests to handlers, ``server`` owns the sockets and applies ``faults``.
``airflow_home`` runs DAG files end to end (``airflow dags test``) in a throwaway Airflow home
with the sandbox's connections.
"""

from __future__ import annotations

from airflow_gradient.sandbox.errors import (
    ConflictError,
    NotFoundError,
    SandboxError,
    ValidationError,
)
from airflow_gradient.sandbox.faults import Fault, Faults
from airflow_gradient.sandbox.records import RequestRecord
from airflow_gradient.sandbox.sandbox import Sandbox

__all__ = [
    "ConflictError",
    "Fault",
    "Faults",
    "NotFoundError",
    "RequestRecord",
    "Sandbox",
    "SandboxError",
    "ValidationError",
]
