"""Fixture loaders for the pure-core tests: jobs/get replies and Gradient recommendations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _read(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def job() -> Callable[[str], dict[str, Any]]:
    """``job("shared_job_cluster")`` → the whole ``jobs/get`` reply (a fresh copy each call)."""
    return lambda name: _read("jobs", name)


@pytest.fixture
def rec() -> Callable[[str], Any]:
    """``rec("aws_fixed_success")`` → the value of the ``{"result": ...}`` envelope."""
    return lambda name: _read("recommendations", name)["result"]
