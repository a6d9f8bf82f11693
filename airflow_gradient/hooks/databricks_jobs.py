"""Databricks job access for Gradient, built on the databricks provider's ``DatabricksHook``.

Subclassing keeps every auth mode of the provider (PAT, Azure SPN, managed identity, OAuth
M2M, federated tokens) and its retry policy; this module adds only what the provider lacks:
reading a whole job (``jobs/get`` is paged at 100 items) and a cluster-only ``jobs/update``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow.providers.databricks.hooks.databricks import DatabricksHook

from airflow_gradient.exceptions import DatabricksJobError

GET_JOB_ENDPOINT = ("GET", "2.2/jobs/get")
UPDATE_JOB_ENDPOINT = ("POST", "2.2/jobs/update")
#: Arrays of ``settings`` that ``jobs/get`` pages (100 items a page).
PAGED_ARRAYS = ("tasks", "job_clusters", "parameters", "environments")
#: Guard against a server that never stops handing out page tokens.
MAX_JOB_PAGES = 100


def read_paged_job(fetch: Callable[[str | None], Mapping[str, Any]], job_id: int) -> dict[str, Any]:
    """Return a whole ``jobs/get`` reply, following ``next_page_token`` and joining the arrays.

    :param fetch: calls ``jobs/get`` with the given page token (``None`` for the first page).
    """
    first = dict(fetch(None))
    settings = dict(first.get("settings") or {})
    token = first.get("next_page_token")
    pages = 1
    while token:
        if pages >= MAX_JOB_PAGES:
            raise DatabricksJobError(
                f"Databricks job {job_id}: jobs/get returned more than {MAX_JOB_PAGES} pages; "
                "stopped reading. Is the workspace URL a Databricks workspace?"
            )
        page = fetch(str(token))
        page_settings = page.get("settings") or {}
        for key in PAGED_ARRAYS:
            if page_settings.get(key):
                settings[key] = list(settings.get(key) or []) + list(page_settings[key])
        token = page.get("next_page_token")
        pages += 1
    first.pop("next_page_token", None)
    first["settings"] = settings
    return first


class DatabricksJobsHook(DatabricksHook):
    """``DatabricksHook`` plus a paged ``get_job`` and a settings-only ``update_job_settings``."""

    hook_name = "Databricks (Gradient job access)"

    def get_job(self, job_id: int) -> dict[str, Any]:
        """``jobs/get`` with every page of tasks, job clusters, parameters and environments."""

        def fetch(page_token: str | None) -> Mapping[str, Any]:
            params: dict[str, Any] = {"job_id": job_id}
            if page_token:
                params["page_token"] = page_token
            reply = self._do_api_call(GET_JOB_ENDPOINT, params)
            if not isinstance(reply, dict) or not isinstance(reply.get("settings"), dict):
                raise DatabricksJobError(
                    f"Databricks job {job_id}: jobs/get returned no settings object. Check that "
                    "the Databricks connection points at a Databricks workspace."
                )
            return reply

        return read_paged_job(fetch, job_id)

    def update_job_settings(self, job_id: int, new_settings: Mapping[str, Any]) -> None:
        """``jobs/update`` (never ``jobs/reset``): Databricks merges ``tasks`` and
        ``job_clusters`` by key and leaves every field that is not sent as it was."""
        self._do_api_call(
            UPDATE_JOB_ENDPOINT, {"job_id": job_id, "new_settings": dict(new_settings)}
        )

    def job_url(self, job_id: int) -> str:
        """The job's page in the Databricks workspace."""
        url: str = self._endpoint_url(f"jobs/{job_id}")  # type: ignore[no-untyped-call]
        return url

    def resolve_job_id(self, *, job_id: int | str | None, job_name: str | None) -> int:
        """The numeric job id, looked up by name when only ``job_name`` is given."""
        if job_id not in (None, ""):
            try:
                return int(job_id)
            except (TypeError, ValueError):
                raise DatabricksJobError(
                    f"job_id {job_id!r} is not a Databricks job id (an integer)."
                ) from None
        if not job_name:
            raise DatabricksJobError("Give job_id or job_name of the Databricks job to update.")
        found = self.find_job_id_by_name(job_name)
        if found is None:
            raise DatabricksJobError(
                f"No Databricks job is named {job_name!r}. Check the name, or pass job_id."
            )
        return int(found)
