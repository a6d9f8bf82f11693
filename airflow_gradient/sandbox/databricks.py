"""The emulated Databricks workspace: Jobs API 2.1/2.2 and notification destinations.

Behaviour follows the real service where clients can tell the difference:

- bearer-token auth; a missing token is ``401 UNAUTHENTICATED``, a wrong one
  ``403 PERMISSION_DENIED`` "Invalid access token." (what workspaces answer);
- ``jobs/get`` pages ``tasks``, ``job_clusters``, ``parameters`` and ``environments`` at 100
  items on API 2.2 (``next_page_token`` / ``page_token``), not on 2.1;
- ``jobs/update`` merges ``tasks`` and ``job_clusters`` by key (a matching entry is replaced
  whole, others kept, new ones appended), replaces other top-level fields, and honours
  ``fields_to_remove``; every create/update/reset is validated on the resulting job;
- a missing job or run is ``400 INVALID_PARAMETER_VALUE`` "Job N does not exist." (what
  Databricks sends; ``databricks-sdk`` re-maps exactly that to ``ResourceDoesNotExist``);
- ``jobs/run-now`` snapshots the job's cluster specs at that moment into the run;
- destinations never echo their secrets (URL, username, password), only ``*_set`` flags.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, NoReturn

from airflow_gradient.sandbox import validation
from airflow_gradient.sandbox.errors import NotFoundError, ValidationError
from airflow_gradient.sandbox.server import HttpError, Request, Response, Service

PAGE_SIZE = 100
PAGED_JOB_FIELDS = ("tasks", "job_clusters", "parameters", "environments")
PAGED_RUN_FIELDS = ("tasks", "job_clusters")
RUN_RESULTS = ("SUCCESS", "FAILED")

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    502: "BAD_GATEWAY",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_DESTINATION_TYPES = {"generic_webhook": "WEBHOOK"}


def _fail(status: int, code: str, message: str) -> NoReturn:
    raise HttpError(Response(status, {"error_code": code, "message": message}))


def _invalid(message: str) -> NoReturn:
    _fail(400, "INVALID_PARAMETER_VALUE", message)


def _encode_token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _page_window(params: dict[str, Any], kind: str, *, max_limit: int) -> tuple[int, int]:
    """``limit`` (1 to ``max_limit``, default 20) and the offset of a list request, taken from
    its ``page_token`` when there is one, else from ``offset``."""
    limit = _as_int(params, "limit", 20)
    if not 1 <= limit <= max_limit:
        _invalid(f"Invalid limit {limit}: must be between 1 and {max_limit}")
    token = params.get("page_token") or ""
    offset = _decode_token(token, kind)["o"] if token else _as_int(params, "offset", 0)
    return limit, offset


def _decode_token(token: str, kind: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        _invalid(f"Invalid page_token {token!r}")
    if not isinstance(payload, dict) or payload.get("k") != kind:
        _invalid(f"Invalid page_token {token!r}")
    return payload


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1")


def _as_int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            _invalid(f"Missing required field: {name}")
        return default
    if isinstance(value, bool):
        _invalid(f"Invalid value for {name}: {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        _invalid(f"Invalid value for {name}: {value!r}")


def _now_ms() -> int:
    return int(time.time() * 1000)


def merge_settings(
    current: dict[str, Any],
    new_settings: dict[str, Any] | None,
    fields_to_remove: list[str] | None = None,
) -> dict[str, Any]:
    """Return the job settings after a ``jobs/update`` (without validating them).

    ``fields_to_remove`` is applied first (top-level names, ``tasks/<task_key>``,
    ``job_clusters/<job_cluster_key>``), then ``new_settings``: ``tasks`` and
    ``job_clusters`` entries are merged by key, everything else is replaced. Removing an
    entry that is not there is not an error, so a retried update stays harmless.
    """
    merged = copy.deepcopy(current)
    keyed = {"tasks": "task_key", "job_clusters": "job_cluster_key"}
    for name in fields_to_remove or []:
        if "/" in name:
            array, _, key = name.partition("/")
            if array not in keyed or not key:
                raise ValidationError(
                    f"Invalid fields_to_remove entry {name!r}: nested fields can be removed "
                    "only as tasks/<task_key> or job_clusters/<job_cluster_key>"
                )
            entries = merged.get(array) or []
            merged[array] = [e for e in entries if e.get(keyed[array]) != key]
        else:
            merged.pop(name, None)
    for name, value in (new_settings or {}).items():
        if name in keyed and isinstance(value, list):
            key_name = keyed[name]
            entries = list(merged.get(name) or [])
            index = {e.get(key_name): i for i, e in enumerate(entries)}
            for entry in value:
                position = index.get(entry.get(key_name))
                if position is None:
                    index[entry.get(key_name)] = len(entries)
                    entries.append(copy.deepcopy(entry))
                else:
                    entries[position] = copy.deepcopy(entry)
            merged[name] = entries
        else:
            merged[name] = copy.deepcopy(value)
    for name in keyed:
        if name in merged and not merged[name]:
            del merged[name]
    return merged


@dataclass
class _Run:
    """A run and what it needs to report its state at any moment."""

    run_id: int
    job_id: int
    run_type: str
    run_name: str
    number_in_job: int
    created: float
    duration: float
    outcome: str
    tasks: list[dict[str, Any]]
    job_clusters: list[dict[str, Any]]
    job_parameters: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    canceled_at: float | None = None
    finished: tuple[float, str] | None = None


class DatabricksService(Service):
    """Emulated Databricks workspace; also the Python API behind ``Sandbox.databricks``.

    :param lock: the sandbox-wide lock guarding all state.
    :param token: the personal access token clients must send.
    """

    name = "databricks"

    def __init__(self, lock: threading.RLock, token: str) -> None:
        super().__init__()
        self._lock = lock
        self.token = token
        self.base_url = "http://127.0.0.1"
        self.workspace_id = "1234567890123456"
        self.user_name = "sandbox@example.com"
        self.run_duration = 0.0
        """Seconds a new run takes from PENDING to TERMINATED (0: done at once)."""
        self.next_run_result = "SUCCESS"
        """Result of runs started from now on: ``"SUCCESS"`` or ``"FAILED"``."""
        self._jobs: dict[int, dict[str, Any]] = {}
        self._runs: dict[int, _Run] = {}
        self._task_runs: dict[int, tuple[int, int]] = {}  # task run id -> (run id, index)
        self._destinations: dict[str, dict[str, Any]] = {}
        self._idempotency: dict[str, int] = {}
        self._next_job_id = 700_000_000_000_001
        self._next_run_id = 900_000_000_000_001
        self._runs_per_job: dict[int, int] = {}
        self._register_routes()

    # --- plumbing ------------------------------------------------------------------------

    def _register_routes(self) -> None:
        r = self.router
        r.add("GET", "/.well-known/databricks-config", self._well_known, public=True)
        for version in ("2.1", "2.2"):
            base = f"/api/{version}/jobs"
            r.add("POST", f"{base}/create", self._http_create)
            r.add("GET", f"{base}/get", self._http_get)
            r.add("GET", f"{base}/list", self._http_list)
            r.add("POST", f"{base}/update", self._http_update)
            r.add("POST", f"{base}/reset", self._http_reset)
            r.add("POST", f"{base}/delete", self._http_delete)
            r.add("POST", f"{base}/run-now", self._http_run_now)
            r.add("POST", f"{base}/runs/submit", self._http_submit)
            r.add("GET", f"{base}/runs/get", self._http_get_run)
            r.add("GET", f"{base}/runs/get-output", self._http_get_output)
            r.add("GET", f"{base}/runs/list", self._http_list_runs)
            r.add("POST", f"{base}/runs/cancel", self._http_cancel)
            r.add("POST", f"{base}/runs/cancel-all", self._http_cancel_all)
            r.add("POST", f"{base}/runs/delete", self._http_delete_run)
        dest = "/api/2.0/notification-destinations"
        r.add("POST", dest, self._http_create_destination)
        r.add("GET", dest, self._http_list_destinations)
        r.add("GET", dest + "/{id}", self._http_get_destination)
        r.add("PATCH", dest + "/{id}", self._http_update_destination)
        r.add("DELETE", dest + "/{id}", self._http_delete_destination)

    def error(self, status: int, message: str, code: str | None = None) -> Response:
        """Databricks' error shape: ``{"error_code": ..., "message": ...}``."""
        fallback = "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
        code = code or _CODES.get(status, fallback)
        return Response(status, {"error_code": code, "message": message})

    def not_found(self, request: Request) -> Response:
        """Databricks answers an unknown endpoint with ``404 ENDPOINT_NOT_FOUND``."""
        return self.error(
            404, f"No API found for '{request.method} {request.path}'", "ENDPOINT_NOT_FOUND"
        )

    def method_not_allowed(self, request: Request, allowed: list[str]) -> Response:
        """Databricks does not distinguish a wrong method from an unknown endpoint."""
        return self.not_found(request)

    def map_error(self, exc: Exception) -> Response | None:
        """Invalid settings and missing objects become Databricks errors."""
        if isinstance(exc, ValidationError):
            return self.error(400, str(exc), "INVALID_PARAMETER_VALUE")
        if isinstance(exc, NotFoundError):
            return self.error(exc.status, exc.message, exc.code or None)
        return None

    def authenticate(self, request: Request) -> None:
        """Accept ``Authorization: Bearer <token>`` with the sandbox's token only."""
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if not header:
            _fail(401, "UNAUTHENTICATED", "Unauthorized access: no credentials were provided.")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            credential.strip().encode(), self.token.encode()
        ):
            _fail(403, "PERMISSION_DENIED", "Invalid access token.")

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            body = json.loads(request.body)
        except ValueError:
            _fail(
                400,
                "MALFORMED_REQUEST",
                "Invalid JSON given in the body of the request - failed to parse given JSON",
            )
        if not isinstance(body, dict):
            _fail(
                400,
                "MALFORMED_REQUEST",
                "Invalid JSON given in the body of the request - expected a JSON object",
            )
        return body

    def _params(self, request: Request) -> dict[str, Any]:
        """GET parameters: the query string, plus a JSON body (``aiohttp`` callers send one)."""
        params: dict[str, Any] = {}
        if request.body.strip():
            params.update(self._body(request))
        params.update(request.query)
        return params

    @staticmethod
    def _well_known(request: Request) -> Response:
        # databricks-sdk probes this when a client is built; a prompt 404 makes it fall back.
        return Response(404, {"error_code": "NOT_FOUND", "message": "Not Found"})

    # --- jobs: state --------------------------------------------------------------------

    def _job(self, job_id: int) -> dict[str, Any]:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(
                f"Job {job_id} does not exist.", status=400, code="INVALID_PARAMETER_VALUE"
            )
        return job

    def _store_new_job(self, settings: dict[str, Any]) -> int:
        settings = copy.deepcopy(settings)
        settings.setdefault("format", "MULTI_TASK")
        settings.setdefault("max_concurrent_runs", 1)
        settings.setdefault("timeout_seconds", 0)
        settings.setdefault("email_notifications", {})
        settings.setdefault("webhook_notifications", {})
        job_id = self._next_job_id
        self._next_job_id += 1
        self._jobs[job_id] = {
            "job_id": job_id,
            "creator_user_name": self.user_name,
            "run_as_user_name": self.user_name,
            "created_time": _now_ms(),
            "settings": settings,
        }
        return job_id

    def create_job(self, settings: dict[str, Any]) -> int:
        """Create a job from a ``JobSettings`` dict (validated like ``jobs/create``)."""
        checked, _acl = validation.check_create_body(settings)
        with self._lock:
            return self._store_new_job(checked)

    def get_job(self, job_id: int) -> dict[str, Any]:
        """The ``jobs/get`` reply with every page merged."""
        with self._lock:
            return copy.deepcopy(self._job(int(job_id)))

    def job_settings(self, job_id: int | str) -> dict[str, Any] | None:
        """Settings of a job, or ``None`` if there is none (used by the Gradient service)."""
        try:
            key = int(job_id)
        except (TypeError, ValueError):
            return None
        with self._lock:
            job = self._jobs.get(key)
            return copy.deepcopy(job["settings"]) if job else None

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Every job, oldest first."""
        with self._lock:
            return [copy.deepcopy(j) for j in self._jobs.values()]

    def update_job(
        self,
        job_id: int,
        new_settings: dict[str, Any] | None = None,
        fields_to_remove: list[str] | None = None,
    ) -> None:
        """Apply a ``jobs/update`` (merge by key, then validate the merged job)."""
        body: dict[str, Any] = {"job_id": job_id}
        if new_settings is not None:
            body["new_settings"] = new_settings
        if fields_to_remove is not None:
            body["fields_to_remove"] = fields_to_remove
        self._update(validation.check_body("update", body))

    def _update(self, body: dict[str, Any]) -> None:
        validation.check_unique_keys(body.get("new_settings") or {})
        with self._lock:
            job = self._job(body["job_id"])
            merged = merge_settings(
                job["settings"], body.get("new_settings"), body.get("fields_to_remove")
            )
            job["settings"] = validation.check_settings(merged, path="settings")

    def reset_job(self, job_id: int, new_settings: dict[str, Any]) -> None:
        """Replace all settings of a job, like ``jobs/reset``."""
        checked = validation.check_body("reset", {"job_id": job_id, "new_settings": new_settings})
        settings = validation.check_settings(checked["new_settings"])
        with self._lock:
            self._job(checked["job_id"])["settings"] = settings

    def delete_job(self, job_id: int) -> None:
        """Delete a job (its runs stay readable)."""
        with self._lock:
            self._job(int(job_id))
            del self._jobs[int(job_id)]

    # --- jobs: HTTP ---------------------------------------------------------------------

    def _http_create(self, request: Request) -> Response:
        settings, _acl = validation.check_create_body(self._body(request))
        with self._lock:
            return Response(200, {"job_id": self._store_new_job(settings)})

    @staticmethod
    def _page_arrays(
        container: dict[str, Any], names: tuple[str, ...], page: int
    ) -> tuple[dict[str, Any], bool]:
        """Slice the paged arrays of ``container`` to page ``page``; say if more follow."""
        out = dict(container)
        more = False
        for name in names:
            items = container.get(name)
            if not isinstance(items, list):
                continue
            chunk = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
            if chunk:
                out[name] = chunk
            else:
                out.pop(name, None)
            more = more or len(items) > (page + 1) * PAGE_SIZE
        return out, more

    def _http_get(self, request: Request) -> Response:
        params = self._params(request)
        job_id = _as_int(params, "job_id")
        paged = request.path.startswith("/api/2.2/")
        token = params.get("page_token") or ""
        page = _decode_token(token, "job")["p"] if token else 0
        with self._lock:
            job = copy.deepcopy(self._job(job_id))
        if not paged:
            return Response(200, job)
        settings, more = self._page_arrays(job["settings"], PAGED_JOB_FIELDS, page)
        job["settings"] = settings
        if more:
            job["next_page_token"] = _encode_token({"k": "job", "p": page + 1})
        return Response(200, job)

    def _http_list(self, request: Request) -> Response:
        params = self._params(request)
        limit, offset = _page_window(params, "list", max_limit=100)
        name = params.get("name") or ""
        expand = _as_bool(params.get("expand_tasks", False))
        with self._lock:
            jobs = sorted(
                self._jobs.values(), key=lambda j: (j["created_time"], j["job_id"]), reverse=True
            )
            if name:
                jobs = [
                    j for j in jobs if str(j["settings"].get("name", "")).lower() == name.lower()
                ]
            selected = copy.deepcopy(jobs[offset : offset + limit])
            total = len(jobs)
        reply_jobs = []
        for job in selected:
            if expand:
                job["settings"], more = self._page_arrays(job["settings"], PAGED_JOB_FIELDS, 0)
                job["has_more"] = more
            else:
                for array in ("tasks", "job_clusters"):
                    job["settings"].pop(array, None)
            reply_jobs.append(job)
        reply: dict[str, Any] = {"has_more": offset + limit < total}
        if reply_jobs:
            reply["jobs"] = reply_jobs
        if offset + limit < total:
            reply["next_page_token"] = _encode_token({"k": "list", "o": offset + limit})
        if offset > 0:
            reply["prev_page_token"] = _encode_token({"k": "list", "o": max(0, offset - limit)})
        return Response(200, reply)

    def _http_update(self, request: Request) -> Response:
        self._update(validation.check_body("update", self._body(request)))
        return Response(200, {})

    def _http_reset(self, request: Request) -> Response:
        body = validation.check_body("reset", self._body(request))
        settings = validation.check_settings(body["new_settings"])
        with self._lock:
            self._job(body["job_id"])["settings"] = settings
        return Response(200, {})

    def _http_delete(self, request: Request) -> Response:
        body = self._body(request)
        self.delete_job(_as_int(body, "job_id"))
        return Response(200, {})

    # --- runs: state --------------------------------------------------------------------

    def _new_run(
        self,
        job_id: int,
        *,
        run_type: str,
        run_name: str,
        tasks: list[dict[str, Any]],
        job_clusters: list[dict[str, Any]],
        overrides: dict[str, Any],
    ) -> int:
        if self.next_run_result not in RUN_RESULTS:
            raise ValueError(f"next_run_result must be one of {RUN_RESULTS}")
        run_id = self._next_run_id
        self._next_run_id += 1
        self._runs_per_job[job_id] = self._runs_per_job.get(job_id, 0) + 1
        run_tasks: list[dict[str, Any]] = []
        for task in copy.deepcopy(tasks):
            task_run_id = self._next_run_id
            self._next_run_id += 1
            task["run_id"] = task_run_id
            self._task_runs[task_run_id] = (run_id, len(run_tasks))
            run_tasks.append(task)
        self._runs[run_id] = _Run(
            run_id=run_id,
            job_id=job_id,
            run_type=run_type,
            run_name=run_name,
            number_in_job=self._runs_per_job[job_id] if run_type == "JOB_RUN" else run_id,
            created=time.time(),
            duration=float(self.run_duration),
            outcome=self.next_run_result,
            tasks=run_tasks,
            job_clusters=copy.deepcopy(job_clusters),
            job_parameters=copy.deepcopy(overrides.get("job_parameters") or {}),
            overrides=copy.deepcopy(overrides),
        )
        return run_id

    def _run(self, run_id: int) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFoundError(
                f"Run {run_id} does not exist.", status=400, code="INVALID_PARAMETER_VALUE"
            )
        return run

    def _timeline(self, run: _Run, now: float) -> tuple[str, str | None, float | None]:
        """(life cycle state, result state, end time) of ``run`` at ``now``."""
        if run.canceled_at is not None and run.canceled_at <= now:
            return "TERMINATED", "CANCELED", run.canceled_at
        if run.finished is not None:
            return "TERMINATED", run.finished[1], run.finished[0]
        elapsed = now - run.created
        if run.duration <= 0 or elapsed >= run.duration:
            return "TERMINATED", run.outcome, run.created + max(run.duration, 0.0)
        if elapsed < run.duration * 0.25:
            return "PENDING", None, None
        return "RUNNING", None, None

    @staticmethod
    def _state(life_cycle: str, result: str | None, message: str) -> dict[str, Any]:
        state: dict[str, Any] = {
            "life_cycle_state": life_cycle,
            "state_message": message,
            "user_cancelled_or_timedout": result == "CANCELED",
        }
        if result is not None:
            state["result_state"] = result
        return state

    @staticmethod
    def _status(life_cycle: str, result: str | None, message: str) -> dict[str, Any]:
        status: dict[str, Any] = {"state": life_cycle}
        if result is not None:
            code = {"SUCCESS": "SUCCESS", "CANCELED": "USER_CANCELED"}.get(
                result, "RUN_EXECUTION_ERROR"
            )
            kind = "SUCCESS" if result == "SUCCESS" else "CLIENT_ERROR"
            status["termination_details"] = {"code": code, "type": kind, "message": message}
        return status

    def _run_view(self, run: _Run, now: float | None = None) -> dict[str, Any]:
        """The ``jobs/runs/get`` reply for ``run`` (all pages)."""
        now = time.time() if now is None else now
        life_cycle, result, ended = self._timeline(run, now)
        started_ms = int(run.created * 1000)
        ended_ms = int(ended * 1000) if ended is not None else 0
        message = ""
        if result == "FAILED":
            first = run.tasks[0]["task_key"] if run.tasks else "task"
            message = f"Task {first} failed with message: Workload failed (sandbox)."
        elif result == "CANCELED":
            message = "Run cancelled."
        elif life_cycle == "PENDING":
            message = "Waiting for cluster"
        tasks = []
        for i, task in enumerate(copy.deepcopy(run.tasks)):
            task_result = result
            task_message = ""
            if result == "FAILED":
                task_result = "FAILED" if i == 0 else "UPSTREAM_FAILED"
                task_message = message if i == 0 else "Upstream task failed."
            task["state"] = self._state(life_cycle, task_result, task_message)
            task["status"] = self._status(life_cycle, task_result, task_message)
            task["start_time"] = started_ms
            task["end_time"] = ended_ms
            task["attempt_number"] = 0
            task["run_page_url"] = self._run_url(run.job_id, task["run_id"])
            if life_cycle != "PENDING" and (
                "job_cluster_key" in task or "new_cluster" in task or "existing_cluster_id" in task
            ):
                task["cluster_instance"] = {
                    "cluster_id": task.get("existing_cluster_id") or f"sandbox-{run.run_id}-{i}",
                    "spark_context_id": str(run.run_id * 10 + i),
                }
            tasks.append(task)
        duration_ms = max(ended_ms - started_ms, 0) if ended is not None else 0
        view: dict[str, Any] = {
            "job_id": run.job_id,
            "run_id": run.run_id,
            "number_in_job": run.number_in_job,
            "original_attempt_run_id": run.run_id,
            "run_name": run.run_name,
            "run_type": run.run_type,
            "creator_user_name": self.user_name,
            "trigger": "ONE_TIME",
            "state": self._state(life_cycle, result, message),
            "status": self._status(life_cycle, result, message),
            "start_time": started_ms,
            "end_time": ended_ms,
            "setup_duration": duration_ms // 4,
            "execution_duration": duration_ms - duration_ms // 4,
            "cleanup_duration": 0,
            "run_duration": duration_ms,
            "run_page_url": self._run_url(run.job_id, run.run_id),
            "tasks": tasks,
            "attempt_number": 0,
        }
        if run.job_clusters:
            view["job_clusters"] = copy.deepcopy(run.job_clusters)
        if run.job_parameters:
            view["job_parameters"] = [
                {"name": k, "value": v} for k, v in run.job_parameters.items()
            ]
        overriding = {k: v for k, v in run.overrides.items() if k != "job_parameters"}
        if overriding:
            view["overriding_parameters"] = copy.deepcopy(overriding)
        return view

    def _run_url(self, job_id: int, run_id: int) -> str:
        return f"{self.base_url}/?o={self.workspace_id}#job/{job_id}/run/{run_id}"

    def run_now(self, job_id: int, **overrides: Any) -> int:
        """Start a run of a saved job, like ``jobs/run-now``; return its ``run_id``."""
        body = validation.check_body("run_now", {"job_id": job_id, **overrides})
        return self._run_now(body)

    def _run_now(self, body: dict[str, Any]) -> int:
        token = body.pop("idempotency_token", None)
        with self._lock:
            if token is not None and token in self._idempotency:
                return self._idempotency[token]
            job = self._job(body["job_id"])
            settings = job["settings"]
            overrides = {k: v for k, v in body.items() if k != "job_id"}
            run_id = self._new_run(
                job["job_id"],
                run_type="JOB_RUN",
                run_name=str(settings.get("name", "Untitled")),
                tasks=settings.get("tasks") or [],
                job_clusters=settings.get("job_clusters") or [],
                overrides=overrides,
            )
            if token is not None:
                self._idempotency[token] = run_id
            return run_id

    def get_run(self, run_id: int) -> dict[str, Any]:
        """The ``jobs/runs/get`` reply of a run, all pages merged."""
        with self._lock:
            return self._run_view(self._run(int(run_id)))

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every run (``jobs/runs/get`` replies), oldest first."""
        with self._lock:
            now = time.time()
            return [self._run_view(r, now) for r in self._runs.values()]

    def latest_run_id(self, job_id: int | str) -> int | None:
        """Id of the newest run of a job, or ``None`` (used by the Gradient service)."""
        with self._lock:
            ids = [r.run_id for r in self._runs.values() if str(r.job_id) == str(job_id)]
            return max(ids) if ids else None

    def finish_run(self, run_id: int, result_state: str = "SUCCESS") -> None:
        """End a run now with ``result_state`` (for tests that want a run to stay RUNNING)."""
        with self._lock:
            self._run(int(run_id)).finished = (time.time(), result_state)

    # --- runs: HTTP ---------------------------------------------------------------------

    def _http_run_now(self, request: Request) -> Response:
        body = validation.check_body("run_now", self._body(request))
        run_id = self._run_now(body)
        with self._lock:
            number = self._runs[run_id].number_in_job
        return Response(200, {"run_id": run_id, "number_in_job": number})

    def _http_submit(self, request: Request) -> Response:
        body = validation.check_submit_body(self._body(request))
        token = body.pop("idempotency_token", None)
        with self._lock:
            if token is not None and token in self._idempotency:
                return Response(200, {"run_id": self._idempotency[token]})
            hidden_job_id = self._next_job_id  # one-time runs get a job id that is not a job
            self._next_job_id += 1
            run_id = self._new_run(
                hidden_job_id,
                run_type="SUBMIT_RUN",
                run_name=str(body.get("run_name") or "Untitled"),
                tasks=body.get("tasks") or [],
                job_clusters=[],
                overrides={},
            )
            if token is not None:
                self._idempotency[token] = run_id
        return Response(200, {"run_id": run_id})

    def _lookup_run(self, run_id: int) -> tuple[_Run, int | None]:
        """A run by id, or the parent run and task index of a task run id."""
        if run_id in self._task_runs:
            parent, index = self._task_runs[run_id]
            return self._runs[parent], index
        return self._run(run_id), None

    def _http_get_run(self, request: Request) -> Response:
        params = self._params(request)
        run_id = _as_int(params, "run_id")
        token = params.get("page_token") or ""
        page = _decode_token(token, "run")["p"] if token else 0
        with self._lock:
            run, index = self._lookup_run(run_id)
            view = self._run_view(run)
        if index is not None:
            task = view["tasks"][index]
            view.update(
                {k: task[k] for k in ("run_id", "state", "status", "run_page_url", "task_key")}
            )
            view["tasks"] = [task]
        if not request.path.startswith("/api/2.2/"):
            return Response(200, view)
        view, more = self._page_arrays(view, PAGED_RUN_FIELDS, page)
        if more:
            view["next_page_token"] = _encode_token({"k": "run", "p": page + 1})
        return Response(200, view)

    def _http_get_output(self, request: Request) -> Response:
        run_id = _as_int(self._params(request), "run_id")
        with self._lock:
            run, index = self._lookup_run(run_id)
            view = self._run_view(run)
        if index is None:
            if len(view["tasks"]) != 1:
                _invalid(
                    "Retrieving the output of runs with multiple tasks is not supported. "
                    "Please retrieve the output of each individual task run instead."
                )
            index = 0
        task = view["tasks"][index]
        metadata = {**view, **{k: task[k] for k in ("run_id", "state", "status", "task_key")}}
        metadata["tasks"] = [task]
        output: dict[str, Any] = {"metadata": metadata}
        result = task["state"].get("result_state")
        if result in ("FAILED", "UPSTREAM_FAILED"):
            output["error"] = task["state"]["state_message"] or "Task failed"
            output["error_trace"] = ""
        elif "notebook_task" in task:
            output["notebook_output"] = (
                {"result": "sandbox output", "truncated": False} if result == "SUCCESS" else {}
            )
        else:
            output["logs"] = "sandbox output\n" if result == "SUCCESS" else ""
            output["logs_truncated"] = False
        return Response(200, output)

    def _http_list_runs(self, request: Request) -> Response:
        params = self._params(request)
        limit, offset = _page_window(params, "runs", max_limit=25)
        job_id = params.get("job_id")
        active_only = _as_bool(params.get("active_only", False))
        completed_only = _as_bool(params.get("completed_only", False))
        if active_only and completed_only:
            _invalid("active_only and completed_only cannot both be true")
        with self._lock:
            now = time.time()
            views = [self._run_view(r, now) for r in self._runs.values()]
        if job_id not in (None, ""):
            wanted = _as_int(params, "job_id")
            views = [v for v in views if v["job_id"] == wanted]
        if active_only:
            views = [v for v in views if v["state"]["life_cycle_state"] != "TERMINATED"]
        if completed_only:
            views = [v for v in views if v["state"]["life_cycle_state"] == "TERMINATED"]
        views.sort(key=lambda v: (v["start_time"], v["run_id"]), reverse=True)
        selected = views[offset : offset + limit]
        if not _as_bool(params.get("expand_tasks", False)):
            for view in selected:
                view.pop("tasks", None)
                view.pop("job_clusters", None)
        reply: dict[str, Any] = {"has_more": offset + limit < len(views)}
        if selected:
            reply["runs"] = selected
        if offset + limit < len(views):
            reply["next_page_token"] = _encode_token({"k": "runs", "o": offset + limit})
        return Response(200, reply)

    def _cancel(self, run: _Run, now: float) -> None:
        if self._timeline(run, now)[0] != "TERMINATED":
            run.canceled_at = now

    def _http_cancel(self, request: Request) -> Response:
        run_id = _as_int(self._body(request), "run_id")
        with self._lock:
            run, _ = self._lookup_run(run_id)
            self._cancel(run, time.time())
        return Response(200, {})

    def _http_cancel_all(self, request: Request) -> Response:
        job_id = _as_int(self._body(request), "job_id")
        with self._lock:
            self._job(job_id)
            now = time.time()
            for run in self._runs.values():
                if run.job_id == job_id:
                    self._cancel(run, now)
        return Response(200, {})

    def _http_delete_run(self, request: Request) -> Response:
        run_id = _as_int(self._body(request), "run_id")
        with self._lock:
            run = self._run(run_id)
            if self._timeline(run, time.time())[0] != "TERMINATED":
                _invalid(f"Run {run_id} is active: cancel it before deleting it.")
            del self._runs[run_id]
            for task in run.tasks:
                self._task_runs.pop(task["run_id"], None)
        return Response(200, {})

    # --- notification destinations ------------------------------------------------------

    def _destination(self, destination_id: str) -> dict[str, Any]:
        destination = self._destinations.get(destination_id)
        if destination is None:
            raise NotFoundError(
                f"Notification destination {destination_id} does not exist.",
                status=404,
                code="RESOURCE_DOES_NOT_EXIST",
            )
        return destination

    @staticmethod
    def _destination_view(destination: dict[str, Any], *, summary: bool = False) -> dict[str, Any]:
        """What the API shows: secrets replaced by ``*_set`` flags."""
        view: dict[str, Any] = {
            "id": destination["id"],
            "display_name": destination["display_name"],
            "destination_type": destination["destination_type"],
        }
        if summary:
            return view
        from databricks.sdk.service import settings as sdk_settings

        kind = destination["kind"]
        inner = destination["config"]
        config_class = {
            "generic_webhook": sdk_settings.GenericWebhookConfig,
            "slack": sdk_settings.SlackConfig,
            "microsoft_teams": sdk_settings.MicrosoftTeamsConfig,
            "pagerduty": sdk_settings.PagerdutyConfig,
            "email": sdk_settings.EmailConfig,
        }.get(kind)
        names = list(getattr(config_class, "__dataclass_fields__", {}) or inner)
        shown: dict[str, Any] = {}
        for name in names:
            if name.endswith("_set"):
                shown[name] = bool(inner.get(name[: -len("_set")]))
            elif f"{name}_set" not in names and name in inner:
                shown[name] = copy.deepcopy(inner[name])
        view["config"] = {kind: shown}
        return view

    def create_destination(
        self,
        display_name: str,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        destination_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a generic-webhook destination; return the API view (no secrets)."""
        webhook: dict[str, Any] = {"url": url}
        if username is not None:
            webhook["username"] = username
        if password is not None:
            webhook["password"] = password
        return self._create_destination(
            {"display_name": display_name, "config": {"generic_webhook": webhook}},
            destination_id,
        )

    def _create_destination(
        self, body: dict[str, Any], destination_id: str | None = None
    ) -> dict[str, Any]:
        unknown = set(body) - {"display_name", "config"}
        if unknown:
            raise ValidationError(f"Unknown field '{sorted(unknown)[0]}'")
        display_name = body.get("display_name")
        if not isinstance(display_name, str) or not display_name:
            raise ValidationError("display_name is required")
        kind, inner = validation.check_notification_config(body.get("config"))
        with self._lock:
            if any(d["display_name"] == display_name for d in self._destinations.values()):
                _fail(
                    409,
                    "RESOURCE_ALREADY_EXISTS",
                    f"Notification destination with name {display_name!r} already exists.",
                )
            new_id = destination_id or str(uuid.uuid4())
            self._destinations[new_id] = {
                "id": new_id,
                "display_name": display_name,
                "destination_type": _DESTINATION_TYPES.get(kind, kind.upper()),
                "kind": kind,
                "config": copy.deepcopy(inner),
            }
            return self._destination_view(self._destinations[new_id])

    @property
    def destinations(self) -> list[dict[str, Any]]:
        """Every destination as stored, secrets included (for assertions in tests)."""
        with self._lock:
            return [copy.deepcopy(d) for d in self._destinations.values()]

    def _http_create_destination(self, request: Request) -> Response:
        return Response(200, self._create_destination(self._body(request)))

    def _http_list_destinations(self, request: Request) -> Response:
        params = self._params(request)
        size = _as_int(params, "page_size", 20)
        if not 1 <= size <= 100:
            _invalid(f"Invalid page_size {size}: must be between 1 and 100")
        token = params.get("page_token") or ""
        offset = _decode_token(token, "dest")["o"] if token else 0
        with self._lock:
            items = list(self._destinations.values())
            page = [self._destination_view(d, summary=True) for d in items[offset : offset + size]]
        reply: dict[str, Any] = {"results": page}
        if offset + size < len(items):
            reply["next_page_token"] = _encode_token({"k": "dest", "o": offset + size})
        return Response(200, reply)

    def _http_get_destination(self, request: Request) -> Response:
        with self._lock:
            return Response(200, self._destination_view(self._destination(request.params["id"])))

    def _http_update_destination(self, request: Request) -> Response:
        body = self._body(request)
        unknown = set(body) - {"display_name", "config"}
        if unknown:
            raise ValidationError(f"Unknown field '{sorted(unknown)[0]}'")
        with self._lock:
            destination = self._destination(request.params["id"])
            if "config" in body:
                kind, inner = validation.check_notification_config(body["config"])
                if kind != destination["kind"]:
                    _invalid(
                        f"Cannot change the type of destination {destination['id']} "
                        f"from {destination['kind']} to {kind}"
                    )
                destination["config"].update(copy.deepcopy(inner))
            if "display_name" in body:
                if not isinstance(body["display_name"], str) or not body["display_name"]:
                    _invalid("display_name must be a non-empty string")
                destination["display_name"] = body["display_name"]
            return Response(200, self._destination_view(destination))

    def _http_delete_destination(self, request: Request) -> Response:
        with self._lock:
            self._destination(request.params["id"])
            del self._destinations[request.params["id"]]
        return Response(200, {})
