"""Helpers of the rollback operator tests: a task instance with XCom and the ``run_rollback``
fixture (made available to tests/operators by its conftest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.operators.conftest import FakeTaskInstance

__all__ = ["XComTaskInstance", "run_rollback"]


class XComTaskInstance(FakeTaskInstance):
    """Also answers ``xcom_pull(task_ids=...)`` from ``values`` (None for an unknown task)."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.values = dict(values or {})
        self.pulled: list[str] = []

    def xcom_pull(self, task_ids: str) -> Any:
        self.pulled.append(task_ids)
        return self.values.get(task_ids)


APPLY = "apply_recommendation"
WHAT = ("apply_result", "apply_task_id", "cluster_spec")


@pytest.fixture
def run_rollback() -> Callable[..., dict[str, Any]]:
    """``run_rollback(xcom={"apply_recommendation": result}, **operator_kwargs)`` → the result
    of ``execute`` plus ``_links`` (what it pushed besides) and ``_pulled`` (task ids pulled).

    The DAG holds an apply task ``apply_recommendation`` (never run: its XCom is ``xcom``),
    which the rollback reads by ``apply_task_id`` unless the arguments say otherwise (or
    ``legacy_default=True``: the rollback is given nothing, as before ``apply_result``)."""

    def run(
        *, xcom: dict[str, Any] | None = None, legacy_default: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        from airflow.sdk import DAG

        from airflow_gradient.operators.apply import GradientApplyRecommendationOperator
        from airflow_gradient.operators.rollback import GradientRollbackOperator

        if not legacy_default and not any(name in kwargs for name in WHAT):
            kwargs["apply_task_id"] = APPLY
        with DAG(dag_id="test_rollback", schedule=None):
            GradientApplyRecommendationOperator(task_id=APPLY, project_id="p", job_id=1)
            op = GradientRollbackOperator(task_id="rollback", **kwargs)
        ti = XComTaskInstance(xcom)
        result: dict[str, Any] = op.execute({"ti": ti, "params": {}})  # type: ignore[typeddict-item]
        result["_links"] = ti.pushed
        result["_pulled"] = ti.pulled
        return result

    return run
