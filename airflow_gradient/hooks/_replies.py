"""Reading Gradient's replies: the ``{"result": ...}`` and ``{"error": ...}`` envelopes.

Shared by the sync and async sends of :class:`~airflow_gradient.hooks.gradient.GradientHook`:
a reply becomes its ``result``, a permanent error, or a :class:`RetryableFailure` (429, 5xx,
a transport error) carrying the error to raise once the retries run out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from airflow_gradient.exceptions import (
    GradientApiError,
    GradientAuthError,
    GradientError,
    GradientTransportError,
    GradientUnexpectedResponseError,
)
from airflow_gradient.hooks._retry_after import parse_retry_after
from airflow_gradient.hooks._token import TOKEN_PATH


class Response(Protocol):
    """What is read of a reply: an ``httpx.Response`` (sync) or an async
    :class:`~airflow_gradient.hooks._async_client.Reply`."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def content(self) -> bytes: ...
    def json(self) -> Any: ...


class RetryableFailure(Exception):
    """A failure worth another attempt; carries what to raise if the retries run out.

    :param reason: a short, secret-free reason for the retry log (``HTTP 503 code``, or the
        transport error's type).
    :param retry_after: seconds the server asked to wait (``Retry-After``), if any.
    """

    def __init__(self, error: GradientError, reason: str, retry_after: float | None = None):
        super().__init__(str(error))
        self.error = error
        self.reason = reason
        self.retry_after = retry_after


def transport_failure(method: str, path: str, err: Exception) -> RetryableFailure:
    """A request that got no reply (connect, read or write failed)."""
    error = GradientTransportError(
        f"Gradient API {method} {path} could not be reached: {type(err).__name__}. Check the "
        "connection's host and the network; the call is retried only when it is safe to repeat."
    )
    return RetryableFailure(error, type(err).__name__)


UNENVELOPED_SUFFIX = "/paged/submissions"
"""Paths ending so answer ``{"items": [...]}`` without the ``result`` envelope."""


def reply_result(method: str, path: str, response: Response, *, conn_id: str) -> Any:
    """Return the ``result`` of a reply, or raise its error (:class:`RetryableFailure` when
    retryable). ``paged/submissions`` is returned whole: it has no envelope."""
    status = response.status_code
    body = _json_or_none(response)
    if 200 <= status < 300:
        if status == 204:
            return None
        if path.endswith(UNENVELOPED_SUFFIX) and isinstance(body, dict) and "items" in body:
            return body
        if not isinstance(body, dict) or "result" not in body:
            raise GradientUnexpectedResponseError(
                f"Gradient API {method} {path} answered HTTP {status} with "
                f"{_describe_body(response, body)} instead of a {{'result': ...}} envelope. Is the "
                f"host of connection {conn_id!r} the Gradient API?",
                status=status,
            )
        return body["result"]

    retry_after = parse_retry_after(response.headers.get("retry-after"))
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        unexpected = GradientUnexpectedResponseError(
            f"Gradient API {method} {path} failed with HTTP {status} and "
            f"{_describe_body(response, body)} (no error envelope). Is the host of connection "
            f"{conn_id!r} the Gradient API?",
            status=status,
        )
        if status == 429 or status >= 500:
            raise RetryableFailure(unexpected, f"HTTP {status}", retry_after)
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
        raise RetryableFailure(api_error, f"HTTP {status} {code}".rstrip(), retry_after)
    raise api_error


def expect_dict(result: Any, what: str, ident: str) -> dict[str, Any]:
    """``result`` if it is an object; else an error naming ``what`` and ``ident``."""
    if not isinstance(result, dict):
        raise GradientUnexpectedResponseError(
            f"Gradient returned {type(result).__name__} instead of the {what} {ident}."
        )
    return result


def expect_recommendation_list(result: Any, project_id: str) -> list[dict[str, Any]]:
    """``result`` if it is a list; else an error naming the project."""
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


def _json_or_none(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _describe_body(response: Response, body: Any) -> str:
    if body is None:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return f"a non-JSON body ({kind}, {len(response.content)} bytes)"
    return f"JSON of type {type(body).__name__}"
