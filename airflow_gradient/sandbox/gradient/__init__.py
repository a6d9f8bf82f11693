"""The emulated Gradient API.

``backend`` holds the state and the Python API (``Sandbox.gradient``), ``routes`` the HTTP
endpoints, ``records`` what is stored and how it is shown, ``generation`` how a
recommendation is made up (with the sandbox's own, independent cluster rule).
"""

from __future__ import annotations

from airflow_gradient.sandbox.gradient.backend import GradientBackend
from airflow_gradient.sandbox.gradient.generation import find_tuned_cluster
from airflow_gradient.sandbox.gradient.routes import GradientRoutes

__all__ = ["GradientBackend", "GradientRoutes", "find_tuned_cluster"]
