"""The one reading of a ``Retry-After`` header, shared by the Gradient and Databricks hooks.

RFC 9110 allows two forms: a number of seconds (``"2"``) and an HTTP-date
(``"Wed, 02 Dec 2026 10:00:00 GMT"``). Servers also send garbage; each case has one answer:

=========================== ==========================================================
header                      seconds asked for
=========================== ==========================================================
absent, empty, text         ``None``: the hook's own back-off applies
``nan``, ``inf``, ``-inf``  ``None``: not a number of seconds, the back-off applies
negative (``"-3"``)         ``0.0``: retry now
HTTP-date in the past       ``0.0``: retry now
HTTP-date in the future     the seconds until then
=========================== ==========================================================

:func:`bounded_wait` then turns what was asked into the wait actually slept: always finite,
never negative, at most ``max_retry_after`` and never past the call's deadline.
"""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime
from typing import Any


def parse_retry_after(value: Any, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait, or ``None`` if it asks nothing readable.

    :param value: the header value (``str``), or a number.
    :param now: the wall-clock time (``time.time()``) an HTTP-date is counted from.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _seconds(float(value))
    text = str(value).strip()
    if not text:
        return None
    try:
        return _seconds(float(text))
    except ValueError:
        pass
    return _until_http_date(text, time.time() if now is None else now)


def bounded_wait(
    asked: float | None,
    backoff: float,
    *,
    max_retry_after: float,
    remaining: float | None = None,
) -> float:
    """The wait before the next attempt: ``asked`` if the server said, else ``backoff``; capped
    by ``max_retry_after`` and by ``remaining`` (seconds left before the call's deadline).

    Always finite and ``>= 0``, whatever the inputs.
    """
    wait = asked if asked is not None else backoff
    if not math.isfinite(wait):
        wait = max_retry_after if wait > 0 else 0.0
    cap = max_retry_after if math.isfinite(max_retry_after) else 0.0
    wait = min(max(wait, 0.0), max(cap, 0.0))
    if remaining is not None:
        wait = min(wait, max(remaining, 0.0) if math.isfinite(remaining) else wait)
    return wait


def _seconds(seconds: float) -> float | None:
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def _until_http_date(text: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without a zone is not one
        return None
    return max(when.timestamp() - now, 0.0)
