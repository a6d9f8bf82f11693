"""What the emulated workspace's replies show of a run and of a notification destination."""

from __future__ import annotations

import copy
from typing import Any

from airflow_gradient.sandbox.databricks.runs import Run, timeline


def run_url(base_url: str, workspace_id: str, job_id: int, run_id: int) -> str:
    """The ``run_page_url`` of a run (or task run)."""
    return f"{base_url}/?o={workspace_id}#job/{job_id}/run/{run_id}"


def _state(life_cycle: str, result: str | None, message: str) -> dict[str, Any]:
    state: dict[str, Any] = {
        "life_cycle_state": life_cycle,
        "state_message": message,
        "user_cancelled_or_timedout": result == "CANCELED",
    }
    if result is not None:
        state["result_state"] = result
    return state


def _status(life_cycle: str, result: str | None, message: str) -> dict[str, Any]:
    status: dict[str, Any] = {"state": life_cycle}
    if result is not None:
        code = {"SUCCESS": "SUCCESS", "CANCELED": "USER_CANCELED"}.get(
            result, "RUN_EXECUTION_ERROR"
        )
        kind = "SUCCESS" if result == "SUCCESS" else "CLIENT_ERROR"
        status["termination_details"] = {"code": code, "type": kind, "message": message}
    return status


def run_view(
    run: Run, now: float, *, user_name: str, base_url: str, workspace_id: str
) -> dict[str, Any]:
    """The ``jobs/runs/get`` reply for ``run`` at ``now`` (all pages)."""
    life_cycle, result, ended = timeline(run, now)
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
        task["state"] = _state(life_cycle, task_result, task_message)
        task["status"] = _status(life_cycle, task_result, task_message)
        task["start_time"] = started_ms
        task["end_time"] = ended_ms
        task["attempt_number"] = 0
        task["run_page_url"] = run_url(base_url, workspace_id, run.job_id, task["run_id"])
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
        "creator_user_name": user_name,
        "trigger": "ONE_TIME",
        "state": _state(life_cycle, result, message),
        "status": _status(life_cycle, result, message),
        "start_time": started_ms,
        "end_time": ended_ms,
        "setup_duration": duration_ms // 4,
        "execution_duration": duration_ms - duration_ms // 4,
        "cleanup_duration": 0,
        "run_duration": duration_ms,
        "run_page_url": run_url(base_url, workspace_id, run.job_id, run.run_id),
        "tasks": tasks,
        "attempt_number": 0,
    }
    if run.job_clusters:
        view["job_clusters"] = copy.deepcopy(run.job_clusters)
    if run.job_parameters:
        view["job_parameters"] = [{"name": k, "value": v} for k, v in run.job_parameters.items()]
    overriding = {k: v for k, v in run.overrides.items() if k != "job_parameters"}
    if overriding:
        view["overriding_parameters"] = copy.deepcopy(overriding)
    return view


def destination_view(destination: dict[str, Any], *, summary: bool = False) -> dict[str, Any]:
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
