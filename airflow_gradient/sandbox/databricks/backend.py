"""State and Python API of the emulated Databricks workspace (``Sandbox.databricks``).

No HTTP here: :mod:`airflow_gradient.sandbox.databricks.routes` parses requests, calls these
methods and shapes the replies. Errors are the sandbox's own (:mod:`..errors`); the routes
turn them into Databricks error replies.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from airflow_gradient.sandbox import validation
from airflow_gradient.sandbox.databricks.destinations import DestinationsBackend
from airflow_gradient.sandbox.databricks.merge import merge_settings
from airflow_gradient.sandbox.databricks.runs import RUN_RESULTS, Run, timeline
from airflow_gradient.sandbox.databricks.views import run_view
from airflow_gradient.sandbox.errors import NotFoundError, ValidationError

RUN_ENDS_AFTER_READS = 2
"""Default :attr:`DatabricksBackend.run_ends_after_reads`."""


def _now_ms() -> int:
    return int(time.time() * 1000)


class DatabricksBackend(DestinationsBackend):
    """Jobs, runs and (from :class:`DestinationsBackend`) notification destinations of the
    emulated workspace.

    :param lock: the sandbox-wide lock guarding all state.
    :param token: the personal access token clients must send.
    """

    def __init__(self, lock: threading.RLock, token: str) -> None:
        super().__init__(lock)
        self.token = token
        self.base_url = "http://127.0.0.1"
        self.workspace_id = "1234567890123456"
        self.user_name = "sandbox@example.com"
        self.run_duration = 0.0
        """Seconds a new run takes from PENDING to TERMINATED (0: reads move it on, see
        :attr:`run_ends_after_reads`)."""
        self.run_ends_after_reads = RUN_ENDS_AFTER_READS
        """Reads a new run answers as active when ``run_duration`` is 0: ``runs/get`` of it or
        of one of its task runs (the Python API and ``runs/list`` only look). The first read
        finds it PENDING, the others RUNNING, the next one TERMINATED. 0: TERMINATED at once.

        The default 2 serves both Airflow waits: a ``DatabricksWorkflowTaskGroup`` launch
        reads the run twice (its page URL, then its state) and must find it started, not over;
        a ``DatabricksRunNowOperator`` finds it RUNNING on its first state read and TERMINATED
        one ``polling_period_seconds`` later."""
        self.next_run_result = "SUCCESS"
        """Result of runs started from now on: ``"SUCCESS"`` or ``"FAILED"``."""
        self._jobs: dict[int, dict[str, Any]] = {}
        self._runs: dict[int, Run] = {}
        self._task_runs: dict[int, tuple[int, int]] = {}  # task run id -> (run id, index)
        self._idempotency: dict[str, int] = {}
        self._runs_per_job: dict[int, int] = {}
        # Ids keep counting across resets, so an id seen before a reset never names a new object.
        self._next_job_id = 700_000_000_000_001
        self._next_run_id = 900_000_000_000_001

    def reset(self, *, keep_data: bool = False) -> None:
        """Restore the default behaviour; also forget every job, run and destination unless
        ``keep_data``."""
        with self._lock:
            self.run_duration = 0.0
            self.run_ends_after_reads = RUN_ENDS_AFTER_READS
            self.next_run_result = "SUCCESS"
            if keep_data:
                return
            self._jobs.clear()
            self._runs.clear()
            self._task_runs.clear()
            self._clear_destinations()
            self._idempotency.clear()
            self._runs_per_job.clear()

    # --- jobs ---------------------------------------------------------------------------

    def _job(self, job_id: int) -> dict[str, Any]:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(
                f"Job {job_id} does not exist.", status=400, code="INVALID_PARAMETER_VALUE"
            )
        return job

    def create_job(self, settings: dict[str, Any]) -> int:
        """Create a job from a ``JobSettings`` dict, or a whole ``jobs/create`` body
        (validated like ``jobs/create``); return its id."""
        checked, _acl = validation.check_create_body(settings)
        checked.setdefault("format", "MULTI_TASK")
        checked.setdefault("max_concurrent_runs", 1)
        checked.setdefault("timeout_seconds", 0)
        checked.setdefault("email_notifications", {})
        checked.setdefault("webhook_notifications", {})
        with self._lock:
            job_id = self._next_job_id
            self._next_job_id += 1
            self._jobs[job_id] = {
                "job_id": job_id,
                "creator_user_name": self.user_name,
                "run_as_user_name": self.user_name,
                "created_time": _now_ms(),
                "settings": copy.deepcopy(checked),
            }
            return job_id

    def get_job(self, job_id: int) -> dict[str, Any]:
        """The ``jobs/get`` reply with every page merged."""
        with self._lock:
            return copy.deepcopy(self._job(int(job_id)))

    def job_settings(self, job_id: int | str) -> dict[str, Any] | None:
        """Settings of a job, or ``None`` if there is none (used by the Gradient backend)."""
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
        self.apply_update(validation.check_body("update", body))

    def apply_update(self, body: dict[str, Any]) -> None:
        """Apply a ``jobs/update`` body already checked by ``validation.check_body``."""
        validation.check_unique_keys(body.get("new_settings") or {})
        with self._lock:
            job = self._job(body["job_id"])
            merged = merge_settings(
                job["settings"], body.get("new_settings"), body.get("fields_to_remove")
            )
            job["settings"] = validation.check_settings(merged, path="settings")

    def replace_settings(self, job_id: int, settings: dict[str, Any]) -> None:
        """Replace all settings of a job with already validated ones (``jobs/reset``)."""
        with self._lock:
            self._job(job_id)["settings"] = settings

    def delete_job(self, job_id: int) -> None:
        """Delete a job (its runs stay readable)."""
        with self._lock:
            self._job(int(job_id))
            del self._jobs[int(job_id)]

    # --- runs ---------------------------------------------------------------------------

    def _new_run(
        self,
        job_id: int,
        *,
        run_type: str,
        run_name: str,
        tasks: list[dict[str, Any]],
        job_clusters: list[dict[str, Any]],
        overrides: dict[str, Any],
        on_start: tuple[str, ...] = (),
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
        self._runs[run_id] = Run(
            run_id=run_id,
            job_id=job_id,
            run_type=run_type,
            run_name=run_name,
            number_in_job=self._runs_per_job[job_id] if run_type == "JOB_RUN" else run_id,
            created=time.time(),
            duration=float(self.run_duration),
            ends_after_reads=int(self.run_ends_after_reads),
            outcome=self.next_run_result,
            tasks=run_tasks,
            job_clusters=copy.deepcopy(job_clusters),
            job_parameters=copy.deepcopy(overrides.get("job_parameters") or {}),
            overrides=copy.deepcopy(overrides),
            on_start=on_start,
        )
        return run_id

    def _on_start_destinations(self, settings: dict[str, Any]) -> tuple[str, ...]:
        """Destinations a run of a job with ``settings`` notifies when it starts: those its
        job-level ``webhook_notifications.on_start`` names that exist now."""
        hooks = (settings.get("webhook_notifications") or {}).get("on_start") or []
        return tuple(
            str(h["id"])
            for h in hooks
            if isinstance(h, dict) and str(h.get("id")) in self._destinations
        )

    def _run(self, run_id: int) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFoundError(
                f"Run {run_id} does not exist.", status=400, code="INVALID_PARAMETER_VALUE"
            )
        return run

    def _view(self, run: Run, now: float | None = None) -> dict[str, Any]:
        return run_view(
            run,
            time.time() if now is None else now,
            user_name=self.user_name,
            base_url=self.base_url,
            workspace_id=self.workspace_id,
        )

    def run_now(self, job_id: int, **overrides: Any) -> int:
        """Start a run of a saved job, like ``jobs/run-now``; return its ``run_id``."""
        body = validation.check_body("run_now", {"job_id": job_id, **overrides})
        return self.start_run(body)

    def start_run(self, body: dict[str, Any]) -> int:
        """Start a run from a ``jobs/run-now`` body already checked; return its ``run_id``.

        The run snapshots the job's cluster specs now; a repeated ``idempotency_token``
        returns the first run's id.
        """
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
                on_start=self._on_start_destinations(settings),
            )
            if token is not None:
                self._idempotency[token] = run_id
            return run_id

    def submit_run(self, body: dict[str, Any]) -> int:
        """Start a one-time run from a checked ``jobs/runs/submit`` body; return its id."""
        token = body.pop("idempotency_token", None)
        with self._lock:
            if token is not None and token in self._idempotency:
                return self._idempotency[token]
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
            return run_id

    def record_run(
        self,
        job_id: int,
        *,
        started: float,
        duration: float,
        result_state: str = "SUCCESS",
    ) -> int:
        """Record a finished run of a saved job that started at ``started`` (epoch seconds,
        e.g. days ago) and took ``duration`` seconds, with the job's settings as they are now
        (its clusters and ``on_start`` webhooks): a history to audit, built in a test."""
        if result_state not in RUN_RESULTS:
            raise ValueError(f"result_state must be one of {RUN_RESULTS}")
        with self._lock:
            settings = self._job(int(job_id))["settings"]
            run_id = self._new_run(
                int(job_id),
                run_type="JOB_RUN",
                run_name=str(settings.get("name", "Untitled")),
                tasks=settings.get("tasks") or [],
                job_clusters=settings.get("job_clusters") or [],
                overrides={},
                on_start=self._on_start_destinations(settings),
            )
            run = self._runs[run_id]
            run.created, run.duration, run.outcome = float(started), float(duration), result_state
            return run_id

    def ended_runs(self, job_id: int | str) -> list[dict[str, Any]]:
        """The job's runs that have ended, as the Gradient backend needs them: ``run_id``,
        ``ended_at`` (epoch seconds), ``result_state``, ``on_start`` (destination ids notified
        at start) and the cluster specs the run used (``job_clusters``, ``tasks``)."""
        with self._lock:
            now = time.time()
            ended: list[dict[str, Any]] = []
            for run in self._runs.values():
                if str(run.job_id) != str(job_id):
                    continue
                life_cycle, result, end = timeline(run, now)
                if life_cycle != "TERMINATED" or end is None:
                    continue
                ended.append(
                    {
                        "run_id": run.run_id,
                        "ended_at": end,
                        "result_state": result,
                        "on_start": run.on_start,
                        "job_clusters": copy.deepcopy(run.job_clusters),
                        "tasks": copy.deepcopy(run.tasks),
                    }
                )
            return ended

    def run_number(self, run_id: int) -> int:
        """``number_in_job`` of a run."""
        with self._lock:
            return self._run(run_id).number_in_job

    def get_run(self, run_id: int) -> dict[str, Any]:
        """The ``jobs/runs/get`` reply of a run, all pages merged."""
        with self._lock:
            return self._view(self._run(int(run_id)))

    def _lookup_run(self, run_id: int) -> tuple[Run, int | None]:
        """A run by id, or the parent run and task index of a task run id."""
        if run_id in self._task_runs:
            parent, index = self._task_runs[run_id]
            return self._runs[parent], index
        return self._run(run_id), None

    def run_or_task_view(
        self, run_id: int, *, read: bool = False
    ) -> tuple[dict[str, Any], int | None]:
        """The view of a run, or of the parent run of a task run id and the task's index.

        :param read: count this as a read of the run (``runs/get``): see
            :attr:`run_ends_after_reads`.
        """
        with self._lock:
            run, index = self._lookup_run(run_id)
            now = time.time()
            if read:
                run.read(now)
            return self._view(run, now), index

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every run (``jobs/runs/get`` replies), oldest first."""
        with self._lock:
            now = time.time()
            return [self._view(r, now) for r in self._runs.values()]

    def latest_run_id(self, job_id: int | str) -> int | None:
        """Id of the newest run of a job, or ``None`` (used by the Gradient backend)."""
        with self._lock:
            ids = [r.run_id for r in self._runs.values() if str(r.job_id) == str(job_id)]
            return max(ids) if ids else None

    def finish_run(self, run_id: int, result_state: str = "SUCCESS") -> None:
        """End a run now with ``result_state`` (for tests that want a run to stay RUNNING)."""
        with self._lock:
            self._run(int(run_id)).finished = (time.time(), result_state)

    @staticmethod
    def _cancel(run: Run, now: float) -> None:
        if timeline(run, now)[0] != "TERMINATED":
            run.canceled_at = now

    def cancel_run(self, run_id: int) -> None:
        """Cancel a run (a task run id cancels its parent run); a finished run stays as it is."""
        with self._lock:
            run, _ = self._lookup_run(run_id)
            self._cancel(run, time.time())

    def cancel_job_runs(self, job_id: int) -> None:
        """Cancel every active run of a job."""
        with self._lock:
            self._job(job_id)
            now = time.time()
            for run in self._runs.values():
                if run.job_id == job_id:
                    self._cancel(run, now)

    def delete_run(self, run_id: int) -> None:
        """Delete a finished run; an active one must be cancelled first."""
        with self._lock:
            run = self._run(run_id)
            if timeline(run, time.time())[0] != "TERMINATED":
                raise ValidationError(f"Run {run_id} is active: cancel it before deleting it.")
            del self._runs[run_id]
            for task in run.tasks:
                self._task_runs.pop(task["run_id"], None)
