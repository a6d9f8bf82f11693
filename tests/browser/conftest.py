"""The UI in a real browser: one deployment (LocalExecutor) and one logged-in Chromium page.

Run with ``make test-browser``: it installs Debian's ``chromium`` when missing (as root) and
the ``browser`` extra (Playwright for Python, Pillow). Playwright drives the system Chromium
(``/usr/bin/chromium``); its own browser download is never used. ``make test`` does not
collect this folder (``norecursedirs``).

Setup goes through the REST API (seed the sandbox, trigger runs, wait for states); what a
person sees is read in the browser. Each step saves one 1280x800 screenshot under
``docs/images/`` (optimised to 200 kB or less) after checking that no secret is on the page.
Runs start early in a background thread, so the browser steps overlap the DAG runs.
The ``browser`` fixture needs no deployment: test_report.py opens a local report file with it.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deployment.client import AirflowApi, SandboxControl, wait_until
from tests.deployment.conftest import load_script, seed

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
MAX_PNG_BYTES = 200_000
APPLY_THEN_RUN = "gradient_apply_then_run"
COPILOT = "gradient_copilot"
POLICY_DAG_ID = "browser_policy_violation"
POLICY_DAG = '''
"""Apply, then a one-time run that ignores the job's cluster: the policy refuses it."""

import pendulum
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

with DAG(
    dag_id="browser_policy_violation",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
):
    apply = GradientApplyRecommendationOperator(task_id="apply", project_id="p", job_id=1)
    apply >> DatabricksSubmitRunOperator(task_id="submit", json={"run_name": "x", "tasks": []})
