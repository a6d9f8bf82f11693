"""Starting, stopping, binding, connections, seeding, concurrency and raw HTTP robustness."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from airflow_gradient.sandbox import Sandbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_listens_on_loopback_127_0_0_1_only(fresh_sandbox: Sandbox) -> None:
    for url in (fresh_sandbox.gradient_url, fresh_sandbox.databricks_url):
        assert url.startswith("http://127.0.0.1:")
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=2).close()


def test_explicit_ports_and_clean_stop() -> None:
    port = free_port()
    sandbox = Sandbox(gradient_port=port)
    with sandbox, httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        assert sandbox.gradient_url == f"http://127.0.0.1:{port}"
        assert client.post("/v1/auth/token", json={}).status_code == 422  # kept alive
        sandbox.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/v1/projects/products")
    assert not sandbox.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = sandbox.gradient_url
    with Sandbox(gradient_port=port) as again:  # the port was released
        assert again.gradient_url.endswith(f":{port}")


def test_connections_are_airflow_connection_json(fresh_sandbox: Sandbox) -> None:
    connections = fresh_sandbox.connections()
    assert set(connections) == {"AIRFLOW_CONN_GRADIENT_DEFAULT", "AIRFLOW_CONN_DATABRICKS_DEFAULT"}
    assert json.loads(connections["AIRFLOW_CONN_GRADIENT_DEFAULT"]) == {
        "conn_type": "gradient",
        "host": fresh_sandbox.gradient_url,
        "login": fresh_sandbox.api_key_id,
        "password": fresh_sandbox.api_key_secret,
    }
    databricks = json.loads(connections["AIRFLOW_CONN_DATABRICKS_DEFAULT"])
    assert databricks["conn_type"] == "databricks"
    assert (
        f"{databricks['schema']}://{databricks['host']}:{databricks['port']}"
        == fresh_sandbox.databricks_url
    )
    assert databricks["password"] == fresh_sandbox.databricks_token
    assert not databricks.get("login")


def test_credentials_are_random_unless_given() -> None:
    one, two = Sandbox(), Sandbox()
    assert one.api_key_secret != two.api_key_secret
    assert one.databricks_token != two.databricks_token
    fixed = Sandbox(api_key_id="id", api_key_secret="secret", databricks_token="dapi123")
    assert (fixed.api_key_id, fixed.api_key_secret, fixed.databricks_token) == (
        "id",
        "secret",
        "dapi123",
    )


def test_seed_demo(fresh_sandbox: Sandbox, gradient: httpx.Client) -> None:
    ids = fresh_sandbox.seed_demo()
    assert set(ids) == {"job_id", "project_id", "recommendation_id"}
    settings = fresh_sandbox.databricks.get_job(ids["job_id"])["settings"]
    (cluster,) = settings["job_clusters"]
    assert cluster["job_cluster_key"] == "main"
    assert cluster["new_cluster"]["autoscale"] == {"min_workers": 2, "max_workers": 8}
    assert cluster["new_cluster"]["node_type_id"] == "i3.2xlarge"
    assert [t["task_key"] for t in settings["tasks"]] == ["ingest", "transform"]
    project = gradient.get(f"/v1/projects/{ids['project_id']}").json()["result"]
    assert project["cluster_path"] == "job_clusters/main"
    assert project["job_id"] == str(ids["job_id"])
    assert project["auto_apply_recs"] is False
    rec = gradient.get(
        f"/v1/projects/{ids['project_id']}/recommendations/{ids['recommendation_id']}"
    ).json()["result"]
    assert rec["state"] == "SUCCESS"
    tags = rec["recommendation"]["configuration"]["custom_tags"]
    assert tags["sync:project-id"] == ids["project_id"]
    assert tags["sync:recommendation-id"] == ids["recommendation_id"]
    workspace = gradient.get(f"/v1/databricks/workspaces/{project['workspace_id']}").json()
    destination_ids = {d["id"] for d in fresh_sandbox.databricks.destinations}
    assert workspace["result"]["webhook_id"] in destination_ids


def test_concurrent_requests_get_distinct_ids(fresh_sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {fresh_sandbox.databricks_token}"}

    def create(i: int) -> Any:
        with httpx.Client(base_url=fresh_sandbox.databricks_url, headers=headers) as client:
            return client.post("/api/2.2/jobs/create", json={"name": f"j{i}"}).json()["job_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(40)))
    assert len(set(ids)) == 40
    assert len(fresh_sandbox.databricks.jobs) == 40


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /x HTTP/9.9\r\n\r\n", b"505"),
        (b"BREW /api/2.2/jobs/list HTTP/1.1\r\nHost: x\r\n\r\n", b"501"),
        (b"GET /api/2.2/jobs/list HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", b"400"),
    ],
    ids=["bad-request-line", "bad-version", "unknown-method", "bad-content-length"],
)
def test_protocol_errors_are_json_not_html(
    fresh_sandbox: Sandbox, request_bytes: bytes, status: bytes
) -> None:
    port = int(fresh_sandbox.databricks_url.rsplit(":", 1)[1])
    reply = raw_exchange(port, request_bytes)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status
    assert b"application/json" in head
    assert "error_code" in json.loads(body)
    assert b"<html" not in reply.lower()


def test_keep_alive_and_content_length(fresh_sandbox: Sandbox) -> None:
    with httpx.Client(base_url=fresh_sandbox.gradient_url) as client:
        first = client.get("/v1/projects/products")
        second = client.get("/v1/nowhere")
    for reply in (first, second):
        assert reply.headers["content-length"] == str(len(reply.content))
        assert reply.headers.get("connection", "keep-alive").lower() == "keep-alive"
    assert reply.http_version == "HTTP/1.1"


def test_importing_the_sandbox_does_not_import_airflow() -> None:
    code = (
        "import sys, airflow_gradient.sandbox\n"
        "loaded = [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')]\n"
        "assert not loaded, loaded\n"
        "assert 'databricks.sdk' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_seed_demo_twice_gives_two_jobs_in_one_workspace(fresh_sandbox: Sandbox) -> None:
    first, second = fresh_sandbox.seed_demo(), fresh_sandbox.seed_demo()
    assert first["job_id"] != second["job_id"]
    assert first["project_id"] != second["project_id"]
    workspaces = {
        fresh_sandbox.gradient.get_project(s["project_id"])["workspace_id"] for s in (first, second)
    }
    assert len(workspaces) == 1
