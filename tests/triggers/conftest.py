"""The fixture shared by the tests of waiting for a recommendation (tests/waiting_support.py)."""

from __future__ import annotations

from tests.waiting_support import make_project  # noqa: F401 (fixture)