'''


class Deployment(dict[str, Any]):
    """The JSON ``up`` prints; its repr (shown by pytest on a failure) holds no secret."""

    def __repr__(self) -> str:
        return f"Deployment(api_url={self.get('api_url')!r})"


def require_browser() -> None:
    """Fail (not skip) with what to install when Playwright or the system Chromium is missing."""
    try:
        import playwright  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"tests/browser needs the 'browser' extra ({exc}): run `make test-browser`")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test-browser)")


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``scripts/deployment.py up --executor local`` with an extra dags folder holding a DAG
    the policy refuses; ``AIRFLOW_GRADIENT_DEPLOYMENT_REUSE=1`` uses one already up."""
    require_browser()
    script = load_script()
    reuse = os.environ.get("AIRFLOW_GRADIENT_DEPLOYMENT_REUSE") == "1"
    if reuse:
        state = script.load_state()
        assert state, "AIRFLOW_GRADIENT_DEPLOYMENT_REUSE=1 but no deployment is up"
        info = script.public(state)
        (Path(info["dags_folder"]) / f"{POLICY_DAG_ID}.py").write_text(POLICY_DAG)
    else:
        extra = tmp_path_factory.mktemp("browser_dags")
        (extra / f"{POLICY_DAG_ID}.py").write_text(POLICY_DAG)
        try:
            info = script.up(workers=0, dags_folders=[extra], executor="local")
        except BaseException:
            script.down()
            raise
    try:
        yield Deployment(info)
    finally:
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
    control.set("databricks.run_duration", 1.0)
    # A requested recommendation is SUCCESS at once: the copilot's sensor does not wait for
    # its next poll (deferral is the deployment tests' subject, not the UI's).
    control.set("gradient.recommendation_ready_after_reads", 0)
    yield control
    control.close()


class Runs:
    """DAG runs prepared over REST in a background thread while the browser works.

    ``apply`` (a finished ``gradient_apply_then_run``) then ``approval`` (a ``gradient_copilot``
    run parked at ``approve``); :meth:`get` waits for one and re-raises the thread's error."""

    def __init__(self, api: AirflowApi, sandbox: SandboxControl) -> None:
        self.api, self.sandbox = api, sandbox
        self.ready: dict[str, threading.Event] = {
            k: threading.Event() for k in ("apply", "approval")
        }
        self.values: dict[str, dict[str, Any]] = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._prepare, daemon=True)
        self.thread.start()

    def _prepare(self) -> None:
        try:
            ids = seed(self.api, self.sandbox)
            ids["run_id"] = self.api.trigger(APPLY_THEN_RUN)
            ids["run"] = self.api.wait_run(APPLY_THEN_RUN, ids["run_id"], timeout=300)
            self._set("apply", ids)
            self._set("approval", self.park_copilot())
        except BaseException as exc:  # surfaced by get()
            self.error = exc
            for event in self.ready.values():
                event.set()

    def _set(self, name: str, value: dict[str, Any]) -> None:
        self.values[name] = value
        self.ready[name].set()

    def park_copilot(self) -> dict[str, Any]:
        """Seed a fresh job, trigger ``gradient_copilot``, wait until ``approve`` awaits input."""
        ids = seed(self.api, self.sandbox)
        ids["first_request"] = len(self.sandbox.requests())
        ids["run_id"] = self.api.trigger(COPILOT)
        self.api.wait_state(COPILOT, ids["run_id"], "approve", "awaiting_input", timeout=300)
        self.settled(ids["run_id"])
        return ids

    def settled(self, run_id: str, quiet: float = 10.0) -> None:
        """Wait until ``approve`` has stayed awaiting input in the same try for ``quiet`` s.

        Airflow 3.3.2 races an answer given right after the task paused: if the scheduler
        handles the paused process's exit after the answer, it calls the state "changed
        externally", retries the task and the answer is lost (seen with LocalExecutor under
        load). A person answers later than that; so does this test."""

        def try_waiting() -> int | None:
            ti = self.api.task_instance(COPILOT, run_id, "approve")
            return ti["try_number"] if ti["state"] == "awaiting_input" else None

        def quiet_for() -> bool:
            first = try_waiting()
            deadline = time.monotonic() + quiet
            while first is not None and time.monotonic() < deadline:
                time.sleep(2.0)
                if try_waiting() != first:
                    return False
            return first is not None

        wait_until(quiet_for, timeout=240, what=f"approve of {run_id} to wait undisturbed")

    def get(self, name: str, timeout: float = 420) -> dict[str, Any]:
        assert self.ready[name].wait(timeout), f"{name} run not ready after {timeout:.0f}s"
        if self.error is not None:
            raise AssertionError(f"preparing the runs failed: {self.error!r}") from self.error
        return self.values[name]


@pytest.fixture(scope="session")
def runs(api: AirflowApi, sandbox: SandboxControl) -> Runs:
    return Runs(api, sandbox)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless system Chromium; needs no deployment (the audit report is a local file)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def page(browser: Any, runs: Runs) -> Iterator[Any]:
    """One page for the whole session (the steps follow each other like a person's visit)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def secrets_of(info: dict[str, Any], sandbox: SandboxControl) -> list[str]:
    """What must never show: the API key secret, the PAT, the password, issued tokens."""
    found = [info["gradient_api_key_secret"], info["databricks_token"], info["password"]]
    return found + list(sandbox.tokens())


def optimise_png(data: bytes) -> bytes:
    """The screenshot quantised to a 256-colour palette (UI screenshots lose nothing seen)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    out = io.BytesIO()
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


@pytest.fixture(scope="session")
def shot(deployment: dict[str, Any], sandbox: SandboxControl) -> Callable[[Any, str], Path]:
    """``shot(page, name)``: check no secret is on the page, save ``docs/images/<name>.png``."""

    def take(page: Any, name: str) -> Path:
        text = page.locator("body").inner_text() + page.content()
        for secret in secrets_of(deployment, sandbox):
            assert secret not in text, f"a secret is on the page before screenshot {name}"
        data = optimise_png(page.screenshot())
        assert len(data) <= MAX_PNG_BYTES, f"{name}.png is {len(data)} bytes"
        IMAGES.mkdir(parents=True, exist_ok=True)
        path = IMAGES / f"{name}.png"
        path.write_bytes(data)
        return path

    return take
