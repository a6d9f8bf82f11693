"""GradientHook: every byte that crosses the network to the Gradient API.

Auth (token cached per process and credential), retries, timeouts, error envelopes and
paging live here and nowhere else. Sync methods use one ``httpx.Client`` per hook; the async
twins (for triggers) use ``httpx.AsyncClient`` and share all request-building and reply-parsing
code with them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import BaseHook

from airflow_gradient.exceptions import (
    GradientApiError,
    GradientAuthError,
    GradientError,
    GradientTransportError,
    GradientUnexpectedResponseError,
    InsecureConnectionError,
)

if TYPE_CHECKING:
    import httpx
    from airflow.sdk import Connection

DEFAULT_API_URL = "https://api.synccomputing.com"
TOKEN_PATH = "/v1/auth/token"
#: Renew a cached token this many seconds before Gradient says it expires.
TOKEN_EXPIRY_MARGIN = 30.0
#: Methods that are safe to send again after a failure: reads, and PUT (idempotent).
#: POST is never retried blindly (a recommendation request is not idempotent); the token
#: POST is the one exception, as it changes nothing on the server.
RETRYABLE_METHODS = frozenset({"GET", "PUT"})


@dataclass(frozen=True)
class GradientCredentials:
    """Where Gradient lives and the API key to reach it with (from an Airflow connection)."""

    base_url: str
    api_key_id: str
    api_key_secret: str

    @property
    def cache_key(self) -> tuple[str, str, str]:
        """Key of the token cache: the secret enters only as a digest."""
        digest = hashlib.sha256(self.api_key_secret.encode()).hexdigest()
        return (self.base_url, self.api_key_id, digest)


def credentials_from_connection(conn: Connection) -> GradientCredentials:
    """Read the base URL and API key from a ``gradient`` connection, refusing unsafe ones.

    Host may be a full URL (``https://api.synccomputing.com``) or a bare host name, in which
    case the connection's schema (default ``https``) and port complete it.
    """
    conn_id = conn.conn_id
    if not conn.login or not conn.password:
        raise GradientAuthError(
            f"Connection {conn_id!r} has no API key: set login to the Gradient API key ID and "
            "password to the API key secret."
        )
    base_url = _base_url(conn)
    scheme = urlsplit(base_url).scheme
    if scheme not in ("http", "https"):
        raise InsecureConnectionError(
            f"Connection {conn_id!r} has host {base_url!r}: only http(s) URLs are supported."
        )
    extra = conn.extra_dejson or {}
    allow_insecure = extra.get("allow_insecure_http") in (True, "true", "True", "1")
    host = urlsplit(base_url).hostname or ""
    if scheme == "http" and not _is_loopback(host) and not allow_insecure:
        raise InsecureConnectionError(
            f"Connection {conn_id!r} points at {base_url!r} over plain http: the API key would "
            "cross the network unencrypted. Use https, or set the extra "
            '{"allow_insecure_http": true} if you really mean it.'
        )
    return GradientCredentials(base_url, str(conn.login), str(conn.password))


def _base_url(conn: Connection) -> str:
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return DEFAULT_API_URL
    if "://" in host:
        return host
    scheme = conn.schema or "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # epoch seconds


class _TokenCache:
    """Tokens per credential, shared by every hook of the process; thread-safe."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str, str], now: float) -> str | None:
        token = self._tokens.get(key)
        if token is None or now >= token.expires_at - TOKEN_EXPIRY_MARGIN:
            return None
        return token.value

    def put(self, key: tuple[str, str, str], token: _Token) -> None:
        self._tokens[key] = token

    def discard(self, key: tuple[str, str, str], value: str) -> None:
        """Forget ``value`` unless another caller already replaced it with a newer token."""
        current = self._tokens.get(key)
        if current is not None and current.value == value:
            del self._tokens[key]

    def clear(self) -> None:
        self._tokens.clear()


TOKEN_CACHE = _TokenCache()


class _Retry(Exception):
    """Internal: a retryable failure; carries what to raise if the retries run out."""

    def __init__(self, error: GradientError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class GradientHook(BaseHook):
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
        from flask_babel import lazy_gettext
        from wtforms import BooleanField

        from airflow_gradient.get_provider_info import GRADIENT_CONN_FIELDS

        field = GRADIENT_CONN_FIELDS["allow_insecure_http"]
        return {
            "allow_insecure_http": BooleanField(
                lazy_gettext(field["label"]),
                description=lazy_gettext(field["description"]),
                default=field["schema"]["default"],
            ),
        }

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

    # --- connection and clients -----------------------------------------------------------

    @cached_property
    def credentials(self) -> GradientCredentials:
        """Credentials from the connection (sync lookup), masked in logs from here on."""
        creds = credentials_from_connection(self.get_connection(self.gradient_conn_id))
        _mask_credentials(creds)
        return creds

    def get_conn(self) -> httpx.Client:
        """Return the hook's ``httpx.Client`` (one per hook, explicit timeouts)."""
        return self._client

    @cached_property
    def _client(self) -> httpx.Client:
        import httpx

        return httpx.Client(timeout=httpx.Timeout(self.timeout), follow_redirects=False)

    def close(self) -> None:
        """Close the HTTP client, if one was opened."""
        if "_client" in self.__dict__:
            self._client.close()
            del self.__dict__["_client"]

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

    def list_projects(self, app_id: str | None = None) -> list[dict[str, Any]]:
        """``GET /v1/projects``, optionally filtered by ``app_id``."""
        params = {"app_id": app_id} if app_id else None
        return list(self._call("GET", "/v1/projects", params=params) or [])

    def get_project(self, project_id: str) -> dict[str, Any]:
        """``GET /v1/projects/{project_id}``."""
        return _expect_dict(self._call("GET", f"/v1/projects/{project_id}"), "project", project_id)

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
        return _expect_recommendation_list(result, project_id)

    def get_recommendation(self, project_id: str, recommendation_id: str) -> dict[str, Any]:
        """``GET /v1/projects/{project_id}/recommendations/{recommendation_id}``."""
        result = self._call("GET", f"/v1/projects/{project_id}/recommendations/{recommendation_id}")
        return _expect_dict(result, "recommendation", recommendation_id)

    def get_latest_recommendation(
        self, project_id: str, *, state: str = "SUCCESS", per_page: int = 20, max_pages: int = 5
    ) -> dict[str, Any] | None:
        """The newest recommendation in ``state``, paging past newer ones in other states.

        Looks at ``per_page * max_pages`` recommendations at most; ``None`` if none matched.
        """
        for page in range(max_pages):
            items = self.list_recommendations(project_id, page=page, per_page=per_page)
            found = _first_in_state(items, state, project_id)
            if found is not None:
                return found
            if len(items) < per_page:
                return None
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
        return _expect_dict(result, "workspace", workspace_id)

    def get_cluster_template(self, project_id: str) -> dict[str, Any]:
        """``GET /v1/projects/{project_id}/cluster/template``: a partial cluster spec."""
        result = self._call("GET", f"/v1/projects/{project_id}/cluster/template")
        return _expect_dict(result, "cluster template of project", project_id)

    # --- public API (async twins, for triggers) -------------------------------------------

    async def aget_recommendation(self, project_id: str, recommendation_id: str) -> dict[str, Any]:
        """Async :meth:`get_recommendation`."""
        path = f"/v1/projects/{project_id}/recommendations/{recommendation_id}"
        return _expect_dict(await self._acall("GET", path), "recommendation", recommendation_id)

    async def alist_recommendations(
        self, project_id: str, *, page: int = 0, per_page: int = 20
    ) -> list[dict[str, Any]]:
        """Async :meth:`list_recommendations`."""
        result = await self._acall(
            "GET",
            f"/v1/projects/{project_id}/recommendations",
            params={"page": page, "per_page": per_page},
        )
        return _expect_recommendation_list(result, project_id)

    async def aclose(self) -> None:
        """Close the async HTTP client, if one was opened."""
        client = self.__dict__.pop("_aclient", None)
        if client is not None:
            await client.aclose()

    # --- request machinery (sync) ---------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send an authenticated request; on 401 renew the token once and send it again.

        Token, renewal and every retry share one deadline (``total_timeout``): see
        :meth:`call_time_bound`.
        """
        creds = self.credentials
        deadline = time.monotonic() + self.total_timeout
        token = self._token(creds, deadline)
        try:
            return self._send(
                method, path, token=token, params=params, json=json, deadline=deadline
            )
        except GradientAuthError:
            TOKEN_CACHE.discard(creds.cache_key, token)
            token = self._token(creds, deadline)
            return self._send(
                method, path, token=token, params=params, json=json, deadline=deadline
            )

    def _token(self, creds: GradientCredentials, deadline: float | None = None) -> str:
        with TOKEN_CACHE.lock:
            cached = TOKEN_CACHE.get(creds.cache_key, time.time())
            if cached is not None:
                return cached
            body = {"api_key_id": creds.api_key_id, "api_key_secret": creds.api_key_secret}
            result = self._send(
                "POST", TOKEN_PATH, token=None, json=body, retry=True, deadline=deadline
            )
            return _store_token(creds, result, self.gradient_conn_id)

    def _send(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry: bool | None = None,
        deadline: float | None = None,
    ) -> Any:
        import httpx

        url = self.credentials.base_url + path
        headers = _headers(token)
        attempts = self.retry_limit if (retry or method in RETRYABLE_METHODS) else 1
        deadline = self._check_deadline(method, path, deadline)

        from tenacity import Retrying

        try:
            for attempt in Retrying(**self._retry_policy(attempts, deadline)):
                with attempt:
                    try:
                        response = self._client.request(
                            method, url, params=params, json=json, headers=headers
                        )
                    except httpx.TransportError as err:
                        raise _Retry(_transport_error(method, path, err)) from err
                    return _reply(method, path, response, conn_id=self.gradient_conn_id)
        except _Retry as failure:
            raise failure.error from failure.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    # --- request machinery (async) --------------------------------------------------------

    @cached_property
    def _aclient(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), follow_redirects=False)

    async def _acredentials(self) -> GradientCredentials:
        if self._async_credentials is None:
            from airflow.providers.common.compat.connection import get_async_connection

            conn = await get_async_connection(self.gradient_conn_id)
            self._async_credentials = credentials_from_connection(conn)
            _mask_credentials(self._async_credentials)
        return self._async_credentials

    async def _acall(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        creds = await self._acredentials()
        deadline = time.monotonic() + self.total_timeout
        token = await self._atoken(creds, deadline)
        try:
            return await self._asend(
                creds, method, path, token=token, params=params, json=json, deadline=deadline
            )
        except GradientAuthError:
            TOKEN_CACHE.discard(creds.cache_key, token)
            token = await self._atoken(creds, deadline)
            return await self._asend(
                creds, method, path, token=token, params=params, json=json, deadline=deadline
            )

    async def _atoken(self, creds: GradientCredentials, deadline: float | None = None) -> str:
        cached = TOKEN_CACHE.get(creds.cache_key, time.time())
        if cached is not None:
            return cached
        body = {"api_key_id": creds.api_key_id, "api_key_secret": creds.api_key_secret}
        result = await self._asend(
            creds, "POST", TOKEN_PATH, token=None, json=body, retry=True, deadline=deadline
        )
        return _store_token(creds, result, self.gradient_conn_id)

    async def _asend(
        self,
        creds: GradientCredentials,
        method: str,
        path: str,
        *,
        token: str | None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry: bool | None = None,
        deadline: float | None = None,
    ) -> Any:
        import httpx
        from tenacity import AsyncRetrying

        attempts = self.retry_limit if (retry or method in RETRYABLE_METHODS) else 1
        deadline = self._check_deadline(method, path, deadline)
        try:
            async for attempt in AsyncRetrying(**self._retry_policy(attempts, deadline)):
                with attempt:
                    try:
                        response = await self._aclient.request(
                            method,
                            creds.base_url + path,
                            params=params,
                            json=json,
                            headers=_headers(token),
                        )
                    except httpx.TransportError as err:
                        raise _Retry(_transport_error(method, path, err)) from err
                    return _reply(method, path, response, conn_id=self.gradient_conn_id)
        except _Retry as failure:
            raise failure.error from failure.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    # --- shared helpers -------------------------------------------------------------------

    def call_time_bound(self) -> float:
        """Most seconds one API call can take: token, one renewal, retries and waits included.

        No attempt starts after ``total_timeout`` (counted from the start of the call), and an
        attempt lasts at most ``2 * timeout`` (connect, then the reply; a server that trickles
        bytes can stretch a read timeout, which Airflow's ``execution_timeout`` backs up).
        """
        return self.total_timeout + 2.0 * self.timeout

    def _check_deadline(self, method: str, path: str, deadline: float | None) -> float:
        """The deadline of a request: the call's, or a new one; refuse to start past it."""
        if deadline is None:
            return time.monotonic() + self.total_timeout
        if time.monotonic() >= deadline:
            raise GradientTransportError(
                f"Gradient API {method} {path} was not sent: the call already took its "
                f"total_timeout of {self.total_timeout:g} s (token, retries and waits included)."
            )
        return deadline

    def _retry_policy(self, attempts: int, deadline: float) -> dict[str, Any]:
        """``tenacity`` settings for one request: retry ``_Retry`` failures only, wait the
        ``Retry-After`` the server asks for (capped at ``max_retry_after``) or back off
        exponentially, and stop when the attempts are spent or the wait would cross the
        call's deadline. The last failure is re-raised as it is."""
        from tenacity import RetryCallState, retry_if_exception_type

        def wait(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            after = failure.retry_after if isinstance(failure, _Retry) else None
            if after is not None:
                return min(max(after, 0.0), self.max_retry_after)
            backoff = float(self.retry_delay * 2 ** (state.attempt_number - 1))
            return min(backoff, self.max_retry_after)

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= attempts or time.monotonic() + wait(state) > deadline

        return {
            "retry": retry_if_exception_type(_Retry),
            "wait": wait,
            "stop": stop,
            "reraise": True,
        }


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "airflow-gradient"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _transport_error(method: str, path: str, err: Exception) -> GradientTransportError:
    return GradientTransportError(
        f"Gradient API {method} {path} could not be reached: {type(err).__name__}. Check the "
        "connection's host and the network; the call is retried only when it is safe to repeat."
    )


def _reply(method: str, path: str, response: httpx.Response, *, conn_id: str) -> Any:
    """Return the ``result`` of a reply, or raise its error (``_Retry`` when retryable)."""
    status = response.status_code
    body = _json_or_none(response)
    if 200 <= status < 300:
        if status == 204:
            return None
        if not isinstance(body, dict) or "result" not in body:
            raise GradientUnexpectedResponseError(
                f"Gradient API {method} {path} answered HTTP {status} with "
                f"{_describe_body(response, body)} instead of a {{'result': ...}} envelope. Is the "
                f"host of connection {conn_id!r} the Gradient API?",
                status=status,
            )
        return body["result"]

    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        unexpected = GradientUnexpectedResponseError(
            f"Gradient API {method} {path} failed with HTTP {status} and "
            f"{_describe_body(response, body)} (no error envelope). Is the host of connection "
            f"{conn_id!r} the Gradient API?",
            status=status,
        )
        if status == 429 or status >= 500:
            raise _Retry(unexpected, _retry_after(response))
        raise unexpected

    code = str(error.get("code") or "")
    api_message = str(error.get("message") or "")
    detail = error.get("detail")
    if status in (401, 403):
        if path == TOKEN_PATH:
            raise GradientAuthError(
                f"Gradient refused the API key of connection {conn_id!r} (HTTP {status} {code}: "
                f"{api_message}). Check that login holds the API key ID and password the API key "
                "secret, and that the key is still active.",
                status=status,
                code=code,
                api_message=api_message,
                detail=detail,
            )
        raise GradientAuthError(
            f"Gradient API {method} {path} was not authorized (HTTP {status} {code}: "
            f"{api_message}) even with a fresh token. Check the API key of connection {conn_id!r}.",
            status=status,
            code=code,
            api_message=api_message,
            detail=detail,
        )
    api_error = GradientApiError(
        f"Gradient API {method} {path} failed with HTTP {status} {code}: {api_message}",
        status=status,
        code=code,
        api_message=api_message,
        detail=detail,
    )
    if status == 429 or status >= 500:
        raise _Retry(api_error, _retry_after(response))
    raise api_error


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _describe_body(response: httpx.Response, body: Any) -> str:
    if body is None:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return f"a non-JSON body ({kind}, {len(response.content)} bytes)"
    return f"JSON of type {type(body).__name__}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _store_token(creds: GradientCredentials, result: Any, conn_id: str) -> str:
    """Read a token reply, mask the token and cache it for the credential; return it."""
    token = _token_from_result(result, conn_id)
    _mask(token.value)
    TOKEN_CACHE.put(creds.cache_key, token)
    return token.value


def _token_from_result(result: Any, conn_id: str) -> _Token:
    token = result.get("access_token") if isinstance(result, dict) else None
    expires = result.get("expires_at_utc") if isinstance(result, dict) else None
    if not isinstance(token, str) or not token:
        raise GradientUnexpectedResponseError(
            f"Gradient's token reply for connection {conn_id!r} has no access_token."
        )
    return _Token(token, _parse_expiry(expires))


def _parse_expiry(value: Any) -> float:
    """Epoch seconds of an ISO-8601 UTC time; a token with no readable expiry lives 5 minutes."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    return time.time() + 300.0


def _first_in_state(items: list[Any], state: str, project_id: str) -> dict[str, Any] | None:
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


def _expect_recommendation_list(result: Any, project_id: str) -> list[dict[str, Any]]:
    if not isinstance(result, list):
        raise GradientUnexpectedResponseError(
            f"Gradient returned {type(result).__name__} instead of a list of recommendations "
            f"for project {project_id}."
        )
    return result


def _expect_dict(result: Any, what: str, ident: str) -> dict[str, Any]:
    if not isinstance(result, dict):
        raise GradientUnexpectedResponseError(
            f"Gradient returned {type(result).__name__} instead of the {what} {ident}."
        )
    return result


def _mask_credentials(creds: GradientCredentials) -> None:
    """Mask the key id as well as the secret: together they are the credential."""
    _mask(creds.api_key_id)
    _mask(creds.api_key_secret)


def _mask(secret: str) -> None:
    from airflow_gradient._compat import mask_secret

    mask_secret(secret)
