"""One sandbox per module, its connections in the environment, no cached Gradient token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.reliability.harness import clear_token_cache


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def sb(module_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The module's sandbox with its default connections set, and a clean slate."""
    for name, value in module_sandbox.connections().items():
        monkeypatch.setenv(name, value)
    module_sandbox.faults.clear()
    module_sandbox.clear_requests()
    clear_token_cache()
    yield module_sandbox
    module_sandbox.faults.clear()
    clear_token_cache()
