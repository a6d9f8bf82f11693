"""The Gradient service through plain httpx, following docs/gradient-api.md."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_gradient.sandbox import Sandbox

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def assert_envelope(reply: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The reply is JSON ``{"error": {"code", "message", "detail"}}`` with ``status``."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    error = reply.json()["error"]
    assert set(error) == {"code", "message", "detail"}
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def token_for(sandbox: Sandbox, client: httpx.Client) -> dict[str, Any]:
    reply = client.post(
        "/v1/auth/token",
        json={
            "api_key_id": sandbox.api_key_id,
            "api_key_secret": sandbox.api_key_secret,
        },
    )
    assert reply.status_code == 200
    result: dict[str, Any] = reply.json()["result"]
    return result


# --- auth --------------------------------------------------------------------------------------


def test_token_flow_and_products(fresh_sandbox: Sandbox) -> None:
    with httpx.Client(base_url=fresh_sandbox.gradient_url) as client:
        result = token_for(fresh_sandbox, client)
        assert set(result) == {"access_token", "expires_at_utc"}
        assert ISO_Z.match(result["expires_at_utc"])
        products = client.get(
            "/v1/projects/products", headers={"Authorization": f"Bearer {result['access_token']}"}
        )
        assert products.status_code == 200
        assert products.json() == {"result": ["aws-databricks", "azure-databricks"]}
        assert fresh_sandbox.gradient.tokens_issued == 1


def test_wrong_key_is_401_in_the_envelope(fresh_sandbox: Sandbox) -> None:
    with httpx.Client(base_url=fresh_sandbox.gradient_url) as client:
        reply = client.post(
            "/v1/auth/token",
            json={"api_key_id": fresh_sandbox.api_key_id, "api_key_secret": "nope"},
        )
        error = assert_envelope(reply, 401, "Unauthorized")
        assert fresh_sandbox.api_key_secret not in reply.text
        assert error["detail"] is None


@pytest.mark.parametrize(
    "header", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer"], ids=str
)
def test_missing_or_unknown_token_is_401(fresh_sandbox: Sandbox, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    reply = httpx.get(f"{fresh_sandbox.gradient_url}/v1/projects", headers=headers)
    assert_envelope(reply, 401, "Unauthorized")


def test_token_expires_after_its_lifetime() -> None:
    with (
        Sandbox(token_lifetime=0.5) as sandbox,
        httpx.Client(base_url=sandbox.gradient_url) as client,
    ):
        token = token_for(sandbox, client)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/projects", headers=auth).status_code == 200
        time.sleep(0.6)
        assert_envelope(client.get("/v1/projects", headers=auth), 401, "Unauthorized")
        fresh = token_for(sandbox, client)["access_token"]
        assert fresh != token
        assert client.get("/v1/projects", headers={"Authorization": f"Bearer {fresh}"}).is_success


def test_expire_tokens_invalidates_every_issued_token(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    assert gradient.get("/v1/projects").status_code == 200
    fresh_sandbox.gradient.expire_tokens()
    error = assert_envelope(gradient.get("/v1/projects"), 401, "Unauthorized")
    assert "expired" in error["message"].lower()


# --- projects ------------------------------------------------------------------------------------


def test_projects_list_filter_get_and_partial_update(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    first = fresh_sandbox.gradient.create_project(job_id=123, name="etl", app_id="etl-app")
    fresh_sandbox.gradient.create_project(job_id=456, name="ml")
    listed = gradient.get("/v1/projects").json()["result"]
    assert [p["name"] for p in listed] == ["etl", "ml"]
    filtered = gradient.get("/v1/projects", params={"app_id": "etl-app"}).json()["result"]
    assert [p["id"] for p in filtered] == [first["id"]]

    got = gradient.get(f"/v1/projects/{first['id']}").json()["result"]
    assert got["job_id"] == "123"
    assert got["auto_apply_recs"] is False
    expected_fields = {
        "id", "name", "app_id", "description", "product_code", "job_id", "cluster_path",
        "workspace_id", "cluster_log_url", "auto_apply_recs", "prediction_params",
        "optimize_instance_size", "project_model_id", "created_at", "updated_at",
    }  # fmt: skip
    assert set(got) == expected_fields

    updated = gradient.put(f"/v1/projects/{first['id']}", json={"auto_apply_recs": True})
    assert updated.status_code == 200
    assert updated.json()["result"]["auto_apply_recs"] is True
    assert updated.json()["result"]["name"] == "etl"
    assert fresh_sandbox.gradient.get_project(first["id"])["auto_apply_recs"] is True


def test_project_update_rejects_bad_fields(fresh_sandbox: Sandbox, gradient: httpx.Client) -> None:
    project = fresh_sandbox.gradient.create_project(job_id=1)
    bad = gradient.put(f"/v1/projects/{project['id']}", json={"auto_apply_recs": "yes"})
    assert_envelope(bad, 422)
    unknown = gradient.put(f"/v1/projects/{project['id']}", json={"id": "other"})
    assert_envelope(unknown, 422)
    assert fresh_sandbox.gradient.get_project(project["id"])["id"] == project["id"]


def test_unknown_project_is_404_project_not_found(gradient: httpx.Client) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert_envelope(gradient.get(f"/v1/projects/{missing}"), 404, "Project Not Found")
    assert_envelope(
        gradient.get(f"/v1/projects/{missing}/recommendations"), 404, "Project Not Found"
    )
    assert_envelope(gradient.put(f"/v1/projects/{missing}", json={}), 404, "Project Not Found")


# --- recommendations -----------------------------------------------------------------------------


def test_recommendations_are_listed_newest_first_and_paged(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    project = fresh_sandbox.gradient.create_project(job_id=1)
    old = fresh_sandbox.gradient.add_recommendation(
        project["id"], {"num_workers": 1}, created_at="2026-01-01T00:00:00Z"
    )
    tie_a = fresh_sandbox.gradient.add_recommendation(
        project["id"], {"num_workers": 2}, created_at="2026-03-01T00:00:00Z"
    )
    tie_b = fresh_sandbox.gradient.add_recommendation(
        project["id"], state="FAILURE", created_at="2026-03-01T00:00:00Z"
    )
    new = fresh_sandbox.gradient.add_recommendation(
        project["id"], state="PENDING", created_at="2026-05-01T00:00:00Z"
    )
    url = f"/v1/projects/{project['id']}/recommendations"

    everything = gradient.get(url, params={"page": 0, "per_page": 10}).json()["result"]
    assert [r["id"] for r in everything] == [new, tie_b, tie_a, old]
    assert [r["state"] for r in everything] == ["PENDING", "FAILURE", "SUCCESS", "SUCCESS"]
    assert everything[1]["error"]
    assert everything[0]["recommendation"] is None

    page0 = gradient.get(url, params={"page": 0, "per_page": 3}).json()["result"]
    page1 = gradient.get(url, params={"page": 1, "per_page": 3}).json()["result"]
    page2 = gradient.get(url, params={"page": 2, "per_page": 3}).json()["result"]
    assert [r["id"] for r in page0 + page1] == [new, tie_b, tie_a, old]
    assert page2 == []
    assert_envelope(gradient.get(url, params={"per_page": 0}), 422)


def test_get_recommendation_and_404(
    fresh_sandbox: Sandbox, gradient: httpx.Client, job_settings: Callable[..., dict[str, Any]]
) -> None:
    fresh_sandbox.databricks.create_job(job_settings())
    project = fresh_sandbox.gradient.create_project(job_id=1)
    config = {"num_workers": 3, "node_type_id": "m5.xlarge"}
    rec_id = fresh_sandbox.gradient.add_recommendation(project["id"], config, phase="LEARNING")
    got = gradient.get(f"/v1/projects/{project['id']}/recommendations/{rec_id}").json()["result"]
    assert got["id"] == rec_id
    assert got["state"] == "SUCCESS"
    assert got["recommendation"]["configuration"] == config
    assert set(got["recommendation"]["metrics"]) >= {
        "spark_duration_minutes",
        "spark_cost_midpoint_usd",
    }
    assert got["context"]["phase"] == "LEARNING"
    assert ISO_Z.match(got["created_at"])
    missing = gradient.get(f"/v1/projects/{project['id']}/recommendations/nope")
    assert_envelope(missing, 404, "Recommendation Not Found")


def test_requested_recommendation_goes_pending_then_success(
    fresh_sandbox: Sandbox, gradient: httpx.Client, job_settings: Callable[..., dict[str, Any]]
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    run_id = fresh_sandbox.databricks.run_now(job_id)
    project = fresh_sandbox.gradient.create_project(job_id=job_id, cluster_path="job_clusters/main")
    fresh_sandbox.gradient.recommendation_ready_after_reads = 2
    url = f"/v1/projects/{project['id']}/recommendations"

    created = gradient.post(url, json={})
    assert created.status_code == 200
    rec_id = created.json()["result"]["id"]
    assert set(created.json()["result"]) == {"id"}

    first = gradient.get(f"{url}/{rec_id}").json()["result"]
    listed = gradient.get(url).json()["result"][0]
    assert (first["state"], listed["state"]) == ("PENDING", "PENDING")
    assert first["recommendation"] is None
    done = gradient.get(f"{url}/{rec_id}").json()["result"]
    assert done["state"] == "SUCCESS"

    config = done["recommendation"]["configuration"]
    assert config["num_workers"] == 6  # 75 % of autoscale max 8
    assert "autoscale" not in config
    assert config["node_type_id"] == config["driver_node_type_id"] == "i3.2xlarge"
    assert config["spark_conf"]["spark.databricks.isv.product"] == "sync-gradient"
    assert config["custom_tags"]["sync:project-id"] == project["id"]
    assert config["custom_tags"]["sync:recommendation-id"] == rec_id
    assert config["custom_tags"]["sync:run-id"] == str(run_id)
    assert done["recommendation"]["metrics"]["spark_cost_midpoint_usd"] > 0


def test_requested_recommendation_can_fail(
    fresh_sandbox: Sandbox, gradient: httpx.Client, job_settings: Callable[..., dict[str, Any]]
) -> None:
    project = fresh_sandbox.gradient.create_project(
        job_id=fresh_sandbox.databricks.create_job(job_settings())
    )
    fresh_sandbox.gradient.next_recommendation_outcome = "FAILURE"
    fresh_sandbox.gradient.recommendation_ready_after_reads = 0
    url = f"/v1/projects/{project['id']}/recommendations"
    rec_id = gradient.post(url, json={}).json()["result"]["id"]
    failed = gradient.get(f"{url}/{rec_id}").json()["result"]
    assert failed["state"] == "FAILURE"
    assert failed["error"] == fresh_sandbox.gradient.recommendation_failure_error
    assert failed["recommendation"] is None


def test_requested_recommendation_fails_when_the_cluster_is_ambiguous(
    fresh_sandbox: Sandbox, gradient: httpx.Client, job_settings: Callable[..., dict[str, Any]]
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings("task_clusters"))  # two task clusters
    project = fresh_sandbox.gradient.create_project(job_id=job_id)
    fresh_sandbox.gradient.recommendation_ready_after_reads = 0
    url = f"/v1/projects/{project['id']}/recommendations"
    rec_id = gradient.post(url, json={}).json()["result"]["id"]
    failed = gradient.get(f"{url}/{rec_id}").json()["result"]
    assert failed["state"] == "FAILURE"
    assert str(job_id) in failed["error"]


def test_requested_recommendation_ready_after_seconds(
    fresh_sandbox: Sandbox, gradient: httpx.Client, job_settings: Callable[..., dict[str, Any]]
) -> None:
    project = fresh_sandbox.gradient.create_project(
        job_id=fresh_sandbox.databricks.create_job(job_settings()), cluster_path="job_clusters/main"
    )
    fresh_sandbox.gradient.recommendation_ready_after_reads = None
    fresh_sandbox.gradient.recommendation_ready_after_seconds = 0.5
    url = f"/v1/projects/{project['id']}/recommendations"
    rec_id = gradient.post(url, json={}).json()["result"]["id"]
    for _ in range(3):
        assert gradient.get(f"{url}/{rec_id}").json()["result"]["state"] == "PENDING"
    time.sleep(0.55)
    assert gradient.get(f"{url}/{rec_id}").json()["result"]["state"] == "SUCCESS"


@pytest.mark.parametrize(
    "raw",
    [{"id": "x", "state": "SUCCESS", "recommendation": {"configuration": "oops"}}, "text", 17, []],
    ids=["bad-config", "string", "number", "list"],
)
def test_raw_recommendation_is_served_verbatim(
    fresh_sandbox: Sandbox, gradient: httpx.Client, raw: Any
) -> None:
    project = fresh_sandbox.gradient.create_project(job_id=1)
    rec_id = fresh_sandbox.gradient.add_recommendation(
        project["id"], raw=raw, recommendation_id="raw-1"
    )
    url = f"/v1/projects/{project['id']}/recommendations"
    assert gradient.get(f"{url}/{rec_id}").json() == {"result": raw}
    assert gradient.get(url).json() == {"result": [raw]}


# --- workspaces, templates, envelopes ---------------------------------------------------


def test_workspace_config_points_at_a_real_destination(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    created = fresh_sandbox.gradient.create_workspace("987654321")
    reply = gradient.get("/v1/databricks/workspaces/987654321").json()["result"]
    assert reply["webhook_id"] == created["webhook_id"]
    assert reply["collection_type"] == "hosted"
    assert reply["compute_provider"] == "aws"
    assert reply["webhook_id"] in {d["id"] for d in fresh_sandbox.databricks.destinations}
    assert_envelope(gradient.get("/v1/databricks/workspaces/nope"), 404)


def test_cluster_template(fresh_sandbox: Sandbox, gradient: httpx.Client) -> None:
    project = fresh_sandbox.gradient.create_project(job_id=1)
    template = gradient.get(f"/v1/projects/{project['id']}/cluster/template").json()["result"]
    assert template["custom_tags"]["sync:project-id"] == project["id"]
    assert "sync:tenant-id" in template["custom_tags"]
    assert template["cluster_log_conf"]["s3"]["destination"].startswith("s3://")


def test_bad_json_unknown_path_and_wrong_method(
    fresh_sandbox: Sandbox, gradient: httpx.Client
) -> None:
    project = fresh_sandbox.gradient.create_project(job_id=1)
    bad = gradient.put(
        f"/v1/projects/{project['id']}",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(bad, 400)
    assert_envelope(gradient.get("/v1/nothing/here"), 404)
    wrong = gradient.delete("/v1/projects/products")
    assert_envelope(wrong, 405)
    assert "GET" in wrong.headers["allow"]
    bad_token = httpx.post(f"{fresh_sandbox.gradient_url}/v1/auth/token", content=b"<xml/>")
    assert_envelope(bad_token, 400)


def test_a_sandbox_bug_is_a_500_envelope_not_a_traceback(
    fresh_sandbox: Sandbox, gradient: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("boom")

    monkeypatch.setattr(fresh_sandbox.gradient, "read_recommendations", broken)
    project = fresh_sandbox.gradient.create_project(job_id=1)
    fresh_sandbox.gradient.add_recommendation(project["id"], {"num_workers": 1})
    reply = gradient.get(f"/v1/projects/{project['id']}/recommendations")
    assert_envelope(reply, 500)
    assert "Traceback" not in reply.text
