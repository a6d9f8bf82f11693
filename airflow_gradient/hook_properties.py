"""The hooks an operator or sensor uses, built once per task from its connection arguments.

Mixins for operators and sensors: each expects the connection id and the hook keyword
arguments as attributes, and imports its hook only when first used, so DAG files that build
these tasks never import httpx clients or the databricks provider's hook modules.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_gradient.hooks.databricks import GradientDatabricksHook
    from airflow_gradient.hooks.gradient import GradientHook


class GradientHookProperty:
    """``self.gradient_hook`` from ``gradient_conn_id`` and ``gradient_hook_params``."""

    gradient_conn_id: str
    gradient_hook_params: dict[str, Any]

    @cached_property
    def gradient_hook(self) -> GradientHook:
        """Hook for the Gradient API."""
        from airflow_gradient.hooks.gradient import GradientHook

        return GradientHook(self.gradient_conn_id, **self.gradient_hook_params)


class DatabricksHookProperty:
    """``self.databricks_hook`` from ``databricks_conn_id`` and ``databricks_hook_params``."""

    databricks_conn_id: str
    databricks_hook_params: dict[str, Any]

    @cached_property
    def databricks_hook(self) -> GradientDatabricksHook:
        """Hook for Databricks jobs and notification destinations, built on the provider's
        ``DatabricksHook``."""
        from airflow_gradient.hooks.databricks import GradientDatabricksHook

        return GradientDatabricksHook(
            self.databricks_conn_id, caller=type(self).__name__, **self.databricks_hook_params
        )
