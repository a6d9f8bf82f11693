"""GradientHook: every byte that crosses the network to the Gradient API.

This module holds the public API (the Gradient endpoints the package uses). The rest lives
beside it: ``_transport`` (the base class: request building, retry policy, the sync and async
send loops), ``_credentials`` (the connection, the plain-http refusal), ``_token`` (the token
cache per process and credential, renewed once on 401), ``_replies`` (envelopes and reply
checks) and ``_retries`` (``Retry-After`` and the WARNING line of each retry). Sync methods use
one ``httpx.Client`` per hook; the async twins (for triggers) share an ``aiohttp`` session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_gradient.exceptions import (
    GradientError,
    GradientUnexpectedResponseError,
)
from airflow_gradient.hooks._credentials import (
    DEFAULT_API_URL,
    GradientCredentials,
    credentials_from_connection,
)
from airflow_gradient.hooks._replies import (
    expect_dict,
    expect_recommendation_list,
    first_in_state,
)
from airflow_gradient.hooks._token import (
    TOKEN_CACHE,
    TOKEN_EXPIRY_MARGIN,
    TOKEN_PATH,
)
from airflow_gradient.hooks._transport import RETRYABLE_METHODS, GradientTransport

__all__ = [
    "DEFAULT_API_URL",
    "RETRYABLE_METHODS",
    "TOKEN_CACHE",
    "TOKEN_EXPIRY_MARGIN",
    "TOKEN_PATH",
    "GradientCredentials",
    "GradientHook",
    "credentials_from_connection",
]


class GradientHook(GradientTransport):
    """Talk to the Gradient (Sync Computing) REST API with an API key from a connection.

    :param gradient_conn_id: connection of type ``gradient``: host = API base URL (default
        ``https://api.synccomputing.com``), login = API key ID, password = API key secret.
    :param timeout: seconds for each HTTP request (connect, read, write).
    :param retry_limit: attempts for a retryable request (GET, PUT, the token call) in all.
    :param retry_delay: first back-off in seconds; doubles after each failure.
    :param max_retry_after: cap in seconds on a ``Retry-After`` the server asks for.
    :param total_timeout: bound in seconds on one call including its token, retries and
        waits (see :meth:`call_time_bound`).
    """

    conn_name_attr = "gradient_conn_id"
    default_conn_name = "gradient_default"
    conn_type = "gradient"
    hook_name = "Gradient"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra connection form fields, for Airflow 3.0/3.1.

        Airflow ≥ 3.2 reads ``conn-fields`` from the provider info instead; both come from
        :data:`airflow_gradient.get_provider_info.GRADIENT_CONN_FIELDS`.
        """
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, StringField

        from airflow_gradient.get_provider_info import GRADIENT_CONN_FIELDS

        widgets: dict[str, Any] = {}
        for name, field in GRADIENT_CONN_FIELDS.items():
            label = lazy_gettext(field["label"])
            description = lazy_gettext(field["description"])
            if field["schema"]["type"] == "boolean":
                widgets[name] = BooleanField(
                    label, description=description, default=field["schema"]["default"]
                )
            else:
                widgets[name] = StringField(
                    label, description=description, widget=BS3TextFieldWidget()
                )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder standard fields, for Airflow 3.0/3.1.

        Airflow ≥ 3.2 reads ``ui-field-behaviour`` from the provider info instead; both come
        from :data:`airflow_gradient.get_provider_info.GRADIENT_UI_FIELD_BEHAVIOUR`.
        """
        from airflow_gradient.get_provider_info import GRADIENT_UI_FIELD_BEHAVIOUR as BEHAVIOUR

        return {
            "hidden_fields": list(BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(BEHAVIOUR["relabeling"]),
            "placeholders": dict(BEHAVIOUR["placeholders"]),
        }

    def __init__(
        self,
        gradient_conn_id: str = default_conn_name,
        *,
        timeout: float = 30.0,
        retry_limit: int = 4,
        retry_delay: float = 0.5,
        max_retry_after: float = 30.0,
        total_timeout: float = 120.0,
    ) -> None:
        super().__init__()
        if retry_limit < 1:
            raise ValueError("retry_limit must be at least 1")
        self.gradient_conn_id = gradient_conn_id
        self.timeout = timeout
        self.retry_limit = retry_limit
        self.retry_delay = retry_delay
        self.max_retry_after = max_retry_after
        self.total_timeout = total_timeout
        self._async_credentials: GradientCredentials | None = None

    # --- public API (sync) ----------------------------------------------------------------

    def get_products(self) -> list[str]:
        """``GET /v1/projects/products``: the products the key may use."""
        return list(self._call("GET", "/v1/projects/products") or [])

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: one authenticated read."""
        try:
            products = self.get_products()
        except GradientError as err:
            return False, str(err)
        return True, f"Connected to Gradient; products: {', '.join(products) or 'none'}"

    def get_project(self, project_id: str) -> dict[str, Any]:
        """``GET /v1/projects/{project_id}``."""
        return expect_dict(self._call("GET", f"/v1/projects/{project_id}"), "project", project_id)

    def find_projects_for_job(self, job_id: int | str) -> list[dict[str, Any]]:
        """The projects that track Databricks job ``job_id``: ``GET /v1/projects``, keeping
        those whose ``job_id`` (a string in Gradient) equals ``str(job_id)``.

        To find a project id: ``GradientHook().find_projects_for_job(123)``; the operators do
        it themselves when ``project_id`` is not given.
        """
        result = self._call("GET", "/v1/projects")
        if not isinstance(result, list):
            raise GradientUnexpectedResponseError(
                f"Gradient returned {type(result).__name__} instead of the list of projects "
                f"(looking for the ones tracking Databricks job {job_id})."
            )
        wanted = str(job_id).strip()
        return [
            project
            for project in result
            if isinstance(project, dict)
            and project.get("job_id") is not None
            and str(project["job_id"]).strip() == wanted
        ]

    def update_project(self, project_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1/projects/{project_id}`` with a partial body."""
        result = self._call("PUT", f"/v1/projects/{project_id}", json=dict(fields))
        return result if isinstance(result, dict) else {}

    def list_recommendations(
        self, project_id: str, *, page: int = 0, per_page: int = 20
    ) -> list[dict[str, Any]]:
        """One page of a project's recommendations, newest first, any state."""
        result = self._call(
            "GET",
            f"/v1/projects/{project_id}/recommendations",
            params={"page": page, "per_page": per_page},
        )
        return expect_recommendation_list(result, project_id)

    def get_recommendation(self, project_id: str, recommendation_id: str) -> dict[str, Any]:
        """``GET /v1/projects/{project_id}/recommendations/{recommendation_id}``."""
        result = self._call("GET", f"/v1/projects/{project_id}/recommendations/{recommendation_id}")
        return expect_dict(result, "recommendation", recommendation_id)

    def get_latest_recommendation(
        self, project_id: str, *, state: str = "SUCCESS", per_page: int = 20, max_pages: int = 5
    ) -> dict[str, Any] | None:
        """The newest recommendation in ``state``, paging past newer ones in other states.

        Looks at ``per_page * max_pages`` recommendations at most (100 by default); ``None``
        if none matched. When every page read was full, older recommendations were left
        unread: a WARNING says that the limit was reached, so "none" is not taken for a fact.
        """
        for page in range(max_pages):
            items = self.list_recommendations(project_id, page=page, per_page=per_page)
            found = first_in_state(items, state, project_id)
            if found is not None:
                return found
            if len(items) < per_page:
                return None
        self.log.warning(
            "Gradient project %s: none of its newest %s recommendations (%s pages of %s) is "
            "%s, and older ones were not read (the paging limit was reached). Requests keep "
            "failing or staying pending: check the project in Gradient.",
            project_id,
            per_page * max_pages,
            max_pages,
            per_page,
            state,
        )
        return None

    def request_recommendation(self, project_id: str) -> str:
        """``POST /v1/projects/{project_id}/recommendations``: ask for a new one; returns its id.

        Never retried: a second POST would create a second recommendation.
        """
        result = self._call("POST", f"/v1/projects/{project_id}/recommendations", json={})
        rec_id = result.get("id") if isinstance(result, dict) else None
        if not isinstance(rec_id, str) or not rec_id:
            raise GradientUnexpectedResponseError(
                f"Gradient accepted the recommendation request for project {project_id} but "
                "returned no id."
            )
        return rec_id

    def get_workspace(self, workspace_id: str) -> dict[str, Any]:
        """``GET /v1/databricks/workspaces/{workspace_id}`` (has ``webhook_id``)."""
        result = self._call("GET", f"/v1/databricks/workspaces/{workspace_id}")
        return expect_dict(result, "workspace", workspace_id)

    # --- public API (async twins, for triggers) -------------------------------------------

    async def aget_recommendation(self, project_id: str, recommendation_id: str) -> dict[str, Any]:
        """Async :meth:`get_recommendation`."""
        path = f"/v1/projects/{project_id}/recommendations/{recommendation_id}"
        return expect_dict(await self._acall("GET", path), "recommendation", recommendation_id)

    async def alist_recommendations(
        self, project_id: str, *, page: int = 0, per_page: int = 20
    ) -> list[dict[str, Any]]:
        """Async :meth:`list_recommendations`."""
        result = await self._acall(
            "GET",
            f"/v1/projects/{project_id}/recommendations",
            params={"page": page, "per_page": per_page},
        )
        return expect_recommendation_list(result, project_id)
