"""HTTP side of the emulated Gradient (Sync Computing) API, as in ``docs/gradient-api.md``.

Every reply is the ``{"result": ...}`` envelope, every error
``{"error": {"code", "message", "detail"}}``. Tokens come from ``POST /v1/auth/token`` and
expire after ``token_lifetime`` seconds (or at once with
:meth:`~.backend.GradientBackend.expire_tokens`). State lives in
:class:`~.backend.GradientBackend`.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NoReturn

from airflow_gradient.sandbox.errors import NotFoundError, ValidationError
from airflow_gradient.sandbox.gradient.backend import GradientBackend
from airflow_gradient.sandbox.gradient.records import PRODUCTS, PROJECT_FIELDS, iso
from airflow_gradient.sandbox.routing import HttpError, Request, Response, Service


def _fail(status: int, code: str, message: str, detail: Any = None) -> NoReturn:
    raise HttpError(
        Response(status, {"error": {"code": code, "message": message, "detail": detail}})
    )


def _ok(result: Any, status: int = 200) -> Response:
    return Response(status, {"result": result})


def _body(request: Request) -> Any:
    if not request.body.strip():
        return {}
    try:
        return json.loads(request.body)
    except ValueError:
        _fail(400, "Bad Request", "Request body is not valid JSON")


def _object_body(request: Request) -> dict[str, Any]:
    body = _body(request)
    if not isinstance(body, dict):
        _fail(422, "Validation Error", "Request body must be a JSON object")
    return body


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        _fail(422, "Validation Error", f"{name} must be an integer in [{low}, {high}]")
    return value


class GradientRoutes(Service):
    """The Gradient REST endpoints over a :class:`GradientBackend`.

    :param backend: the Gradient state these routes read and change.
    """

    name = "gradient"

    def __init__(self, backend: GradientBackend) -> None:
        super().__init__()
        self.backend = backend
        r = self.router
        r.add("POST", "/v1/auth/token", self._token, public=True)
        r.add("GET", "/v1/projects/products", self._products)
        r.add("GET", "/v1/projects", self._list_projects)
        r.add("POST", "/v1/projects", self._create_project)
        r.add("GET", "/v1/projects/{project_id}", self._get_project)
        r.add("PUT", "/v1/projects/{project_id}", self._update_project)
        recs = "/v1/projects/{project_id}/recommendations"
        r.add("GET", recs, self._list_recommendations)
        r.add("POST", recs, self._request_recommendation)
        r.add("GET", recs + "/{recommendation_id}", self._get_recommendation)
        r.add("GET", "/v1/projects/{project_id}/cluster/template", self._cluster_template)
        r.add("GET", "/v1/projects/{project_id}/paged/submissions", self._list_submissions)
        r.add("GET", "/v1/databricks/workspaces/{workspace_id}", self._get_workspace)

    # --- envelopes and auth -------------------------------------------------------------

    def error(self, status: int, message: str, code: str | None = None) -> Response:
        """Gradient's envelope: ``{"error": {"code", "message", "detail"}}``."""
        if code is None:
            try:
                code = HTTPStatus(status).phrase
            except ValueError:
                code = "Error"
        return Response(status, {"error": {"code": code, "message": message, "detail": None}})

    def map_error(self, exc: Exception) -> Response | None:
        """Missing objects become 404 with the Gradient code; invalid input 422."""
        if isinstance(exc, NotFoundError):
            return self.error(exc.status, exc.message, exc.code or None)
        if isinstance(exc, ValidationError):
            return self.error(422, str(exc), "Validation Error")
        return None

    def authenticate(self, request: Request) -> None:
        """Accept a bearer token issued by ``/v1/auth/token`` and not yet expired."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            _fail(401, "Unauthorized", "Missing bearer token")
        expiry = self.backend.token_expiry(token)
        if expiry is None:
            _fail(401, "Unauthorized", "Invalid access token")
        if time.time() >= expiry:
            _fail(401, "Unauthorized", "Access token expired")

    def _token(self, request: Request) -> Response:
        body = _object_body(request)
        key_id, key_secret = body.get("api_key_id"), body.get("api_key_secret")
        if not isinstance(key_id, str) or not isinstance(key_secret, str):
            _fail(422, "Validation Error", "api_key_id and api_key_secret are required strings")
        if not self.backend.api_key_matches(key_id, key_secret):
            _fail(401, "Unauthorized", "Invalid API key id or secret")
        token, expiry = self.backend.issue_token()
        # Whole seconds, rounded down: a client never thinks the token lives longer than it does.
        expires = iso(datetime.fromtimestamp(int(expiry), UTC))
        return _ok({"access_token": token, "expires_at_utc": expires})

    # --- projects ------------------------------------------------------------------------

    def _products(self, request: Request) -> Response:
        return _ok(list(PRODUCTS))

    def _list_projects(self, request: Request) -> Response:
        app_id = request.query.get("app_id")
        projects = self.backend.projects
        return _ok([p for p in projects if app_id is None or p["app_id"] == app_id])

    def _create_project(self, request: Request) -> Response:
        body = _object_body(request)
        if not isinstance(body.get("name"), str):
            raise ValidationError("name is required")
        unknown = set(body) - (set(PROJECT_FIELDS) - {"project_model_id"})
        if unknown:
            raise ValidationError(f"Unknown or read-only project field {sorted(unknown)[0]!r}")
        return _ok(self.backend.create_project(**body))

    def _get_project(self, request: Request) -> Response:
        return _ok(self.backend.get_project(request.params["project_id"]))

    def _update_project(self, request: Request) -> Response:
        body = _object_body(request)
        return _ok(self.backend.update_project(request.params["project_id"], **body))

    # --- recommendations -----------------------------------------------------------------

    def _list_recommendations(self, request: Request) -> Response:
        page = _int_query(request, "page", 0, 0, 1_000_000)
        per_page = _int_query(request, "per_page", 25, 1, 100)
        project_id = request.params["project_id"]
        return _ok(self.backend.read_recommendations(project_id, page, per_page))

    def _get_recommendation(self, request: Request) -> Response:
        project_id = request.params["project_id"]
        recommendation_id = request.params["recommendation_id"]
        return _ok(self.backend.read_recommendation(project_id, recommendation_id))

    def _request_recommendation(self, request: Request) -> Response:
        _object_body(request)
        return _ok({"id": self.backend.request_recommendation(request.params["project_id"])})

    # --- workspaces and cluster templates ------------------------------------------------

    def _get_workspace(self, request: Request) -> Response:
        workspace_id = request.params["workspace_id"]
        workspace = self.backend.get_workspace(workspace_id)
        if workspace is None:
            raise NotFoundError(
                f"No Databricks workspace with id {workspace_id}",
                status=404,
                code="Workspace Not Found",
            )
        return _ok(workspace)

    def _list_submissions(self, request: Request) -> Response:
        # The one endpoint outside the {"result": ...} envelope (docs/gradient-api.md).
        page = _int_query(request, "page", 0, 0, 1_000_000)
        size = _int_query(request, "size", 25, 1, 100)
        project_id = request.params["project_id"]
        return Response(200, self.backend.read_submissions(project_id, page, size))

    def _cluster_template(self, request: Request) -> Response:
        return _ok(self.backend.cluster_template(request.params["project_id"]))
