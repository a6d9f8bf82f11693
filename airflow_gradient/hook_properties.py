"""The hooks an operator or sensor uses, built once per task from its connection arguments.

Mixins for operators and sensors: each expects the connection id and the hook keyword
arguments as attributes, and imports its hook only when first used, so DAG files that build
these tasks never import httpx clients or the databricks provider's hook modules.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_gradient._compat import AirflowProviderDeprecationWarning

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


#: The Databricks retry defaults of ``DatabricksRunNowOperator`` (and of ``DatabricksHook``).
DEFAULT_DATABRICKS_RETRY_LIMIT = 3
DEFAULT_DATABRICKS_RETRY_DELAY = 1.0


class DatabricksHookProperty:
    """``self.databricks_hook`` from ``databricks_conn_id`` and the Databricks retry arguments
    (``databricks_retry_limit``/``_delay``/``_args``, as ``DatabricksRunNowOperator`` takes
    them; see :meth:`set_databricks_hook_params`)."""

    task_id: str
    databricks_conn_id: str
    databricks_hook_params: dict[str, Any]

    def set_databricks_hook_params(
        self,
        *,
        retry_limit: int,
        retry_delay: float,
        retry_args: Mapping[str, Any] | None,
        deprecated_params: Mapping[str, Any] | None,
    ) -> None:
        """Keep the hook's keyword arguments in ``self.databricks_hook_params``.

        ``deprecated_params`` (the old ``databricks_hook_params`` argument) still works for one
        release, with a deprecation warning; its keys win over the retry arguments.
        """
        params: dict[str, Any] = {"retry_limit": retry_limit, "retry_delay": retry_delay}
        if retry_args is not None:
            params["retry_args"] = dict(retry_args)
        if deprecated_params:
            warnings.warn(
                f"{self.task_id}: databricks_hook_params is deprecated and will be removed in "
                "the next release: pass databricks_retry_limit=, databricks_retry_delay= and "
                "databricks_retry_args= (as DatabricksRunNowOperator takes them).",
                AirflowProviderDeprecationWarning,
                stacklevel=4,
            )
            params.update(deprecated_params)
        self.databricks_hook_params = params

    @cached_property
    def databricks_hook(self) -> GradientDatabricksHook:
        """Hook for Databricks jobs and notification destinations, built on the provider's
        ``DatabricksHook``."""
        from airflow_gradient.hooks.databricks import GradientDatabricksHook

        return GradientDatabricksHook(
            self.databricks_conn_id, caller=type(self).__name__, **self.databricks_hook_params
        )
