"""REST clients for the deployment tests: Airflow's public API and the sandbox's control port.

Everything the scenarios do to Airflow goes through ``/api/v2`` with a JWT from
``POST /auth/token``, as a user's script or the UI would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

FINISHED = ("success", "failed")


def wait_until(
    check: Callable[[], Any], *, timeout: float, what: str, interval: float = 1.0
) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class AirflowApi:
    """The deployment's api-server, logged in as the generated admin."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.client = httpx.Client(base_url=info["api_url"], timeout=30.0)
        reply = self.client.post(
            "/auth/token", json={"username": info["username"], "password": info["password"]}
        )
        assert reply.status_code in (200, 201), f"POST /auth/token: {reply.status_code}"
        self.client.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kw: Any) -> Any:
        reply = self.client.request(method, path, **kw)
        assert reply.status_code in expect, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.content else None

    def status(self, path: str) -> int:
        return self.client.get(path).status_code

    def set_variable(self, key: str, value: str) -> None:
        reply = self.client.post("/api/v2/variables", json={"key": key, "value": value})
        if reply.status_code == 409:
            self.request("PATCH", f"/api/v2/variables/{key}", json={"key": key, "value": value})
        else:
            assert reply.status_code in (200, 201), f"POST variable {key}: {reply.text}"

    def trigger(self, dag_id: str) -> str:
        """Unpause ``dag_id`` and start a run of it; the run id."""
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
        run_id: str = run["dag_run_id"]
        return run_id

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
        )
        return run

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """Wait until the run finishes; its JSON (whatever the final state)."""
        run: dict[str, Any] = wait_until(
            lambda: (r := self.run(dag_id, run_id))["state"] in FINISHED and r,
            timeout=timeout,
            what=f"run {run_id} of {dag_id} to finish (tasks: {self.states(dag_id, run_id)})",
            interval=2.0,
        )
        return run

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        found: list[dict[str, Any]] = []
        while True:
            page = self.request("GET", path, params={"limit": 100, "offset": len(found)})
            found.extend(page["task_instances"])
            if len(found) >= page["total_entries"] or not page["task_instances"]:
                return found

    def states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {
            f"{ti['task_id']}[{ti['map_index']}]" if ti["map_index"] >= 0 else ti["task_id"]: ti[
                "state"
            ]
            for ti in self.task_instances(dag_id, run_id)
        }

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        ti: dict[str, Any] = self.request(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
        )
        return ti

    def wait_state(
        self, dag_id: str, run_id: str, task_id: str, state: str, timeout: float
    ) -> dict[str, Any]:
        ti: dict[str, Any] = wait_until(
            lambda: (t := self.task_instance(dag_id, run_id, task_id))["state"] == state and t,
            timeout=timeout,
            what=f"{dag_id}.{task_id} to be {state} (tasks: {self.states(dag_id, run_id)})",
        )
        return ti

    def respond(self, dag_id: str, run_id: str, task_id: str, option: str) -> dict[str, Any]:
        """Answer a human-in-the-loop task, as "Required actions" in the UI does."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{task_id}/-1/hitlDetails"
        )
        answer: dict[str, Any] = self.request("PATCH", path, json={"chosen_options": [option]})
        return answer

    def task_log(self, ti: dict[str, Any]) -> str:
        """The whole log of one try of a task instance, as text."""
        path = (
            f"/api/v2/dags/{ti['dag_id']}/dagRuns/{quote(ti['dag_run_id'], safe='')}/"
            f"taskInstances/{ti['task_id']}/logs/{ti['try_number']}"
        )
        reply = self.request(
            "GET", path, params={"map_index": ti["map_index"], "full_content": True}
        )
        return "\n".join(str(line) for line in reply["content"])


class SandboxControl:
    """The sandbox process's control port (see ``scripts/deployment_sandbox.py``)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.client = httpx.Client(
            base_url=info["sandbox_control_url"],
            headers={"Authorization": f"Bearer {info['sandbox_control_token']}"},
            timeout=30.0,
        )

    def close(self) -> None:
        self.client.close()

    def call(self, target: str, *args: Any, **kwargs: Any) -> Any:
        reply = self.client.post("/call", json={"target": target, "args": args, "kwargs": kwargs})
        assert reply.status_code == 200, f"sandbox {target}: {reply.text}"
        return reply.json()["result"]

    def set(self, target: str, value: Any) -> None:
        reply = self.client.post("/call", json={"target": target, "set": value})
        assert reply.status_code == 200, f"sandbox {target} = {value!r}: {reply.text}"

    def requests(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.client.get("/requests").json()["requests"]
        return found

    def tokens(self) -> list[str]:
        found: list[str] = self.client.get("/tokens").json()["tokens"]
        return found

    def token_clients(self) -> list[dict[str, Any]]:
        """``{"at", "pid", "sid"}`` of the process behind each token request."""
        found: list[dict[str, Any]] = self.client.get("/token-clients").json()["token_clients"]
        return found

    def job_settings(self, job_id: int) -> dict[str, Any]:
        settings: dict[str, Any] = self.call("databricks.get_job", job_id)["settings"]
        return settings

    def runs_of(self, job_id: int) -> list[dict[str, Any]]:
        return [r for r in self.call("databricks.runs") if r["job_id"] == job_id]


def main_cluster(settings: dict[str, Any]) -> dict[str, Any]:
    cluster: dict[str, Any] = settings["job_clusters"][0]["new_cluster"]
    return cluster


def job_updates(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``jobs/update`` calls among ``requests`` that the sandbox answered 200."""
    return [
        r
        for r in requests
        if r["method"] == "POST" and r["path"].endswith("/jobs/update") and r["status"] == 200
    ]
