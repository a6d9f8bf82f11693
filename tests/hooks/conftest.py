"""Fixtures of the hook tests: what the hooks log.

Airflow 3 logs through structlog, straight to its own output: pytest's ``caplog`` sees none of
it. ``structlog.testing.capture_logs`` is the equivalent: it collects every entry a hook logs
while the test runs, already formatted.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest


@pytest.fixture
def logged() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every log entry of the test (``event`` = the formatted message, ``log_level``)."""
    from structlog.testing import capture_logs

    with capture_logs() as entries:
        yield entries


def retry_lines(entries: list[MutableMapping[str, Any]]) -> list[str]:
    """The WARNING lines that announce a retry."""
    return [
        str(e["event"])
        for e in entries
        if e.get("log_level") == "warning" and "retrying in" in str(e["event"])
    ]


def logged_text(entries: list[MutableMapping[str, Any]]) -> str:
    """Everything logged, as one text, to look for secrets in."""
    return "\n".join(repr(e) for e in entries)
