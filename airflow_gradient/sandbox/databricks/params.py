"""Reading Databricks requests: JSON bodies, query parameters, page windows and page tokens.

Malformed input raises :class:`~airflow_gradient.sandbox.routing.HttpError` with the reply
Databricks gives.
"""

from __future__ import annotations

import base64
import json
from typing import Any, NoReturn

from airflow_gradient.sandbox.routing import HttpError, Request, Response

PAGE_SIZE = 100


def fail(status: int, code: str, message: str) -> NoReturn:
    """Answer with a Databricks error ``{"error_code", "message"}``."""
    raise HttpError(Response(status, {"error_code": code, "message": message}))


def invalid(message: str) -> NoReturn:
    """Answer ``400 INVALID_PARAMETER_VALUE`` with ``message``."""
    fail(400, "INVALID_PARAMETER_VALUE", message)


def encode_token(payload: dict[str, Any]) -> str:
    """An opaque page token carrying ``payload`` (``k``: what is paged, ``o``/``p``: where)."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_token(token: str, kind: str) -> dict[str, Any]:
    """The payload of a page token for ``kind``; a 400 for anything else."""
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        invalid(f"Invalid page_token {token!r}")
    if not isinstance(payload, dict) or payload.get("k") != kind:
        invalid(f"Invalid page_token {token!r}")
    return payload


def page_window(params: dict[str, Any], kind: str, *, max_limit: int) -> tuple[int, int]:
    """``limit`` (1 to ``max_limit``, default 20) and the offset of a list request, taken from
    its ``page_token`` when there is one, else from ``offset``."""
    limit = as_int(params, "limit", 20)
    if not 1 <= limit <= max_limit:
        invalid(f"Invalid limit {limit}: must be between 1 and {max_limit}")
    token = params.get("page_token") or ""
    offset = decode_token(token, kind)["o"] if token else as_int(params, "offset", 0)
    return limit, offset


def page_arrays(
    container: dict[str, Any], names: tuple[str, ...], page: int
) -> tuple[dict[str, Any], bool]:
    """Slice the paged arrays of ``container`` to page ``page``; say if more follow."""
    out = dict(container)
    more = False
    for name in names:
        items = container.get(name)
        if not isinstance(items, list):
            continue
        chunk = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        if chunk:
            out[name] = chunk
        else:
            out.pop(name, None)
        more = more or len(items) > (page + 1) * PAGE_SIZE
    return out, more


def as_bool(value: Any) -> bool:
    """A query flag: ``true``/``1`` (any case) or a JSON boolean."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")


def as_int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    """``params[name]`` as an int (``default`` when absent; required when no default)."""
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            invalid(f"Missing required field: {name}")
        return default
    if isinstance(value, bool):
        invalid(f"Invalid value for {name}: {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        invalid(f"Invalid value for {name}: {value!r}")


def json_body(request: Request) -> dict[str, Any]:
    """The JSON object in the body (``{}`` when empty); a 400 ``MALFORMED_REQUEST`` else."""
    if not request.body.strip():
        return {}
    try:
        body = json.loads(request.body)
    except ValueError:
        fail(
            400,
            "MALFORMED_REQUEST",
            "Invalid JSON given in the body of the request - failed to parse given JSON",
        )
    if not isinstance(body, dict):
        fail(
            400,
            "MALFORMED_REQUEST",
            "Invalid JSON given in the body of the request - expected a JSON object",
        )
    return body


def query_params(request: Request) -> dict[str, Any]:
    """GET parameters: the query string, plus a JSON body (``aiohttp`` callers send one)."""
    params: dict[str, Any] = {}
    if request.body.strip():
        params.update(json_body(request))
    params.update(request.query)
    return params


def is_paged_api(request: Request) -> bool:
    """Whether the request is to API 2.2, which pages the arrays of jobs and runs."""
    return request.path.startswith("/api/2.2/")
