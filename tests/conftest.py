"""Test-wide setup: an isolated AIRFLOW_HOME on SQLite, set before anything imports Airflow."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_gradient.sandbox import Sandbox

_HOME = Path(tempfile.mkdtemp(prefix="airflow-gradient-tests-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(_HOME / "dags"))

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def module_sandbox() -> Iterator[Sandbox]:
    """One running sandbox per test module (starting one per test would cost more than the
    tests); ``sb`` gives each test a clean slate on it."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sb(module_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The module's sandbox with its connections in the environment, default behaviour, no
    faults or latency, no requests recorded, and no Gradient token cached in this process.

    Jobs and projects made by earlier tests of the module stay (``reset(keep_data=True)``);
    each test makes its own. For a sandbox of its own, use ``fresh_sandbox``.
    """
    from airflow_gradient.hooks.gradient import TOKEN_CACHE

    for name, value in module_sandbox.connections().items():
        monkeypatch.setenv(name, value)
    module_sandbox.reset(keep_data=True)
    TOKEN_CACHE.clear()
    yield module_sandbox
    module_sandbox.reset(keep_data=True)
    TOKEN_CACHE.clear()


@pytest.fixture
def fresh_sandbox() -> Iterator[Sandbox]:
    """A new, running sandbox of this test's own (nothing in it yet); stopped after the test.
    Its connections are not put in the environment."""
    with Sandbox() as sandbox:
        yield sandbox
