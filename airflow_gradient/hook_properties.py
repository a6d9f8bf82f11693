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
#: Retry keys of ``databricks_hook_params`` → the argument that replaces each.
DEPRECATED_RETRY_KEYS = {
    "retry_limit": "databricks_retry_limit",
    "retry_delay": "databricks_retry_delay",
    "retry_args": "databricks_retry_args",
}


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
        hook_params: Mapping[str, Any] | None,
    ) -> None:
        """Keep the hook's keyword arguments in ``self.databricks_hook_params``.

        ``hook_params`` (the ``databricks_hook_params`` argument) holds the hook's other
        arguments (``timeout_seconds``, ``max_retry_after``). Retries in it (``retry_limit``,
        ``retry_delay``, ``retry_args``) still work for one release, with a deprecation
        warning, and win over the ``databricks_retry_*`` arguments.
        """
        params: dict[str, Any] = {"retry_limit": retry_limit, "retry_delay": retry_delay}
        if retry_args is not None:
            params["retry_args"] = dict(retry_args)
        given = dict(hook_params or {})
        retries = sorted(set(given) & set(DEPRECATED_RETRY_KEYS))
        if retries:
            warnings.warn(
                f"{self.task_id}: {', '.join(retries)} in databricks_hook_params is deprecated "
                "and removed in the next release: pass "
                + ", ".join(f"{DEPRECATED_RETRY_KEYS[key]}=" for key in retries)
                + " (as DatabricksRunNowOperator takes them).",
                AirflowProviderDeprecationWarning,
                stacklevel=4,
            )
        params.update(given)
        self.databricks_hook_params = params

    @cached_property
    def databricks_hook(self) -> GradientDatabricksHook:
        """Hook for Databricks jobs and notification destinations, built on the provider's
        ``DatabricksHook``."""
        from airflow_gradient.hooks.databricks import GradientDatabricksHook

        return GradientDatabricksHook(
            self.databricks_conn_id, caller=type(self).__name__, **self.databricks_hook_params
        )
