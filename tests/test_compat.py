"""Supervisor calls from the apply's read threads never overlap.

Airflow 3.0's task-supervisor channel is not thread-safe (see ``airflow_gradient._compat``):
under ``airflow dags test`` two threads looking up connections at once delete it. The compat
matrix's Airflow 3.0 cells run the real thing; this test pins the rule on any Airflow by
standing in for the supervisor with a lookup that records how many callers are inside it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import BaseHook

from airflow_gradient import _compat
from airflow_gradient.hooks.databricks import GradientDatabricksHook
from airflow_gradient.hooks.gradient import GradientHook


class OverlapRecorder:
    """A slow stand-in for a supervisor call that records the most callers inside at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.calls = 0
        self._count = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        with self._count:
            self.inside += 1
            self.calls += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.02)
        with self._count:
            self.inside -= 1


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> OverlapRecorder:
    recorder = OverlapRecorder()
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(lambda cls, conn_id: recorder()))
    monkeypatch.setattr(_compat, "_mask_secret", recorder)
    return recorder


def in_threads(calls: list[Callable[[], object]]) -> None:
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        start.wait()
        call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        for future in [pool.submit(run, call) for call in calls]:
            future.result()


def test_connection_lookups_and_masking_from_many_threads_run_one_at_a_time(
    recorder: OverlapRecorder,
) -> None:
    calls: list[Callable[[], object]] = []
    for n in range(4):
        calls.append(lambda n=n: GradientHook.get_connection(f"gradient_{n}"))
        calls.append(lambda n=n: GradientDatabricksHook.get_connection(f"databricks_{n}"))
        calls.append(lambda n=n: _compat.mask_secret(f"token-{n}"))
    in_threads(calls)
    assert recorder.calls == 12
    assert recorder.most == 1


def test_the_recorder_sees_overlap_when_nothing_serialises(recorder: OverlapRecorder) -> None:
    """The check above can fail: the same threads calling the stand-in directly overlap."""
    in_threads([recorder for _ in range(6)])
    assert recorder.most > 1
