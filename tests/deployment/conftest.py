"""One deployment (``scripts/deployment.py up``) for the whole session, always torn down.

Run with ``make test-deployment``. ``make test`` does not collect this folder
(``norecursedirs`` in pyproject.toml); asked for explicitly without the ``deployment`` extra,
the session fails at once with what to install instead of skipping.

``AIRFLOW_GRADIENT_DEPLOYMENT_REUSE=1`` uses a deployment already started with ``up`` and
leaves it running (for working on a scenario); otherwise the session starts its own and stops
it at the end, also when a test fails.

Figures (time from trigger to success per scenario, RSS per component, token requests per
worker) are collected in ``figures`` and written to ``.deployment/figures.json`` at the end.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.deployment.client import AirflowApi, SandboxControl

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    """``scripts/deployment.py`` as a module."""
    spec = importlib.util.spec_from_file_location(
        "deployment_script", ROOT / "scripts" / "deployment.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LAST = "test_7_secrets.py"
"""The secrets scan runs after every other scenario, whatever its number: it scans their logs."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == LAST)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def script() -> ModuleType:
    try:
        import celery  # noqa: F401
        import psycopg2  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"tests/deployment needs the 'deployment' extra ({exc}): run `make test-deployment`",
            pytrace=False,
        )
    return load_script()


def rss_by_component(script: ModuleType, state: dict[str, Any]) -> dict[str, float]:
    """Resident memory in MiB of each component: every process of its session summed."""
    found = {}
    for name, session in state["sessions"].items():
        total_kib = 0
        for pid in script.members(session):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), None)
            total_kib += int(line.split()[1]) if line else 0
        found[name] = round(total_kib / 1024, 1)
    return found


@pytest.fixture(scope="session")
def figures() -> dict[str, Any]:
    return {"trigger_to_success_s": {}}


@pytest.fixture(scope="session")
def deployment(script: ModuleType, figures: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The JSON ``up`` prints (plus nothing else)."""
    reuse = os.environ.get("AIRFLOW_GRADIENT_DEPLOYMENT_REUSE") == "1"
    if reuse:
        state = script.load_state()
        assert state, "AIRFLOW_GRADIENT_DEPLOYMENT_REUSE=1 but no deployment is up"
        info = script.public(state)
    else:
        info = script.up(workers=2)  # stops what it started if it fails
    try:
        yield info
    finally:
        state = script.load_state()
        if state:
            figures["rss_mib"] = rss_by_component(script, state)
            out = script.state_dir() / "figures.json"
            out.write_text(json.dumps(figures, indent=2))
            print(f"\ndeployment figures ({out}):\n{json.dumps(figures, indent=2)}")
        if not reuse:
            script.down()


@pytest.fixture(scope="session")
def api(deployment: dict[str, Any]) -> Iterator[AirflowApi]:
    client = AirflowApi(deployment)
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox(deployment: dict[str, Any]) -> Iterator[SandboxControl]:
    control = SandboxControl(deployment)
    control.set("databricks.run_duration", 2.0)
    yield control
    control.close()


APPLY_THEN_RUN = "gradient_apply_then_run"


def seed(api: AirflowApi, sandbox: SandboxControl) -> dict[str, Any]:
    """The demo job, its project and a SUCCESS recommendation; the Variables point at them."""
    ids: dict[str, Any] = sandbox.call("seed_demo")
    api.set_variable("gradient_project_id", ids["project_id"])
    api.set_variable("databricks_job_id", str(ids["job_id"]))
    ids["before"] = sandbox.job_settings(ids["job_id"])
    return ids


@pytest.fixture(scope="session")
def reference_apply(
    api: AirflowApi, sandbox: SandboxControl, figures: dict[str, Any]
) -> dict[str, Any]:
    """``gradient_apply_then_run`` once on a fresh demo job, undisturbed: what an apply of the
    demo recommendation writes (scenario 1 checks it; scenario 4 compares against it)."""
    import time

    ids = seed(api, sandbox)
    first = len(sandbox.requests())
    started = time.monotonic()
    run_id = api.trigger(APPLY_THEN_RUN)
    run = api.wait_run(APPLY_THEN_RUN, run_id, timeout=240)
    figures["trigger_to_success_s"]["1 apply_then_run"] = round(time.monotonic() - started, 1)
    ids.update(
        run=run,
        task_instances=api.task_instances(APPLY_THEN_RUN, run_id),
        after=sandbox.job_settings(ids["job_id"]),
        requests=sandbox.requests()[first:],
        recommendation=sandbox.call(
            "gradient.get_recommendation", ids["project_id"], ids["recommendation_id"]
        ),
    )
    return ids
