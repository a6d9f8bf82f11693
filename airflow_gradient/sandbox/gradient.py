"""The emulated Gradient (Sync Computing) API, as described in ``docs/gradient-api.md``.

Every reply is the ``{"result": ...}`` envelope, every error
``{"error": {"code", "message", "detail"}}``. Tokens come from ``POST /v1/auth/token`` and
expire after ``token_lifetime`` seconds (or at once with :meth:`GradientService.expire_tokens`).

A recommendation requested with ``POST .../recommendations`` starts ``PENDING`` and is
completed after ``recommendation_ready_after_reads`` reads of it (or of the list) and/or
``recommendation_ready_after_seconds``; its configuration is derived from the project's job as
it is *then* in the Databricks service of the same sandbox.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NoReturn

from airflow_gradient.sandbox.databricks import DatabricksService
from airflow_gradient.sandbox.errors import NotFoundError, ValidationError
from airflow_gradient.sandbox.server import HttpError, Request, Response, Service

PRODUCTS = ("aws-databricks", "azure-databricks")
STATES = ("PENDING", "SUCCESS", "FAILURE")
DEFAULT_PREDICTION_PARAMS: dict[str, Any] = {
    "sla_minutes": 60,
    "fix_worker_family": True,
    "fix_driver_type": True,
    "fix_scaling_type": False,
    "force_ondemand_workers": False,
    "force_ondemand_basis": False,
}
DEFAULT_FAILURE_ERROR = "No event log found for the latest run"
_CLUSTER_PATH = re.compile(r"^(job_clusters|tasks)/.+$")
_PROJECT_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "app_id": (str,),
    "description": (str,),
    "product_code": (str,),
    "job_id": (str, int),
    "cluster_path": (str,),
    "workspace_id": (str, int),
    "cluster_log_url": (str,),
    "auto_apply_recs": (bool,),
    "prediction_params": (dict,),
    "optimize_instance_size": (bool,),
    "project_model_id": (str,),
}
_AWS_KEYS = (
    "availability",
    "first_on_demand",
    "spot_bid_price_percent",
    "ebs_volume_type",
    "ebs_volume_count",
    "ebs_volume_size",
)
_AZURE_KEYS = ("availability", "first_on_demand", "spot_bid_max_price")


def iso(moment: datetime) -> str:
    """``2024-02-14T21:26:37Z``: the timestamp format of the Gradient API."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str | datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _fail(status: int, code: str, message: str, detail: Any = None) -> NoReturn:
    raise HttpError(
        Response(status, {"error": {"code": code, "message": message, "detail": detail}})
    )


def _ok(result: Any, status: int = 200) -> Response:
    return Response(status, {"result": result})


_NOT_GIVEN: Any = object()


@dataclass
class _Recommendation:
    """A stored recommendation and how (if ever) it completes."""

    id: str
    seq: int
    created_at: datetime
    created_text: str
    updated_at: datetime
    state: str
    configuration: dict[str, Any] | None
    metrics: dict[str, Any] | None
    prediction_params: dict[str, Any]
    phase: str
    error: str | None
    raw: Any = _NOT_GIVEN
    requested: bool = False
    reads: int = 0
    ready_after_reads: int | None = None
    ready_at: float | None = None
    outcome: str = "SUCCESS"
    context: dict[str, Any] = field(default_factory=dict)


