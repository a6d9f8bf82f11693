"""The bad-input corpus: one JSON file per case in ``tests/data/bad_inputs/``.

Adding a case is adding a file. Its fields (unknown ones are refused, so a typo fails loudly):

``description``
    One line: what is wrong with the input.
``kind``
    ``"recommendation"``: ``payload`` is served verbatim as the project's only recommendation
    (one item of the list reply). ``"job"``: ``payload`` is the job's settings, created in the
    sandbox (``"serve": "create"``, the default) or, for jobs Databricks itself would refuse to
    store (duplicate keys, dangling references), served verbatim as the ``jobs/get`` reply
    (``"serve": "reply"``). ``"input"``: the project, job and recommendation are sound; the
    operator arguments or the connections are wrong.
``raw_body`` / ``endpoint`` / ``status`` / ``content_type``
    Instead of a payload: the raw reply of one endpoint (``recommendations``, ``project``,
    ``token`` or ``jobs/get``), with its HTTP status (default 200).
``project``
    Overrides of the Gradient project: ``cluster_path``, ``auto_apply_recs``, ``job_id``.
``operator``
    Overrides of the operator's keyword arguments (``null`` passes ``None``).
``gradient_connection`` / ``databricks_connection``
    Overrides of the connection fields (``null`` removes one); the operator then uses them.
``before_run``
    ``"expire_tokens"``: cache a Gradient token, then expire it on the server, so the run
    finds its token refused mid-way.
``expected_error``
    The exception class name, or ``null`` when the run must succeed (inputs that naive
    clients get wrong, such as a cluster on the second page of ``jobs/get``).
``message_contains``
    Fragments the error message must contain (a string or a list).
``expected_result``
    For a success: keys the XCom result must have, with their values.
``expected_statuses``
    HTTP statuses that must appear among the requests (e.g. the 401 of an expired token).

Strings may hold placeholders, replaced before use: ``${PROJECT_ID}``, ``${JOB_ID}``,
``${RECOMMENDATION_ID}``, ``${GRADIENT_URL}``, ``${DATABRICKS_URL}``, ``${GRADIENT_PORT}``,
``${DATABRICKS_PORT}`` (a string that is exactly one placeholder of a number becomes that number).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_gradient.sandbox import Sandbox
from tests.scenarios.reliability.harness import (
    JOBS_GET,
    TOKEN_PATH,
    Run,
    clear_token_cache,
    configuration_for,
    expected_merged_settings,
    fixture_job_settings,
    run_apply,
)

CORPUS = Path(__file__).resolve().parents[2] / "data" / "bad_inputs"
KINDS = ("recommendation", "job", "input")
FIELDS = frozenset(
    {
        "description",
        "kind",
        "payload",
        "raw_body",
        "endpoint",
        "status",
        "content_type",
        "serve",
        "project",
        "operator",
        "gradient_connection",
        "databricks_connection",
        "before_run",
        "expected_error",
        "message_contains",
        "expected_result",
        "expected_statuses",
    }
)
ENDPOINTS = ("recommendations", "project", "token", "jobs/get")
PROJECT_FIELDS = ("cluster_path", "auto_apply_recs", "job_id")
#: A fault that serves a raw reply hits this many requests (enough for every retry).
RAW_REPLY_TIMES = 200
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


@dataclass(frozen=True)
class Case:
    """One file of the corpus, checked for shape when loaded."""

    name: str
    data: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def expected_error(self) -> str | None:
        value = self.data["expected_error"]
        return None if value is None else str(value)

    @property
    def fragments(self) -> list[str]:
        value = self.data.get("message_contains") or []
        return [value] if isinstance(value, str) else [str(v) for v in value]


def load_case(path: Path) -> Case:
    """Read one case file; raise ``ValueError`` naming the file if it is malformed."""
    data = json.loads(path.read_text(encoding="utf-8"))
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: a case is a JSON object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        problems.append(f"unknown fields {unknown}")
    for required in ("description", "kind", "expected_error"):
        if required not in data:
            problems.append(f"missing {required!r}")
    if data.get("kind") not in KINDS:
        problems.append(f"kind must be one of {KINDS}")
    if data.get("expected_error") is not None and not data.get("message_contains"):
        problems.append("an expected error needs message_contains")
    if "raw_body" in data and data.get("endpoint") not in ENDPOINTS:
        problems.append(f"raw_body needs an endpoint in {ENDPOINTS}")
    if "payload" in data and "raw_body" in data:
        problems.append("give payload or raw_body, not both")
    if data.get("kind") == "job" and "payload" not in data and "raw_body" not in data:
        problems.append("a job case needs a payload (the job settings) or a raw_body")
    if data.get("serve", "create") not in ("create", "reply"):
        problems.append("serve must be 'create' or 'reply'")
    if set(data.get("project") or {}) - set(PROJECT_FIELDS):
        problems.append(f"project may override only {PROJECT_FIELDS}")
    if data.get("before_run") not in (None, "expire_tokens"):
        problems.append("before_run may only be 'expire_tokens'")
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return Case(path.stem, data)


def load_corpus(directory: Path = CORPUS) -> list[Case]:
    """Every case, sorted by file name."""
    return [load_case(path) for path in sorted(directory.glob("*.json"))]


def substitute(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` with every ``${NAME}`` replaced (recursively through lists and objects)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and not isinstance(values[whole[1]], str):
            return values[whole[1]]
        return _PLACEHOLDER.sub(lambda m: str(values[m[1]]), value)
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    return value


@dataclass
class CaseRun:
    """A case after running: the operator's run and what to judge it by."""

    run: Run
    values: dict[str, Any]
    job_id: int
    before: dict[str, Any]
    after: dict[str, Any]
    merged: dict[str, Any] | None
    secrets: list[str]


