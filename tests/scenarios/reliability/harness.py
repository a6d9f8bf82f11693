"""The engine of the reliability suite, shared by its tests and its report (``report.py``).

It runs the real ``GradientApplyRecommendationOperator`` (real hooks, real sockets) against a
:class:`~airflow_gradient.sandbox.Sandbox`, judges the job afterwards by comparing its *whole*
settings with the settings before and with the settings one clean ``jobs/update`` of the
merged spec gives, and measures the run against the operator's own :meth:`time_bound`.

Import it only after the Airflow environment is set (the tests' root conftest does it; the
benchmark sets it before importing this module).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from airflow_gradient.sandbox import Sandbox
from airflow_gradient.sandbox.faults import Fault

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

#: Small, explicit bounds: a cell must end within the bound these give, not within 180 s.
GRADIENT_HOOK_PARAMS: dict[str, Any] = {
    "timeout": 1.0,
    "retry_limit": 3,
    "retry_delay": 0.2,
    "max_retry_after": 2.0,
    "total_timeout": 5.0,
}
DATABRICKS_HOOK_PARAMS: dict[str, Any] = {
    "timeout_seconds": 1,
    "retry_limit": 3,
    "retry_delay": 1.0,
    "max_retry_after": 2.0,
}
#: A "timeout" fault holds the reply this long: longer than either hook's timeout.
TIMEOUT_DELAY = 2.5
#: Scheduling noise allowed on top of the computed bound.
BOUND_SLACK = 5.0

UNCHANGED = "unchanged"
MERGED = "merged spec"
NEITHER = "NEITHER (nobody chose it)"

TOKEN_PATH = "/v1/auth/token"
JOBS_GET = "/api/2.2/jobs/get"
JOBS_UPDATE = "/api/2.2/jobs/update"


# --- fixtures and targets ---------------------------------------------------------------


def load_fixture(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text(encoding="utf-8"))


def fixture_job_settings(name: str = "shared_job_cluster") -> dict[str, Any]:
    """Settings of a jobs/ fixture, without notification destinations the sandbox lacks."""
    settings: dict[str, Any] = copy.deepcopy(load_fixture("jobs", name)["settings"])
    settings.pop("webhook_notifications", None)
    return settings


def fixture_configuration(name: str = "aws_fixed_success") -> dict[str, Any]:
    """The configuration of a recommendations/ fixture."""
    result = load_fixture("recommendations", name)["result"]
    return copy.deepcopy(result["recommendation"]["configuration"])


def configuration_for(project_id: str, name: str = "aws_fixed_success") -> dict[str, Any]:
    """A fixture configuration re-tagged for ``project_id`` (the operator tags the rec id)."""
    config = fixture_configuration(name)
    tags = config.setdefault("custom_tags", {})
    tags["sync:project-id"] = project_id
    tags.pop("sync:recommendation-id", None)
    return config


@dataclass
class Target:
    """A job, its Gradient project and recommendation, and the two states the job may end in."""

    job_id: int
    project_id: str
    recommendation_id: str | None
    before: dict[str, Any]
    merged: dict[str, Any] | None


def expected_merged_settings(
    sb: Sandbox, before: Mapping[str, Any], *, job_id: int, project_id: str, rec_id: str
) -> dict[str, Any]:
    """The whole job settings after one clean ``jobs/update`` of the merged cluster entry.

    Written from the documented rules by :mod:`tests.oracles` (not by the operator's core), and
    stored on a throw-away twin job so the sandbox normalises it as it does any job.
    """
    from tests.oracles import expected_settings

    project = sb.gradient.get_project(project_id)
    served = sb.gradient.get_recommendation(project_id, rec_id)
    expected = expected_settings(
        before,
        served["recommendation"]["configuration"],
        project_id=project_id,
        cluster_path=project.get("cluster_path") or None,
        recommendation_id=rec_id,
    )
    twin = sb.databricks.create_job(copy.deepcopy(expected))
    try:
        settings: dict[str, Any] = sb.databricks.get_job(twin)["settings"]
        return settings
    finally:
        sb.databricks.delete_job(twin)


def make_target(
    sb: Sandbox,
    *,
    settings: Mapping[str, Any] | None = None,
    cluster_path: str | None = None,
    with_merged: bool = True,
) -> Target:
    """A fresh job (the ``shared_job_cluster`` fixture unless given), project and SUCCESS rec."""
    job_id = sb.databricks.create_job(copy.deepcopy(dict(settings or fixture_job_settings())))
    project = sb.gradient.create_project(job_id=job_id, cluster_path=cluster_path)
    rec_id = sb.gradient.add_recommendation(
        project["id"], configuration_for(project["id"]), state="SUCCESS", phase="OPTIMIZING"
    )
    before = sb.databricks.get_job(job_id)["settings"]
    merged = (
        expected_merged_settings(sb, before, job_id=job_id, project_id=project["id"], rec_id=rec_id)
        if with_merged
        else None
    )
    return Target(job_id, project["id"], rec_id, before, merged)


def job_state(sb: Sandbox, target: Target) -> str:
    """``unchanged``, ``merged spec``, or NEITHER: whole settings, not just the cluster."""
    settings = sb.databricks.get_job(target.job_id)["settings"]
    if settings == target.before:
        return UNCHANGED
    if target.merged is not None and settings == target.merged:
        return MERGED
    return NEITHER


# --- running the operator ---------------------------------------------------------------


class _TaskInstance:
    """Just enough of a task instance for the operator's links."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@dataclass
class Run:
    """One execution of the operator: its XCom result or its error, and how long it took."""

    result: dict[str, Any] | None
    error: BaseException | None
    elapsed: float
    bound: float | None
    parse_error: bool = False
    """The error was raised while the operator was built (the DAG would not load)."""

    @property
    def outcome(self) -> str:
        if self.error is None:
            return "succeeded"
        return f"failed: {type(self.error).__name__}"


def run_apply(
    *,
    project_id: str,
    job_id: int | str | None,
    gradient_hook_params: Mapping[str, Any] | None = None,
    databricks_hook_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Run:
    """Build the apply operator in a DAG, execute it once, and catch what it raises."""
    from airflow.sdk import DAG

    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    try:  # an argument refused at parse time is the run's error too
        with DAG(dag_id="reliability", schedule=None):
            op = GradientApplyRecommendationOperator(
                task_id="apply",
                project_id=project_id,
                job_id=job_id,
                gradient_hook_params=dict(
                    GRADIENT_HOOK_PARAMS if gradient_hook_params is None else gradient_hook_params
                ),
                databricks_hook_params=dict(
                    DATABRICKS_HOOK_PARAMS
                    if databricks_hook_params is None
                    else databricks_hook_params
                ),
                **kwargs,
            )
    except ValueError as err:
        return Run(None, err, 0.0, None, parse_error=True)
    try:
        bound = op.time_bound()
    except Exception:  # a broken connection surfaces in execute, with its own error
        bound = None
    context: Any = {"ti": _TaskInstance(), "params": {}}
    started = time.monotonic()
    try:
        result: dict[str, Any] = op.execute(context)
    except Exception as err:
        return Run(None, err, time.monotonic() - started, bound)
    finally:
        op.gradient_hook.close()
    return Run(result, None, time.monotonic() - started, bound)


def writes(sb: Sandbox) -> list[str]:
    """Every request that could change something: anything but a read or a token request."""
    return [
        f"{r.service} {r.method} {r.path}"
        for r in sb.requests
        if r.method not in ("GET", "HEAD") and r.path != TOKEN_PATH
    ]


def clear_token_cache() -> None:
    """Forget cached Gradient tokens, so every run starts with a token request."""
    from airflow_gradient.hooks.gradient import TOKEN_CACHE

    TOKEN_CACHE.clear()


# --- the fault matrix -------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request of the apply path that a fault can hit."""

    name: str
    service: str
    method: str
    path: Callable[[Target], str]
    #: Arm the fault when ``jobs/update`` is called, so it hits the read-back, not the read.
    after_update: bool = False


REQUESTS = (
    Request("token", "gradient", "POST", lambda t: TOKEN_PATH),
    Request("project", "gradient", "GET", lambda t: f"/v1/projects/{t.project_id}"),
    Request(
        "recommendation list",
        "gradient",
        "GET",
        lambda t: f"/v1/projects/{t.project_id}/recommendations",
    ),
    Request("jobs/get", "databricks", "GET", lambda t: JOBS_GET),
    Request("jobs/update", "databricks", "POST", lambda t: JOBS_UPDATE),
    Request("read-back", "databricks", "GET", lambda t: JOBS_GET, after_update=True),
)
REQUEST_BY_NAME = {r.name: r for r in REQUESTS}

MALFORMED_JSON = '{"result": {"truncated": [1, 2'


@dataclass(frozen=True)
class FaultKind:
    """One way to break a request: the keyword arguments of ``sb.faults.inject``."""

    name: str
    inject: Mapping[str, Any]

    @property
    def times(self) -> int:
        return int(self.inject.get("times", 1))


FAULTS = (
    FaultKind("two 503s, then OK", {"status": 503, "times": 2}),
    FaultKind("429 + Retry-After: 1", {"status": 429, "retry_after": 1, "times": 1}),
    FaultKind("timeout", {"delay": TIMEOUT_DELAY, "times": 1}),
    FaultKind("dropped connection", {"drop_connection": True, "times": 1}),
    FaultKind(
        "malformed JSON",
        {"status": 200, "body": MALFORMED_JSON, "content_type": "application/json", "times": 1},
    ),
    FaultKind("permanent 500", {"status": 500, "times": 1000}),
)
#: jobs/update only: the reply is lost or wrong *after* the change was (or was not) made.
UPDATE_FAULTS = (
    FaultKind("dropped reply, change applied", {"drop_connection": True, "after": True}),
    FaultKind(
        "3 dropped replies, change applied",
        {"drop_connection": True, "after": True, "times": 3},
    ),
    FaultKind("3 dropped connections, not applied", {"drop_connection": True, "times": 3}),
    FaultKind(
        "malformed JSON, change applied",
        {
            "status": 200,
            "body": MALFORMED_JSON,
            "content_type": "application/json",
            "after": True,
            "times": 1,
        },
    ),
    FaultKind("permanent 500, change applied", {"status": 500, "after": True, "times": 1000}),
    FaultKind("3 timeouts, applied late", {"delay": TIMEOUT_DELAY, "times": 3}),
)


@dataclass(frozen=True)
class Expectation:
    """What a cell must end in; ``error`` is an exception class name or None for success."""

    error: str | None
    state: str
    message: str | None = None
    confirmed_by: str | None = None


OK = Expectation(None, MERGED, confirmed_by="reply and read-back")


def _expectation(request: str, fault: str) -> Expectation:
    """The designed outcome of each cell (the tests hold the operator to it)."""
    unchanged_error = {
        "token": "GradientUnexpectedResponseError",
        "project": "GradientUnexpectedResponseError",
        "recommendation list": "GradientUnexpectedResponseError",
        "jobs/get": "DatabricksJobError",
    }
    if fault == "malformed JSON":
        if request in unchanged_error:
            return Expectation(unchanged_error[request], UNCHANGED)
        if request == "jobs/update":
            return Expectation("DatabricksJobError", UNCHANGED, "was NOT applied")
        return Expectation("DatabricksJobError", MERGED, "acknowledged")
    if fault == "permanent 500":
        if request in ("token", "project", "recommendation list"):
            return Expectation("GradientApiError", UNCHANGED, "HTTP 500")
        if request == "jobs/get":
            return Expectation("DatabricksJobError", UNCHANGED, "failed 3 times")
        if request == "jobs/update":
            return Expectation("DatabricksJobError", UNCHANGED, "was NOT applied")
        return Expectation("DatabricksJobError", MERGED, "acknowledged")
    if fault == "3 dropped connections, not applied":
        return Expectation("DatabricksJobError", UNCHANGED, "was NOT applied")
    if fault == "dropped reply, change applied":
        return OK  # the hook's retry writes the same entry again and gets a reply
    if fault in UPDATE_FAULT_NAMES:  # every attempt failed, yet the change landed
        return Expectation(None, MERGED, confirmed_by="read-back")
    return OK


UPDATE_FAULT_NAMES = frozenset(f.name for f in UPDATE_FAULTS)


@dataclass(frozen=True)
class Cell:
    request: Request
    fault: FaultKind

    @property
    def id(self) -> str:
        return f"{self.request.name} | {self.fault.name}"

    @property
    def expected(self) -> Expectation:
        return _expectation(self.request.name, self.fault.name)


CELLS = tuple(Cell(r, f) for r in REQUESTS for f in FAULTS) + tuple(
    Cell(REQUEST_BY_NAME["jobs/update"], f) for f in UPDATE_FAULTS
)


@dataclass
class CellResult:
    """What one cell did: outcome, job state, requests, time against the bound."""

    cell: Cell
    run: Run
    state: str
    requests: int
    fault_hits: int
    statuses: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        """How the write was confirmed, or the start of the error message."""
        if self.run.error is None:
            assert self.run.result is not None
            confirmed = self.run.result.get("write_confirmed_by")
            return f"write confirmed by {confirmed}" if confirmed else "nothing written"
        text = _UUID.sub("<id>", " ".join(str(self.run.error).split()))
        text = _JOB_ID.sub("<job>", text)
        return text if len(text) <= 130 else text[:127] + "..."


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_JOB_ID = re.compile(r"(?<=job )\d{9,}")


@contextmanager
def _arm_on_update(arm: Callable[[], None]) -> Iterator[None]:
    """Call ``arm`` when the operator calls ``update_job`` (once)."""
    from airflow_gradient.hooks.databricks import GradientDatabricksHook

    original = GradientDatabricksHook.update_job
    armed: list[bool] = []

    def update(self: GradientDatabricksHook, job_id: int, new_settings: Mapping[str, Any]) -> None:
        if not armed:
            armed.append(True)
            arm()
        original(self, job_id, new_settings)

    with mock.patch.object(GradientDatabricksHook, "update_job", update):
        yield


def _settle(sb: Sandbox, faults: list[tuple[Fault, int]], timeout: float = 15.0) -> None:
    """Wait until the sandbox finished every request a delay fault held back."""
    held = sum(times - fault.remaining for fault, times in faults if fault.delay)
    deadline = time.monotonic() + timeout
    while held and time.monotonic() < deadline:
        if sum(1 for r in sb.requests if r.fault == "delay") >= held:
            return
        time.sleep(0.05)


def run_cell(sb: Sandbox, cell: Cell) -> CellResult:
    """Run one cell on a fresh target: inject the fault, run the operator, judge the job."""
    clear_token_cache()
    sb.faults.clear()
    target = make_target(sb)
    sb.clear_requests()
    injected: list[tuple[Fault, int]] = []
    request = cell.request

    def arm() -> None:
        fault = sb.faults.inject(
            request.service, request.method, request.path(target), **dict(cell.fault.inject)
        )
        injected.append((fault, cell.fault.times))

    context: AbstractContextManager[None]
    if request.after_update:
        context = _arm_on_update(arm)
    else:
        arm()
        context = nullcontext()
    with context:
        run = run_apply(project_id=target.project_id, job_id=target.job_id)
    _settle(sb, injected)
    hits = sum(times - fault.remaining for fault, times in injected)
    sb.faults.clear()
    records = sb.requests
    return CellResult(
        cell=cell,
        run=run,
        state=job_state(sb, target),
        requests=len(records),
        fault_hits=hits,
        statuses=[f"{r.method} {r.path.rsplit('/', 1)[-1]} {r.status}" for r in records],
    )


def check_cell(outcome: CellResult) -> list[str]:
    """Every way a cell broke the guarantees or its designed outcome (empty: all good)."""
    problems: list[str] = []
    run, expected = outcome.run, outcome.cell.expected
    if outcome.state == NEITHER:
        problems.append("the job ended in a state nobody chose")
    if outcome.fault_hits == 0:
        problems.append("the fault never hit a request: the cell tested nothing")
    if run.bound is None:
        problems.append("the operator computed no time bound")
    elif run.elapsed > run.bound + BOUND_SLACK:
        problems.append(f"took {run.elapsed:.1f} s, bound {run.bound:.1f} s")
    if run.error is None:
        assert run.result is not None
        if expected.error is not None:
            problems.append(f"succeeded, expected {expected.error}")
        if run.result.get("applied") is not True or outcome.state != MERGED:
            problems.append(f"claims success but the job is {outcome.state}")
        confirmed = run.result.get("write_confirmed_by")
        if expected.confirmed_by and confirmed != expected.confirmed_by:
            problems.append(f"write_confirmed_by={confirmed!r}, expected {expected.confirmed_by}")
        if confirmed == "read-back" and not run.result.get("update_error"):
            problems.append("confirmed by read-back but update_error is empty")
    else:
        name = type(run.error).__name__
        message = str(run.error)
        if name != expected.error:
            problems.append(f"raised {name}: {message[:200]}; expected {expected.error}")
        if expected.message and expected.message not in message:
            problems.append(f"message lacks {expected.message!r}: {message[:300]}")
        if len(message) < 40 or "Traceback" in message:
            problems.append(f"unclear message: {message!r}")
    if outcome.state not in (expected.state, NEITHER):
        problems.append(f"job is {outcome.state}, expected {expected.state}")
    return problems


# --- the doc's table --------------------------------------------------------------------

TABLE_HEADER = (
    "| request | fault | outcome | job afterwards | requests | elapsed / bound | note |\n"
    "|---|---|---|---|---:|---:|---|"
)
_ROW = re.compile(
    r"^\| (?P<request>[^|]+?) \| (?P<fault>[^|]+?) \| (?P<outcome>[^|]+?) \| "
    r"(?P<state>[^|]+?) \|"
)


def render_row(outcome: CellResult) -> str:
    run = outcome.run
    bound = f"{run.bound:.0f} s" if run.bound is not None else "none"
    note = outcome.note.replace("|", "/")
    return (
        f"| {outcome.cell.request.name} | {outcome.cell.fault.name} | {run.outcome} | "
        f"{outcome.state} | {outcome.requests} | {run.elapsed:.1f} s / {bound} | {note} |"
    )


def parse_table(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    """``(request, fault) -> (outcome, state)`` from the generated table in a document."""
    rows: dict[tuple[str, str], tuple[str, str]] = {}
    for line in text.splitlines():
        match = _ROW.match(line)
        if match and match["request"] not in ("request", "---"):
            rows[(match["request"], match["fault"])] = (match["outcome"], match["state"])
    return rows