def locate_cluster(
    settings: dict[str, Any], project_id: str, cluster_path: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The cluster of a job a project tunes: by ``sync:project-id`` tag, path, or the only one."""
    candidates: list[tuple[str, dict[str, Any]]] = []
    for cluster in settings.get("job_clusters") or []:
        if isinstance(cluster.get("new_cluster"), dict):
            candidates.append(
                (f"job_clusters/{cluster['job_cluster_key']}", cluster["new_cluster"])
            )
    for task in settings.get("tasks") or []:
        if isinstance(task.get("new_cluster"), dict):
            candidates.append((f"tasks/{task['task_key']}", task["new_cluster"]))
    for path, spec in candidates:
        if (spec.get("custom_tags") or {}).get("sync:project-id") == project_id:
            return path, spec
    for path, spec in candidates:
        if path == cluster_path:
            return path, spec
    if len(candidates) == 1:
        return candidates[0]
    return None


class GradientService(Service):
    """Emulated Gradient API; also the Python API behind ``Sandbox.gradient``.

    :param lock: the sandbox-wide lock guarding all state.
    :param api_key_id: the API key id clients exchange for a token.
    :param api_key_secret: its secret.
    :param token_lifetime: seconds an access token stays valid.
    :param databricks: the Databricks service of the same sandbox (jobs to recommend for).
    """

    name = "gradient"

    def __init__(
        self,
        lock: threading.RLock,
        api_key_id: str,
        api_key_secret: str,
        token_lifetime: float,
        databricks: DatabricksService,
    ) -> None:
        super().__init__()
        self._lock = lock
        self.api_key_id = api_key_id
        self.api_key_secret = api_key_secret
        self.token_lifetime = token_lifetime
        """Seconds a newly issued access token stays valid."""
        self.databricks = databricks
        self.base_url = "http://127.0.0.1"
        self.tenant_id = str(uuid.uuid4())
        self.recommendation_ready_after_reads: int | None = 1
        """Reads of a requested recommendation (or its list) while it still shows PENDING."""
        self.recommendation_ready_after_seconds: float | None = None
        """Seconds after which a requested recommendation completes (``None``: not timed)."""
        self.next_recommendation_outcome = "SUCCESS"
        """How requested recommendations complete from now on: ``SUCCESS`` or ``FAILURE``."""
        self.recommendation_failure_error = DEFAULT_FAILURE_ERROR
        """The ``error`` text of a recommendation that completes as ``FAILURE``."""
        self.recommendation_phase = "OPTIMIZING"
        """``context.phase`` of requested recommendations."""
        self._tokens: dict[str, float] = {}
        self._projects: dict[str, dict[str, Any]] = {}
        self._recommendations: dict[str, list[_Recommendation]] = {}
        self._workspaces: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self._register_routes()

    # --- plumbing ------------------------------------------------------------------------

    def _register_routes(self) -> None:
        r = self.router
        r.add("POST", "/v1/auth/token", self._http_token, public=True)
        r.add("GET", "/v1/projects/products", self._http_products)
        r.add("GET", "/v1/projects", self._http_list_projects)
        r.add("POST", "/v1/projects", self._http_create_project)
        r.add("GET", "/v1/projects/{project_id}", self._http_get_project)
        r.add("PUT", "/v1/projects/{project_id}", self._http_update_project)
        recs = "/v1/projects/{project_id}/recommendations"
        r.add("GET", recs, self._http_list_recommendations)
        r.add("POST", recs, self._http_request_recommendation)
        r.add("GET", recs + "/{recommendation_id}", self._http_get_recommendation)
        r.add("GET", "/v1/projects/{project_id}/cluster/template", self._http_cluster_template)
        r.add("GET", "/v1/databricks/workspaces/{workspace_id}", self._http_get_workspace)

    def error(self, status: int, message: str, code: str | None = None) -> Response:
        """Gradient's envelope: ``{"error": {"code", "message", "detail"}}``."""
        if code is None:
            try:
                code = HTTPStatus(status).phrase
            except ValueError:
                code = "Error"
        return Response(status, {"error": {"code": code, "message": message, "detail": None}})

    def map_error(self, exc: Exception) -> Response | None:
        """Missing objects become 404 with the Gradient code; invalid input 422."""
        if isinstance(exc, NotFoundError):
            return self.error(exc.status, exc.message, exc.code or None)
        if isinstance(exc, ValidationError):
            return self.error(422, str(exc), "Validation Error")
        return None

    def authenticate(self, request: Request) -> None:
        """Accept a bearer token issued by ``/v1/auth/token`` and not yet expired."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            _fail(401, "Unauthorized", "Missing bearer token")
        with self._lock:
            expiry = self._tokens.get(token)
        if expiry is None:
            _fail(401, "Unauthorized", "Invalid access token")
        if time.time() >= expiry:
            _fail(401, "Unauthorized", "Access token expired")

    @staticmethod
    def _body(request: Request) -> Any:
        if not request.body.strip():
            return {}
        try:
            return json.loads(request.body)
        except ValueError:
            _fail(400, "Bad Request", "Request body is not valid JSON")

    def _object_body(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        if not isinstance(body, dict):
            _fail(422, "Validation Error", "Request body must be a JSON object")
        return body

    # --- auth ----------------------------------------------------------------------------

    def _http_token(self, request: Request) -> Response:
        body = self._object_body(request)
        key_id, key_secret = body.get("api_key_id"), body.get("api_key_secret")
        if not isinstance(key_id, str) or not isinstance(key_secret, str):
            _fail(422, "Validation Error", "api_key_id and api_key_secret are required strings")
        valid = secrets.compare_digest(key_id.encode(), self.api_key_id.encode())
        valid &= secrets.compare_digest(key_secret.encode(), self.api_key_secret.encode())
        if not valid:
            _fail(401, "Unauthorized", "Invalid API key id or secret")
        token = "gst_" + secrets.token_urlsafe(32)
        expiry = time.time() + float(self.token_lifetime)
        with self._lock:
            self._tokens[token] = expiry
        # Whole seconds, rounded down: a client never thinks the token lives longer than it does.
        expires = iso(datetime.fromtimestamp(int(expiry), UTC))
        return _ok({"access_token": token, "expires_at_utc": expires})

    def expire_tokens(self) -> None:
        """Make every token issued so far expired: the next call with one gets a 401."""
        with self._lock:
            now = time.time()
            for token in self._tokens:
                self._tokens[token] = min(self._tokens[token], now)

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token issued so far (to check that none leaks into logs or XComs)."""
        with self._lock:
            return list(self._tokens)

    @property
    def tokens_issued(self) -> int:
        """How many access tokens were issued (to check a client reuses its token)."""
        with self._lock:
            return len(self._tokens)

    # --- projects ------------------------------------------------------------------------

    def _project(self, project_id: str) -> dict[str, Any]:
        project = self._projects.get(project_id)
        if project is None:
            raise NotFoundError(
                f"No project with id {project_id}", status=404, code="Project Not Found"
            )
        return project

    @staticmethod
    def _checked_fields(fields: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, given in fields.items():
            if name not in _PROJECT_FIELDS:
                raise ValidationError(f"Unknown or read-only project field {name!r}")
            allowed = _PROJECT_FIELDS[name]
            if given is not None and (
                not isinstance(given, allowed) or (isinstance(given, bool) and bool not in allowed)
            ):
                raise ValidationError(f"Invalid value for project field {name!r}: {given!r}")
            value = (
                str(given) if name in ("job_id", "workspace_id") and given is not None else given
            )
            if name == "product_code" and value not in PRODUCTS:
                raise ValidationError(f"product_code must be one of {', '.join(PRODUCTS)}")
            if name == "cluster_path" and value is not None and not _CLUSTER_PATH.match(str(value)):
                raise ValidationError(
                    "cluster_path must look like job_clusters/<job_cluster_key> or tasks/<task_key>"
                )
            out[name] = copy.deepcopy(value)
        return out

    def create_project(
        self,
        job_id: int | str | None = None,
        cluster_path: str | None = None,
        auto_apply_recs: bool = False,
        *,
        project_id: str | None = None,
        name: str | None = None,
        workspace_id: str | None = None,
        product_code: str = "aws-databricks",
        prediction_params: dict[str, Any] | None = None,
        app_id: str | None = None,
        description: str | None = None,
        cluster_log_url: str | None = None,
        optimize_instance_size: bool = False,
    ) -> dict[str, Any]:
        """Create a project for a Databricks job; return it as ``GET /v1/projects/{id}`` does."""
        new_id = project_id or str(uuid.uuid4())
        fields = self._checked_fields(
            {
                "job_id": job_id,
                "cluster_path": cluster_path,
                "auto_apply_recs": auto_apply_recs,
                "name": name,
                "workspace_id": workspace_id,
                "product_code": product_code,
                "prediction_params": prediction_params,
                "app_id": app_id,
                "description": description,
                "cluster_log_url": cluster_log_url,
                "optimize_instance_size": optimize_instance_size,
            }
        )
        now = iso(datetime.now(UTC))
        project = {
            "id": new_id,
            "name": fields["name"] or f"project-{new_id[:8]}",
            "app_id": fields["app_id"] or fields["name"] or f"app-{new_id[:8]}",
            "description": fields["description"],
            "product_code": fields["product_code"],
            "job_id": fields["job_id"],
            "cluster_path": fields["cluster_path"],
            "workspace_id": fields["workspace_id"] or self.databricks.workspace_id,
            "cluster_log_url": fields["cluster_log_url"],
            "auto_apply_recs": fields["auto_apply_recs"],
            "prediction_params": fields["prediction_params"] or dict(DEFAULT_PREDICTION_PARAMS),
            "optimize_instance_size": fields["optimize_instance_size"],
            "project_model_id": "GRADIENT_ML",
            "created_at": now,
            "updated_at": now,
        }
        with self._lock:
            if new_id in self._projects:
                raise ValidationError(f"A project with id {new_id} already exists")
            self._projects[new_id] = project
            self._recommendations[new_id] = []
            return copy.deepcopy(project)

    def get_project(self, project_id: str) -> dict[str, Any]:
        """A project as the API returns it."""
        with self._lock:
            return copy.deepcopy(self._project(project_id))

    @property
    def projects(self) -> list[dict[str, Any]]:
        """Every project, oldest first."""
        with self._lock:
            return [copy.deepcopy(p) for p in self._projects.values()]

    def update_project(self, project_id: str, **fields: Any) -> dict[str, Any]:
        """Change some fields of a project (like ``PUT /v1/projects/{id}``); return it."""
        checked = self._checked_fields(fields)
        with self._lock:
            project = self._project(project_id)
            project.update(checked)
            project["updated_at"] = iso(datetime.now(UTC))
            return copy.deepcopy(project)

    def _http_products(self, request: Request) -> Response:
        return _ok(list(PRODUCTS))

    def _http_list_projects(self, request: Request) -> Response:
        app_id = request.query.get("app_id")
        with self._lock:
            projects = [
                copy.deepcopy(p)
                for p in self._projects.values()
                if app_id is None or p["app_id"] == app_id
            ]
        return _ok(projects)

    def _http_create_project(self, request: Request) -> Response:
        body = self._object_body(request)
        if not isinstance(body.get("name"), str):
            raise ValidationError("name is required")
        unknown = set(body) - (set(_PROJECT_FIELDS) - {"project_model_id"})
        if unknown:
            raise ValidationError(f"Unknown or read-only project field {sorted(unknown)[0]!r}")
        return _ok(self.create_project(**body))

    def _http_get_project(self, request: Request) -> Response:
        return _ok(self.get_project(request.params["project_id"]))

    def _http_update_project(self, request: Request) -> Response:
        body = self._object_body(request)
        return _ok(self.update_project(request.params["project_id"], **body))

    # --- recommendations -----------------------------------------------------------------

    def _recommendation(self, project_id: str, recommendation_id: str) -> _Recommendation:
        self._project(project_id)
        for rec in self._recommendations[project_id]:
            if rec.id == recommendation_id:
                return rec
        raise NotFoundError(
            f"No recommendation with id {recommendation_id} in project {project_id}",
            status=404,
            code="Recommendation Not Found",
        )

    def _generate(self, project: dict[str, Any], recommendation_id: str) -> dict[str, Any]:
        """A plausible configuration for the project's job cluster, or raise ``LookupError``."""
        job_id = project.get("job_id")
        settings = self.databricks.job_settings(job_id) if job_id else None
        if settings is None:
            raise LookupError(f"Databricks job {job_id} of project {project['id']} not found")
        located = locate_cluster(settings, project["id"], project.get("cluster_path"))
        if located is None:
            raise LookupError(
                f"Could not tell which cluster of job {job_id} project {project['id']} tunes"
            )
        _path, spec = located
        autoscale = spec.get("autoscale") or {}
        current_max = int(autoscale.get("max_workers") or spec.get("num_workers") or 2)
        workers = max(1, round(current_max * 0.75))
        run_id = self.databricks.latest_run_id(job_id) if job_id else None
        node_type = spec.get("node_type_id") or "m5.xlarge"
        configuration: dict[str, Any] = {
            "node_type_id": node_type,
            "driver_node_type_id": spec.get("driver_node_type_id") or node_type,
            "num_workers": workers,
            "spark_version": spec.get("spark_version") or "15.4.x-scala2.12",
            "runtime_engine": spec.get("runtime_engine") or "STANDARD",
            "spark_conf": {"spark.databricks.isv.product": "sync-gradient"},
            "custom_tags": {
                "sync:project-id": project["id"],
                "sync:run-id": str(run_id) if run_id is not None else str(uuid.uuid4()),
                "sync:recommendation-id": recommendation_id,
                "sync:tenant-id": self.tenant_id,
            },
        }
        if project.get("product_code") == "azure-databricks":
            current = spec.get("azure_attributes") or {}
            configuration["azure_attributes"] = {
                "availability": "SPOT_WITH_FALLBACK_AZURE",
                "first_on_demand": 1,
                "spot_bid_max_price": -1,
                **{k: current[k] for k in _AZURE_KEYS if k in current},
            }
        else:
            current = spec.get("aws_attributes") or {}
            configuration["aws_attributes"] = {
                "availability": "SPOT_WITH_FALLBACK",
                "first_on_demand": 1,
                **{k: current[k] for k in _AWS_KEYS if k in current},
            }
        return configuration

    @staticmethod
    def _default_metrics(configuration: dict[str, Any] | None) -> dict[str, Any]:
        workers = 4
        if configuration:
            autoscale = configuration.get("autoscale") or {}
            workers = int(configuration.get("num_workers") or autoscale.get("max_workers") or 4)
        cost = round(1.5 + 2.2 * workers, 2)
        return {
            "spark_duration_minutes": round(20.0 + 90.0 / max(workers, 1), 1),
            "spark_cost_requested_usd": cost,
            "spark_cost_lower_usd": round(cost * 0.88, 2),
            "spark_cost_midpoint_usd": cost,
            "spark_cost_upper_usd": round(cost * 1.13, 2),
        }

    def _complete_if_ready(self, project: dict[str, Any], rec: _Recommendation) -> None:
        if not rec.requested or rec.state != "PENDING":
            return
        by_reads = rec.ready_after_reads is not None and rec.reads >= rec.ready_after_reads
        by_time = rec.ready_at is not None and time.time() >= rec.ready_at
        untimed = rec.ready_after_reads is None and rec.ready_at is None
        if not (by_reads or by_time or untimed):
            return
        rec.updated_at = datetime.now(UTC)
        if rec.outcome == "FAILURE":
            rec.state, rec.error = "FAILURE", self.recommendation_failure_error
            return
        try:
            rec.configuration = self._generate(project, rec.id)
        except LookupError as exc:
            rec.state, rec.error = "FAILURE", str(exc)
            return
        rec.state = "SUCCESS"
        rec.metrics = self._default_metrics(rec.configuration)
        rec.prediction_params = copy.deepcopy(project.get("prediction_params") or {})

    @staticmethod
    def _view(rec: _Recommendation) -> Any:
        if rec.raw is not _NOT_GIVEN:
            return copy.deepcopy(rec.raw)
        body: dict[str, Any] | None = None
        if rec.state == "SUCCESS":
            body = {
                "configuration": copy.deepcopy(rec.configuration),
                "metrics": copy.deepcopy(rec.metrics),
                "prediction_params": copy.deepcopy(rec.prediction_params),
            }
        return {
            "id": rec.id,
            "state": rec.state,
            "created_at": rec.created_text,
            "updated_at": iso(rec.updated_at),
            "error": rec.error,
            "recommendation": body,
            "context": {"phase": rec.phase, **copy.deepcopy(rec.context)},
        }

    def _store(self, project_id: str, rec: _Recommendation) -> None:
        if any(r.id == rec.id for r in self._recommendations[project_id]):
            raise ValidationError(f"Recommendation {rec.id} already exists in {project_id}")
        self._recommendations[project_id].append(rec)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add_recommendation(
        self,
        project_id: str,
        configuration: dict[str, Any] | None = None,
        *,
        state: str = "SUCCESS",
        metrics: dict[str, Any] | None = None,
        phase: str = "OPTIMIZING",
        error: str | None = None,
        created_at: str | datetime | None = None,
        recommendation_id: str | None = None,
        raw: Any = None,
    ) -> str:
        """Store a recommendation as Gradient would serve it; return its id.

        With ``configuration=None`` a ``SUCCESS`` recommendation gets one derived from the
        project's job cluster (as a requested one would). ``raw`` (any JSON value) is served
        verbatim as the ``result`` of this recommendation, for malformed-input tests. A
        recommendation added here keeps its state; see :meth:`complete_recommendation`.
        """
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        new_id = recommendation_id or str(uuid.uuid4())
        moment = _parse_time(created_at)
        with self._lock:
            project = self._project(project_id)
            if state == "SUCCESS" and configuration is None and raw is None:
                try:
                    configuration = self._generate(project, new_id)
                except LookupError:
                    configuration = {
                        "node_type_id": "m5.xlarge",
                        "driver_node_type_id": "m5.large",
                        "num_workers": 4,
                        "spark_conf": {"spark.databricks.isv.product": "sync-gradient"},
                        "custom_tags": {
                            "sync:project-id": project_id,
                            "sync:recommendation-id": new_id,
                            "sync:tenant-id": self.tenant_id,
                        },
                    }
            rec = _Recommendation(
                id=new_id,
                seq=self._next_seq(),
                created_at=moment,
                created_text=created_at if isinstance(created_at, str) else iso(moment),
                updated_at=moment,
                state=state,
                configuration=copy.deepcopy(configuration),
                metrics=copy.deepcopy(metrics)
                if metrics is not None
                else self._default_metrics(configuration),
                prediction_params=copy.deepcopy(project.get("prediction_params") or {}),
                phase=phase,
                error=error
                if error is not None
                else (DEFAULT_FAILURE_ERROR if state == "FAILURE" else None),
                raw=copy.deepcopy(raw) if raw is not None else _NOT_GIVEN,
            )
            self._store(project_id, rec)
            return new_id

    def complete_recommendation(
        self,
        project_id: str,
        recommendation_id: str,
        *,
        state: str = "SUCCESS",
        configuration: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Move a recommendation to ``state`` now (configuration derived when ``None``)."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        with self._lock:
            project = self._project(project_id)
            rec = self._recommendation(project_id, recommendation_id)
            rec.requested = False
            rec.state = state
            rec.updated_at = datetime.now(UTC)
            if state == "SUCCESS":
                rec.configuration = copy.deepcopy(configuration) or self._generate(
                    project, recommendation_id
                )
                rec.metrics = self._default_metrics(rec.configuration)
                rec.error = None
            elif state == "FAILURE":
                rec.error = error or self.recommendation_failure_error

    def request_recommendation(self, project_id: str) -> str:
        """Like ``POST .../recommendations``: a new PENDING one that completes per the config."""
        if self.next_recommendation_outcome not in ("SUCCESS", "FAILURE"):
            raise ValueError("next_recommendation_outcome must be 'SUCCESS' or 'FAILURE'")
        now = datetime.now(UTC)
        with self._lock:
            project = self._project(project_id)
            seconds = self.recommendation_ready_after_seconds
            rec = _Recommendation(
                id=str(uuid.uuid4()),
                seq=self._next_seq(),
                created_at=now,
                created_text=iso(now),
                updated_at=now,
                state="PENDING",
                configuration=None,
                metrics=None,
                prediction_params=copy.deepcopy(project.get("prediction_params") or {}),
                phase=self.recommendation_phase,
                error=None,
                requested=True,
                ready_after_reads=self.recommendation_ready_after_reads,
                ready_at=time.time() + seconds if seconds is not None else None,
                outcome=self.next_recommendation_outcome,
                context={"latest_submission_id": str(uuid.uuid4())},
            )
            self._store(project_id, rec)
            return rec.id

    def _ordered(self, project_id: str) -> list[_Recommendation]:
        return sorted(
            self._recommendations[project_id],
            key=lambda r: (r.created_at, r.seq),
            reverse=True,
        )

    def get_recommendation(self, project_id: str, recommendation_id: str) -> Any:
        """A recommendation as the API returns it (not counted as a read)."""
        with self._lock:
            return self._view(self._recommendation(project_id, recommendation_id))

    def recommendations(self, project_id: str) -> list[Any]:
        """Every recommendation of a project, newest first (not counted as reads)."""
        with self._lock:
            self._project(project_id)
            return [self._view(r) for r in self._ordered(project_id)]

    def _read(self, project: dict[str, Any], recs: list[_Recommendation]) -> None:
        """A client read these: complete the ones that are due, then count the read."""
        for rec in recs:
            self._complete_if_ready(project, rec)
        for rec in recs:
            if rec.requested and rec.state == "PENDING":
                rec.reads += 1

    @staticmethod
    def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
        raw = request.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            _fail(422, "Validation Error", f"{name} must be an integer in [{low}, {high}]")
        return value

    def _http_list_recommendations(self, request: Request) -> Response:
        page = self._int_query(request, "page", 0, 0, 1_000_000)
        per_page = self._int_query(request, "per_page", 25, 1, 100)
        project_id = request.params["project_id"]
        with self._lock:
            project = self._project(project_id)
            ordered = self._ordered(project_id)
            self._read(project, [r for r in ordered if r.requested])
            ordered = self._ordered(project_id)
            chosen = ordered[page * per_page : (page + 1) * per_page]
            return _ok([self._view(r) for r in chosen])

    def _http_get_recommendation(self, request: Request) -> Response:
        project_id = request.params["project_id"]
        with self._lock:
            project = self._project(project_id)
            rec = self._recommendation(project_id, request.params["recommendation_id"])
            self._complete_if_ready(project, rec)
            view = self._view(rec)
            if rec.requested and rec.state == "PENDING":
                rec.reads += 1
            return _ok(view)

    def _http_request_recommendation(self, request: Request) -> Response:
        self._object_body(request)
        return _ok({"id": self.request_recommendation(request.params["project_id"])})

    # --- workspaces and cluster templates ------------------------------------------------

    def create_workspace(
        self,
        workspace_id: str | int,
        webhook_id: str | None = None,
        *,
        collection_type: str = "hosted",
        compute_provider: str = "aws",
    ) -> dict[str, Any]:
        """Register a Databricks workspace with Gradient; return its config.

        Without ``webhook_id``, a generic-webhook notification destination pointing at this
        Gradient service is created in the sandbox's Databricks and its id used, as Gradient
        does when a workspace is onboarded.
        """
        if webhook_id is None:
            destination = self.databricks.create_destination(
                f"Gradient webhook ({workspace_id})",
                f"{self.base_url}/v1/databricks/workspaces/{workspace_id}/webhook",
                username="gradient",
                password=secrets.token_urlsafe(16),
            )
            webhook_id = str(destination["id"])
        workspace = {
            "workspace_id": str(workspace_id),
            "webhook_id": webhook_id,
            "collection_type": collection_type,
            "compute_provider": compute_provider,
            "databricks_host": self.databricks.base_url,
        }
        with self._lock:
            self._workspaces[str(workspace_id)] = workspace
            return copy.deepcopy(workspace)

    def get_workspace(self, workspace_id: str | int) -> dict[str, Any] | None:
        """The config of a registered workspace, or ``None``."""
        with self._lock:
            workspace = self._workspaces.get(str(workspace_id))
            return copy.deepcopy(workspace) if workspace is not None else None

    def _http_get_workspace(self, request: Request) -> Response:
        workspace_id = request.params["workspace_id"]
        with self._lock:
            workspace = self._workspaces.get(workspace_id)
            if workspace is None:
                raise NotFoundError(
                    f"No Databricks workspace with id {workspace_id}",
                    status=404,
                    code="Workspace Not Found",
                )
            return _ok(copy.deepcopy(workspace))

    def cluster_template(self, project_id: str) -> dict[str, Any]:
        """The partial cluster spec Gradient wants merged into the project's cluster."""
        with self._lock:
            project = self._project(project_id)
            log_url = project.get("cluster_log_url")
            if project.get("product_code") == "azure-databricks":
                log_conf = {"dbfs": {"destination": log_url or f"dbfs:/cluster-logs/{project_id}"}}
            else:
                log_conf = {
                    "s3": {
                        "destination": log_url or f"s3://sync-gradient-logs/{project_id}",
                        "region": "us-east-1",
                        "enable_encryption": True,
                        "canned_acl": "bucket-owner-full-control",
                    }
                }
            return {
                "custom_tags": {"sync:project-id": project_id, "sync:tenant-id": self.tenant_id},
                "cluster_log_conf": log_conf,
            }

    def _http_cluster_template(self, request: Request) -> Response:
        return _ok(self.cluster_template(request.params["project_id"]))
