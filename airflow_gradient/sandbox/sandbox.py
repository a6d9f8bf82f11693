"""``Sandbox``: both emulated services in one process, started and stopped together."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from types import TracebackType
from typing import Any

from airflow_gradient.sandbox import seeds
from airflow_gradient.sandbox.databricks import DatabricksBackend, DatabricksRoutes
from airflow_gradient.sandbox.faults import Faults
from airflow_gradient.sandbox.gradient import GradientBackend, GradientRoutes
from airflow_gradient.sandbox.records import RequestLog, RequestRecord
from airflow_gradient.sandbox.server import LOOPBACK, ServiceServer


class Sandbox:
    """A local Gradient API and Databricks workspace speaking the real wire protocols.

    Both listen on ``127.0.0.1`` only, on ephemeral ports unless given. Use it as a context
    manager (or call :meth:`start` / :meth:`stop`)::

        with Sandbox() as sb:
            os.environ.update(sb.connections())
            ids = sb.seed_demo()

    :param gradient_port: port of the Gradient API (0: any free port).
    :param databricks_port: port of the Databricks API (0: any free port).
    :param api_key_id: Gradient API key id (random when ``None``).
    :param api_key_secret: Gradient API key secret (random when ``None``).
    :param databricks_token: Databricks personal access token (random when ``None``).
    :param token_lifetime: seconds a Gradient access token stays valid.
    """

    def __init__(
        self,
        *,
        gradient_port: int = 0,
        databricks_port: int = 0,
        api_key_id: str | None = None,
        api_key_secret: str | None = None,
        databricks_token: str | None = None,
        token_lifetime: float = 3600.0,
    ) -> None:
        self._gradient_port = gradient_port
        self._databricks_port = databricks_port
        self.api_key_id = api_key_id or f"sbx-key-{secrets.token_hex(6)}"
        self.api_key_secret = api_key_secret or f"sbx-secret-{secrets.token_urlsafe(24)}"
        self.databricks_token = databricks_token or f"dapi{secrets.token_hex(16)}-sbx"
        self._lock = threading.RLock()
        self.faults = Faults()
        self._log = RequestLog()
        self.databricks = DatabricksBackend(self._lock, self.databricks_token)
        """The Databricks workspace's state and Python API (jobs, runs, destinations)."""
        self.gradient = GradientBackend(
            self._lock, self.api_key_id, self.api_key_secret, token_lifetime, self.databricks
        )
        """The Gradient service's state and Python API (projects, recommendations)."""
        self._servers: list[ServiceServer] = []

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind both ports and start serving; return ``self``."""
        if self._servers:
            raise RuntimeError("The sandbox is already running")
        gradient = ServiceServer(
            GradientRoutes(self.gradient), self.faults, self._log, self._gradient_port
        )
        try:
            databricks = ServiceServer(
                DatabricksRoutes(self.databricks), self.faults, self._log, self._databricks_port
            )
        except OSError:
            gradient.stop()
            raise
        self._servers = [gradient, databricks]
        self.gradient.base_url = gradient.url
        self.databricks.base_url = databricks.url
        for server in self._servers:
            server.start()
        return self

    def stop(self) -> None:
        """Stop both services and close their connections (safe to call twice)."""
        servers, self._servers = self._servers, []
        for server in servers:
            server.stop()

    @property
    def running(self) -> bool:
        """Whether the services are serving."""
        return bool(self._servers)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _server(self, index: int) -> ServiceServer:
        if not self._servers:
            raise RuntimeError("The sandbox is not running: call start() or use `with Sandbox()`")
        return self._servers[index]

    # --- where and how to connect ---------------------------------------------------------

    @property
    def gradient_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the Gradient API."""
        return self._server(0).url

    @property
    def databricks_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the Databricks workspace."""
        return self._server(1).url

    def connection_json(self, service: str) -> dict[str, Any]:
        """Airflow connection fields for ``"gradient"`` or ``"databricks"``.

        The Databricks one sets ``schema="http"`` and the port because ``DatabricksHook``
        builds its URL as ``{schema or 'https'}://{host}:{port}/api/...``; the token is the
        password with an empty login, which the hook reads as a personal access token.
        """
        if service == "gradient":
            return {
                "conn_type": "gradient",
                "host": self.gradient_url,
                "login": self.api_key_id,
                "password": self.api_key_secret,
            }
        if service == "databricks":
            return {
                "conn_type": "databricks",
                "host": LOOPBACK,
                "port": self._server(1).port,
                "schema": "http",
                "password": self.databricks_token,
            }
        raise ValueError(f"service must be 'gradient' or 'databricks', got {service!r}")

    def connections(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` environment variables (JSON) for the default connection ids."""
        return {
            "AIRFLOW_CONN_GRADIENT_DEFAULT": json.dumps(self.connection_json("gradient")),
            "AIRFLOW_CONN_DATABRICKS_DEFAULT": json.dumps(self.connection_json("databricks")),
        }

    # --- what was served ------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request served so far, oldest first (routing facts only, no secrets)."""
        return self._log.snapshot()

    def requests_to(
        self, service: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[RequestRecord]:
        """The requests matching every given filter (method any case, path exact)."""
        return [
            r
            for r in self._log.snapshot()
            if (service is None or r.service == service)
            and (method is None or r.method == method.upper())
            and (path is None or r.path == path)
        ]

    def clear_requests(self) -> None:
        """Forget the requests served so far."""
        self._log.clear()

    # --- a clean slate ---------------------------------------------------------------------

    def reset(self, *, keep_data: bool = False) -> None:
        """Restore a clean slate, like a new ``Sandbox`` on the same ports and credentials.

        Always: no faults and no latency, no requests recorded, and the default behaviour
        (``recommendation_ready_after_reads=1``, ``recommendation_ready_after_seconds=None``,
        ``next_recommendation_outcome="SUCCESS"``, the default failure error and phase, the
        constructor's ``token_lifetime``, ``next_run_result="SUCCESS"``, ``run_duration=0``,
        ``run_ends_after_reads=2``).
        Unless ``keep_data``, also forgets every job, run, notification destination, project,
        recommendation, submission, registered workspace and issued token (clients fetch a new
        token on their next 401). Ids keep counting, so an id from before the reset never names a
        new object. The sandbox keeps running; this works whether it runs or not.

        :param keep_data: keep jobs, projects and the rest; reset only behaviour, faults and
            the request log (what a test suite sharing one sandbox per module wants).
        """
        self.faults.clear()
        self._log.clear()
        self.gradient.reset(keep_data=keep_data)
        self.databricks.reset(keep_data=keep_data)

    # --- seeds ----------------------------------------------------------------------------

    def seed_demo(self) -> dict[str, Any]:
        """Create the demo job, its Gradient project and a SUCCESS recommendation.

        :return: ``{"job_id": int, "project_id": str, "recommendation_id": str}``
        """
        existing = {d["id"] for d in self.databricks.destinations}
        if seeds.ONCALL_DESTINATION_ID not in existing:
            self.databricks.create_destination(
                "On-call webhook",
                "https://hooks.example.com/oncall",
                destination_id=seeds.ONCALL_DESTINATION_ID,
            )
        job_id = self.databricks.create_job(seeds.demo_job_settings())
        workspace = self.gradient.get_workspace(
            self.databricks.workspace_id
        ) or self.gradient.create_workspace(self.databricks.workspace_id)
        project = self.gradient.create_project(
            job_id=job_id,
            cluster_path=seeds.DEMO_CLUSTER_PATH,
            auto_apply_recs=False,
            name=seeds.DEMO_JOB_NAME,
            workspace_id=workspace["workspace_id"],
        )
        recommendation_id = str(uuid.uuid4())
        self.gradient.add_recommendation(
            project["id"],
            seeds.demo_recommendation(
                project["id"], recommendation_id, self.gradient.tenant_id, str(uuid.uuid4())
            ),
            state="SUCCESS",
            metrics=dict(seeds.DEMO_METRICS),
            phase="OPTIMIZING",
            recommendation_id=recommendation_id,
        )
        return {
            "job_id": job_id,
            "project_id": project["id"],
            "recommendation_id": recommendation_id,
        }
