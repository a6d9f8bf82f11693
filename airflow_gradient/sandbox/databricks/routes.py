"""HTTP side of the emulated Databricks workspace: Jobs API 2.1/2.2 and notification destinations.

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

Handlers parse and page; state lives in :class:`~.backend.DatabricksBackend`.
"""

from __future__ import annotations

import secrets
from typing import Any

from airflow_gradient.sandbox import validation
from airflow_gradient.sandbox.databricks.backend import DatabricksBackend
from airflow_gradient.sandbox.databricks.params import (
    as_bool,
    as_int,
    decode_token,
    encode_token,
    fail,
    invalid,
    is_paged_api,
    json_body,
    page_arrays,
    page_window,
    query_params,
)
from airflow_gradient.sandbox.errors import ConflictError, NotFoundError, ValidationError
from airflow_gradient.sandbox.routing import Request, Response, Service

PAGED_JOB_FIELDS = ("tasks", "job_clusters", "parameters", "environments")
PAGED_RUN_FIELDS = ("tasks", "job_clusters")

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


class DatabricksRoutes(Service):
    """The Databricks REST endpoints over a :class:`DatabricksBackend`.

    :param backend: the workspace state these routes read and change.
    """

    name = "databricks"

    def __init__(self, backend: DatabricksBackend) -> None:
        super().__init__()
        self.backend = backend
        r = self.router
        r.add("GET", "/.well-known/databricks-config", self._well_known, public=True)
        for version in ("2.1", "2.2"):
            base = f"/api/{version}/jobs"
            r.add("POST", f"{base}/create", self._create)
            r.add("GET", f"{base}/get", self._get)
            r.add("GET", f"{base}/list", self._list)
            r.add("POST", f"{base}/update", self._update)
            r.add("POST", f"{base}/reset", self._reset)
            r.add("POST", f"{base}/delete", self._delete)
            r.add("POST", f"{base}/run-now", self._run_now)
            r.add("POST", f"{base}/runs/submit", self._submit)
            r.add("GET", f"{base}/runs/get", self._get_run)
            r.add("GET", f"{base}/runs/get-output", self._get_output)
            r.add("GET", f"{base}/runs/list", self._list_runs)
            r.add("POST", f"{base}/runs/cancel", self._cancel)
            r.add("POST", f"{base}/runs/cancel-all", self._cancel_all)
            r.add("POST", f"{base}/runs/delete", self._delete_run)
        dest = "/api/2.0/notification-destinations"
        r.add("POST", dest, self._create_destination)
        r.add("GET", dest, self._list_destinations)
        r.add("GET", dest + "/{id}", self._get_destination)
        r.add("PATCH", dest + "/{id}", self._update_destination)
        r.add("DELETE", dest + "/{id}", self._delete_destination)

    # --- envelopes and auth -------------------------------------------------------------

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
        """Invalid settings, missing objects and name clashes become Databricks errors."""
        if isinstance(exc, ValidationError):
            return self.error(400, str(exc), "INVALID_PARAMETER_VALUE")
        if isinstance(exc, NotFoundError):
            return self.error(exc.status, exc.message, exc.code or None)
        if isinstance(exc, ConflictError):
            return self.error(409, str(exc), "RESOURCE_ALREADY_EXISTS")
        return None

    def authenticate(self, request: Request) -> None:
        """Accept ``Authorization: Bearer <token>`` with the sandbox's token only."""
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if not header:
            fail(401, "UNAUTHENTICATED", "Unauthorized access: no credentials were provided.")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            credential.strip().encode(), self.backend.token.encode()
        ):
            fail(403, "PERMISSION_DENIED", "Invalid access token.")

    @staticmethod
    def _well_known(request: Request) -> Response:
        # databricks-sdk probes this when a client is built; a prompt 404 makes it fall back.
        return Response(404, {"error_code": "NOT_FOUND", "message": "Not Found"})

    # --- jobs ---------------------------------------------------------------------------

    def _create(self, request: Request) -> Response:
        return Response(200, {"job_id": self.backend.create_job(json_body(request))})

    def _get(self, request: Request) -> Response:
        params = query_params(request)
        job_id = as_int(params, "job_id")
        token = params.get("page_token") or ""
        page = decode_token(token, "job")["p"] if token else 0
        job = self.backend.get_job(job_id)
        if not is_paged_api(request):
            return Response(200, job)
        settings, more = page_arrays(job["settings"], PAGED_JOB_FIELDS, page)
        job["settings"] = settings
        if more:
            job["next_page_token"] = encode_token({"k": "job", "p": page + 1})
        return Response(200, job)

    def _list(self, request: Request) -> Response:
        params = query_params(request)
        limit, offset = page_window(params, "list", max_limit=100)
        name = params.get("name") or ""
        expand = as_bool(params.get("expand_tasks", False))
        jobs = sorted(
            self.backend.jobs, key=lambda j: (j["created_time"], j["job_id"]), reverse=True
        )
        if name:
            jobs = [j for j in jobs if str(j["settings"].get("name", "")).lower() == name.lower()]
        selected = jobs[offset : offset + limit]
        for job in selected:
            if expand:
                job["settings"], more = page_arrays(job["settings"], PAGED_JOB_FIELDS, 0)
                job["has_more"] = more
            else:
                for array in ("tasks", "job_clusters"):
                    job["settings"].pop(array, None)
        total = len(jobs)
        reply: dict[str, Any] = {"has_more": offset + limit < total}
        if selected:
            reply["jobs"] = selected
        if offset + limit < total:
            reply["next_page_token"] = encode_token({"k": "list", "o": offset + limit})
        if offset > 0:
            reply["prev_page_token"] = encode_token({"k": "list", "o": max(0, offset - limit)})
        return Response(200, reply)

    def _update(self, request: Request) -> Response:
        self.backend.apply_update(validation.check_body("update", json_body(request)))
        return Response(200, {})

    def _reset(self, request: Request) -> Response:
        body = validation.check_body("reset", json_body(request))
        settings = validation.check_settings(body["new_settings"])
        self.backend.replace_settings(body["job_id"], settings)
        return Response(200, {})

    def _delete(self, request: Request) -> Response:
        self.backend.delete_job(as_int(json_body(request), "job_id"))
        return Response(200, {})

    # --- runs ---------------------------------------------------------------------------

    def _run_now(self, request: Request) -> Response:
        run_id = self.backend.start_run(validation.check_body("run_now", json_body(request)))
        return Response(200, {"run_id": run_id, "number_in_job": self.backend.run_number(run_id)})

    def _submit(self, request: Request) -> Response:
        body = validation.check_submit_body(json_body(request))
        return Response(200, {"run_id": self.backend.submit_run(body)})

    def _get_run(self, request: Request) -> Response:
        params = query_params(request)
        run_id = as_int(params, "run_id")
        token = params.get("page_token") or ""
        page = decode_token(token, "run")["p"] if token else 0
        # A later page continues the same read: only the first page moves the run on.
        view, index = self.backend.run_or_task_view(run_id, read=not token)
        if index is not None:
            task = view["tasks"][index]
            view.update(
                {k: task[k] for k in ("run_id", "state", "status", "run_page_url", "task_key")}
            )
            view["tasks"] = [task]
        if not is_paged_api(request):
            return Response(200, view)
        view, more = page_arrays(view, PAGED_RUN_FIELDS, page)
        if more:
            view["next_page_token"] = encode_token({"k": "run", "p": page + 1})
        return Response(200, view)

    def _get_output(self, request: Request) -> Response:
        view, index = self.backend.run_or_task_view(as_int(query_params(request), "run_id"))
        if index is None:
            if len(view["tasks"]) != 1:
                invalid(
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

    def _list_runs(self, request: Request) -> Response:
        params = query_params(request)
        limit, offset = page_window(params, "runs", max_limit=25)
        job_id = params.get("job_id")
        active_only = as_bool(params.get("active_only", False))
        completed_only = as_bool(params.get("completed_only", False))
        if active_only and completed_only:
            invalid("active_only and completed_only cannot both be true")
        views = self.backend.runs
        if job_id not in (None, ""):
            wanted = as_int(params, "job_id")
            views = [v for v in views if v["job_id"] == wanted]
        if active_only:
            views = [v for v in views if v["state"]["life_cycle_state"] != "TERMINATED"]
        if completed_only:
            views = [v for v in views if v["state"]["life_cycle_state"] == "TERMINATED"]
        views.sort(key=lambda v: (v["start_time"], v["run_id"]), reverse=True)
        selected = views[offset : offset + limit]
        if not as_bool(params.get("expand_tasks", False)):
            for view in selected:
                view.pop("tasks", None)
                view.pop("job_clusters", None)
        reply: dict[str, Any] = {"has_more": offset + limit < len(views)}
        if selected:
            reply["runs"] = selected
        if offset + limit < len(views):
            reply["next_page_token"] = encode_token({"k": "runs", "o": offset + limit})
        return Response(200, reply)

    def _cancel(self, request: Request) -> Response:
        self.backend.cancel_run(as_int(json_body(request), "run_id"))
        return Response(200, {})

    def _cancel_all(self, request: Request) -> Response:
        self.backend.cancel_job_runs(as_int(json_body(request), "job_id"))
        return Response(200, {})

    def _delete_run(self, request: Request) -> Response:
        self.backend.delete_run(as_int(json_body(request), "run_id"))
        return Response(200, {})

    # --- notification destinations ------------------------------------------------------

    def _create_destination(self, request: Request) -> Response:
        return Response(200, self.backend.create_destination_from_body(json_body(request)))

    def _list_destinations(self, request: Request) -> Response:
        params = query_params(request)
        size = as_int(params, "page_size", 20)
        if not 1 <= size <= 100:
            invalid(f"Invalid page_size {size}: must be between 1 and 100")
        token = params.get("page_token") or ""
        offset = decode_token(token, "dest")["o"] if token else 0
        items = self.backend.destination_summaries()
        reply: dict[str, Any] = {"results": items[offset : offset + size]}
        if offset + size < len(items):
            reply["next_page_token"] = encode_token({"k": "dest", "o": offset + size})
        return Response(200, reply)

    def _get_destination(self, request: Request) -> Response:
        return Response(200, self.backend.get_destination(request.params["id"]))

    def _update_destination(self, request: Request) -> Response:
        body = json_body(request)
        return Response(200, self.backend.update_destination(request.params["id"], body))

    def _delete_destination(self, request: Request) -> Response:
        self.backend.delete_destination(request.params["id"])
        return Response(200, {})
