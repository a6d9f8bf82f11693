"""Retries as both hooks do them: ``Retry-After``, the retry log line, and the tenacity
pieces the Databricks hook adds to the provider's policy (a wait that honours ``Retry-After``,
and the bound of a policy's attempts and waits).

Every retry is logged at WARNING with the attempt that failed, why (an HTTP status and error
code, or the transport error's type) and the wait before the next attempt. The reason is built
from the status, the error code and the exception type only, never from a reply body or a
header, so no secret can reach the log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow_gradient.hooks._retry_after import bounded_wait, parse_retry_after


class WarningLog(Protocol):
    """What :func:`log_retry` needs of a logger (stdlib or Airflow's)."""

    def warning(self, msg: str, /, *args: Any) -> Any: ...


def log_retry(
    log: WarningLog,
    *,
    service: str,
    call: str,
    attempt: int,
    reason: str,
    wait: float,
) -> None:
    """One WARNING line for one retry: ``call`` failed on ``attempt`` for ``reason``."""
    log.warning(
        "%s %s failed on attempt %s (%s); retrying in %.2f s",
        service,
        call,
        attempt,
        reason,
        wait,
    )


def http_failure_reason(error: BaseException | None) -> str:
    """``HTTP <status>`` (plus the Databricks ``error_code`` when the reply has one), or the
    exception's type name when no reply came back (requests or aiohttp errors)."""
    if error is None:
        return "no error"
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None) or getattr(error, "status", None)
    if not isinstance(status, int):
        return type(error).__name__
    code = ""
    if response is not None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("error_code"):
            code = f" {body['error_code']}"
    return f"HTTP {status}{code}"


def http_request_name(error: BaseException | None) -> str:
    """``METHOD /path`` of the request behind a requests error (the query left out)."""
    request = getattr(error, "request", None)
    if request is None:
        request = getattr(getattr(error, "response", None), "request", None)
    method = getattr(request, "method", None)
    url = getattr(request, "url", None)
    if not method or not isinstance(url, str):
        return "API request"
    return f"{method} {urlsplit(url).path}"


class HonourRetryAfter:
    """A tenacity wait: the wrapped wait, or the server's ``Retry-After`` if longer (capped).

    The provider's back-off stays the floor, so a ``Retry-After`` of ``0`` or a negative one
    ("retry now") leaves the provider's wait as it is.
    """

    def __init__(self, base: Callable[[Any], float] | None, cap: float) -> None:
        self.base = base
        self.cap = cap

    def __call__(self, retry_state: Any) -> float:
        wait = float(self.base(retry_state)) if self.base is not None else 0.0
        outcome = retry_state.outcome
        asked = exception_retry_after(outcome.exception() if outcome is not None else None)
        if asked is not None:
            wait = max(wait, bounded_wait(asked, 0.0, max_retry_after=self.cap))
        return bounded_wait(None, wait, max_retry_after=max(self.cap, wait))


def exception_retry_after(exception: BaseException | None) -> float | None:
    """Seconds of the ``Retry-After`` header of a failed request (requests or aiohttp)."""
    if exception is None:
        return None
    response = getattr(exception, "response", None)
    headers = getattr(response, "headers", None) or getattr(exception, "headers", None)
    return parse_retry_after(headers.get("Retry-After") if headers is not None else None)


def attempts_and_waits(
    retry_args: Mapping[str, Any], max_retry_after: float
) -> tuple[int | None, list[float] | None]:
    """Attempts of a tenacity ``stop_after_attempt`` and the longest wait after each failure."""
    from tenacity import stop_after_attempt, wait_exponential, wait_fixed

    stop = retry_args.get("stop")
    if not isinstance(stop, stop_after_attempt):
        return None, None
    attempts = int(stop.max_attempt_number)
    wait = retry_args.get("wait")
    base = wait.base if isinstance(wait, HonourRetryAfter) else wait
    waits: list[float] = []
    for attempt in range(1, attempts):
        if base is None:
            one = 0.0
        elif isinstance(base, wait_exponential):
            raw = base.multiplier * base.exp_base ** (attempt - 1)
            one = max(0.0, base.min, min(raw, base.max))
        elif isinstance(base, wait_fixed):
            one = float(base.wait_fixed)
        else:
            return attempts, None
        if isinstance(wait, HonourRetryAfter):
            one = max(one, max_retry_after)
        waits.append(float(one))
    return attempts, waits
