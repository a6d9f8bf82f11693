"""A local emulator of the Gradient API and the Databricks Jobs API, for tests and demos.

Like ``moto`` for AWS: real HTTP servers on ``127.0.0.1`` speaking the same wire protocols as
the real services, so the provider's hooks, ``DatabricksHook`` and ``databricks-sdk`` run
their production code paths against it. Faults (error statuses, slow replies, dropped
connections) can be injected per request. Importing this package does not import Airflow.

    from airflow_gradient.sandbox import Sandbox

    with Sandbox() as sb:
        os.environ.update(sb.connections())
        ids = sb.seed_demo()
"""

from __future__ import annotations

from airflow_gradient.sandbox.errors import NotFoundError, SandboxError, ValidationError
from airflow_gradient.sandbox.faults import Fault, Faults
from airflow_gradient.sandbox.records import RequestRecord
from airflow_gradient.sandbox.sandbox import Sandbox

__all__ = [
    "Fault",
    "Faults",
    "NotFoundError",
    "RequestRecord",
    "Sandbox",
    "SandboxError",
    "ValidationError",
]
