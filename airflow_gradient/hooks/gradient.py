"""GradientHook: the Gradient API endpoints the package uses, sync and async (triggers).

Each endpoint is one call of the transport in
:mod:`~airflow_gradient.hooks.gradient_base` (credentials, token, retries, reply envelopes)
and a check of the reply's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_gradient.exceptions import GradientError, GradientUnexpectedResponseError
from airflow_gradient.hooks.gradient_base import (
    DEFAULT_API_URL,
    RETRYABLE_METHODS,
    TOKEN_CACHE,
    TOKEN_EXPIRY_MARGIN,
    TOKEN_PATH,
    BaseGradientHook,
    GradientCredentials,
    credentials_from_connection,
)

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


class GradientHook(BaseGradientHook):
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

    def find_projects_for_job(self, job_id: int | str | None) -> list[dict[str, Any]]:
        """The projects that track Databricks job ``job_id``: ``GET /v1/projects``, keeping
        those whose ``job_id`` (a string in Gradient) equals ``str(job_id)``; ``None``: every
        project (one request either way).

        To find a project id: ``GradientHook().find_projects_for_job(123)``; the operators do
        it themselves when ``project_id`` is not given.
        """
        result = self._call("GET", "/v1/projects")
        if not isinstance(result, list):
            raise GradientUnexpectedResponseError(
                f"Gradient returned {type(result).__name__} instead of the list of projects "
                f"(looking for the ones tracking Databricks job {job_id})."
            )
        projects = [project for project in result if isinstance(project, dict)]
        if job_id is None:
            return projects
        wanted = str(job_id).strip()
        return [
            project
            for project in projects
            if project.get("job_id") is not None and str(project["job_id"]).strip() == wanted
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

    # --- health checks and reports (airflow-gradient doctor / report) ---------------------

    def get_cluster_template(self, project_id: str) -> dict[str, Any]:
        """``GET /v1/projects/{project_id}/cluster/template``: the ``sync:*`` tags and
        ``cluster_log_conf`` Gradient needs on the tuned cluster."""
        result = self._call("GET", f"/v1/projects/{project_id}/cluster/template")
        return expect_dict(result, "cluster template of project", project_id)

    def list_submissions(
        self, project_id: str, *, limit: int = 100, size: int = 25, max_pages: int = 40
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` submissions of a project (``GET .../paged/submissions``),
        newest first, following pages until ``limit`` or a short page."""
        items: list[dict[str, Any]] = []
        for page in range(max_pages):
            reply = self._call(
                "GET",
                f"/v1/projects/{project_id}/paged/submissions",
                params={"page": page, "size": size},
            )
            batch = reply.get("items") if isinstance(reply, dict) else None
            if not isinstance(batch, list):
                raise GradientUnexpectedResponseError(
                    f"Gradient answered the submissions of project {project_id} without an "
                    "items list."
                )
            items.extend(i for i in batch if isinstance(i, dict))
            if len(items) >= limit or len(batch) < size:
                break
        return items[:limit]

    # --- public API (async twins, for triggers) -------------------------------------------

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


def expect_dict(result: Any, what: str, ident: str) -> dict[str, Any]:
    """``result`` if it is an object; else an error naming ``what`` and ``ident``."""
    if not isinstance(result, dict):
        raise GradientUnexpectedResponseError(
            f"Gradient returned {type(result).__name__} instead of the {what} {ident}."
        )
    return result


def expect_recommendation_list(result: Any, project_id: str) -> list[dict[str, Any]]:
    """``result`` if it is a list (of recommendations); else an error naming the project."""
    if not isinstance(result, list):
        raise GradientUnexpectedResponseError(
            f"Gradient returned {type(result).__name__} instead of a list of recommendations "
            f"for project {project_id}."
        )
    return result


def first_in_state(items: list[Any], state: str, project_id: str) -> dict[str, Any] | None:
    """The first item in ``state`` (any case); an item that is not an object is an error, as
    it might be a newer recommendation in that state that cannot be read."""
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise GradientUnexpectedResponseError(
                f"Gradient listed a recommendation of project {project_id} that is not an "
                f"object (item {position}: {type(item).__name__}); cannot tell which is newest."
            )
        if str(item.get("state") or "").upper() == state.upper():
            return item
    return None
