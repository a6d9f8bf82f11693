"""The emulated Databricks workspace.

``backend`` holds the state and the Python API (``Sandbox.databricks``), ``routes`` the HTTP
endpoints, ``views`` what replies show of runs and destinations, ``runs`` a run's life over
time, ``merge`` what ``jobs/update`` does to settings.
"""

from __future__ import annotations

from airflow_gradient.sandbox.databricks.backend import DatabricksBackend
from airflow_gradient.sandbox.databricks.merge import merge_settings
from airflow_gradient.sandbox.databricks.routes import DatabricksRoutes

__all__ = ["DatabricksBackend", "DatabricksRoutes", "merge_settings"]
