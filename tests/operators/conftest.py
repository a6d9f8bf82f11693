"""Operator tests run the real operators with real hooks against the sandbox over sockets."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.scenarios.templates.conftest import (  # noqa: F401 (fixtures)
    airflow_home,
    migrated_db,
    template_sb,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PROJECT_ID = "11111111-2222-4333-8444-555555555555"


def load_fixture(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text(encoding="utf-8"))


def job_settings(name: str) -> dict[str, Any]:
    """Settings of a jobs/ fixture, without notification destinations the sandbox lacks."""
    settings = copy.deepcopy(load_fixture("jobs", name)["settings"])
    settings.pop("webhook_notifications", None)
    return settings


def configuration(name: str) -> dict[str, Any]:
    """The configuration of a recommendations/ fixture."""
    return copy.deepcopy(
        load_fixture("recommendations", name)["result"]["recommendation"]["configuration"]
    )


class FakeTaskInstance:
    """Collects what the operator pushes to XCom besides its return value (the links)."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.fixture
def make_target(sb: Sandbox) -> Callable[..., tuple[int, str]]:
    """``make_target(job=..., rec=..., ...)`` → ``(job_id, project_id)``.

    A new job from a fixture, a project for it (``PROJECT_ID`` unless it is taken: the
    recommendation's sync tags are rewritten to the project used), and the recommendation.
    """

    def make(
        job: str = "shared_job_cluster",
        rec: str | None = "aws_fixed_success",
        *,
        cluster_path: str | None = None,
        auto_apply_recs: bool = False,
        phase: str = "OPTIMIZING",
    ) -> tuple[int, str]:
        job_id = sb.databricks.create_job(job_settings(job))
        project = sb.gradient.create_project(
            job_id=job_id, cluster_path=cluster_path, auto_apply_recs=auto_apply_recs
        )
        if rec is not None:
            config = configuration(rec)
            config.get("custom_tags", {}).pop("sync:recommendation-id", None)
            config.get("custom_tags", {})["sync:project-id"] = project["id"]
            sb.gradient.add_recommendation(project["id"], config, state="SUCCESS", phase=phase)
        sb.clear_requests()
        return job_id, project["id"]

    return make


@pytest.fixture
def run_apply() -> Callable[..., dict[str, Any]]:
    """Build the apply operator in a DAG (with optional downstream tasks) and execute it."""

    def run(
        *,
        downstream: Callable[[], list[Any]] | None = None,
        render: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        from airflow.sdk import DAG

        from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

        with DAG(dag_id="test_apply", schedule=None):
            op = GradientApplyRecommendationOperator(task_id="apply", **kwargs)
            for task in downstream() if downstream else []:
                op >> task
        if render is not None:  # the templated fields, rendered as a task run would
            op.render_template_fields(render)  # type: ignore[arg-type]
        ti = FakeTaskInstance()
        result: dict[str, Any] = op.execute({"ti": ti, "params": {}})  # type: ignore[arg-type]
        result["_links"] = ti.pushed
        return result

    return run


# The fixtures of the request, rollback and webhook operator tests live in support modules of
# their own (their helpers, such as another FakeTaskInstance or job_settings, differ from the
# apply helpers above); none of these fixture names is defined anywhere else. Imported last:
# rollback_support subclasses this module's FakeTaskInstance.
from tests.operators.rollback_support import run_rollback  # noqa: E402, F401
from tests.operators.webhook_support import (  # noqa: E402, F401
    destinations,
    make_job,
    oncall,
    run_webhook,
    webhook_sb,
)
from tests.waiting_support import make_project  # noqa: E402, F401
