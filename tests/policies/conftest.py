"""A sandbox for the execute-time refusals: they must be refused before any request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_gradient.sandbox import Sandbox


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def sb(module_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The module's sandbox with its connections in the environment and no requests yet."""
    for name, value in module_sandbox.connections().items():
        monkeypatch.setenv(name, value)
    module_sandbox.faults.clear()
    module_sandbox.clear_requests()
    yield module_sandbox
    module_sandbox.faults.clear()