def _conn_env(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def run_case(sb: Sandbox, case: Case, set_env: Callable[[str, str], None]) -> CaseRun:
    """Set the case up in the sandbox, run the operator once, and collect what it did.

    :param set_env: sets an environment variable (connection overrides) so that the caller
        can undo it, e.g. ``monkeypatch.setenv``.
    """
    data = case.data
    clear_token_cache()
    sb.faults.clear()
    values: dict[str, Any] = {
        "GRADIENT_URL": sb.gradient_url,
        "DATABRICKS_URL": sb.databricks_url,
        "GRADIENT_PORT": int(sb.gradient_url.rsplit(":", 1)[1]),
        "DATABRICKS_PORT": int(sb.databricks_url.rsplit(":", 1)[1]),
        "RECOMMENDATION_ID": str(uuid.uuid4()),
    }

    project_overrides = dict(data.get("project") or {})
    project = sb.gradient.create_project(
        cluster_path=project_overrides.get("cluster_path"),
        auto_apply_recs=bool(project_overrides.get("auto_apply_recs", False)),
    )
    values["PROJECT_ID"] = project["id"]

    created_from = fixture_job_settings()
    if case.kind == "job" and "payload" in data and data.get("serve", "create") == "create":
        created_from = substitute(copy.deepcopy(data["payload"]), values)
    job_id = sb.databricks.create_job(created_from)
    values["JOB_ID"] = job_id
    tuned_job = substitute(project_overrides.get("job_id", "${JOB_ID}"), values)
    sb.gradient.update_project(project["id"], job_id=str(tuned_job))

    if case.kind == "recommendation" and "payload" in data:
        sb.gradient.add_recommendation(
            project["id"],
            raw=substitute(copy.deepcopy(data["payload"]), values),
            recommendation_id=values["RECOMMENDATION_ID"],
        )
    else:
        sb.gradient.add_recommendation(
            project["id"],
            configuration_for(project["id"]),
            state="SUCCESS",
            recommendation_id=values["RECOMMENDATION_ID"],
        )
    before = sb.databricks.get_job(job_id)["settings"]
    merged: dict[str, Any] | None = None
    if case.expected_error is None:
        merged = expected_merged_settings(
            sb, before, job_id=job_id, project_id=project["id"], rec_id=values["RECOMMENDATION_ID"]
        )

    if case.kind == "job" and data.get("serve") == "reply":
        reply = {"job_id": job_id, "settings": substitute(copy.deepcopy(data["payload"]), values)}
        sb.faults.inject(
            "databricks", "GET", JOBS_GET, status=200, body=reply, times=RAW_REPLY_TIMES
        )
    if "raw_body" in data:
        service, method, path = {
            "recommendations": ("gradient", "GET", f"/v1/projects/{project['id']}/recommendations"),
            "project": ("gradient", "GET", f"/v1/projects/{project['id']}"),
            "token": ("gradient", "POST", TOKEN_PATH),
            "jobs/get": ("databricks", "GET", JOBS_GET),
        }[data["endpoint"]]
        sb.faults.inject(
            service,
            method,
            path,
            status=int(data.get("status", 200)),
            body=str(substitute(data["raw_body"], values)),
            content_type=data.get("content_type"),
            times=RAW_REPLY_TIMES,
        )

    secrets = [sb.api_key_secret, sb.databricks_token]
    kwargs: dict[str, Any] = {"project_id": project["id"], "job_id": job_id}
    for service in ("gradient", "databricks"):
        overrides = data.get(f"{service}_connection")
        if overrides is None:
            continue
        conn = sb.connection_json(service)
        for key, value in substitute(overrides, values).items():
            if value is None:
                conn.pop(key, None)
            else:
                conn[key] = value
                if key == "password":
                    secrets.append(str(value))
        conn_id = f"{service}_case"
        set_env(_conn_env(conn_id), json.dumps(conn))
        kwargs[f"{service}_conn_id"] = conn_id
    kwargs.update(substitute(dict(data.get("operator") or {}), values))

    if data.get("before_run") == "expire_tokens":
        from airflow_gradient.hooks.gradient import GradientHook

        hook = GradientHook(kwargs.get("gradient_conn_id", "gradient_default"))
        hook.get_products()
        hook.close()
        sb.gradient.expire_tokens()

    sb.clear_requests()
    run = run_apply(**kwargs)
    after = sb.databricks.get_job(job_id)["settings"]
    sb.faults.clear()
    return CaseRun(run, values, job_id, before, after, merged, secrets)
