"""The Databricks service through databricks-sdk, Airflow's DatabricksHook and plain httpx."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from airflow_gradient.sandbox import Sandbox, ValidationError

Settings = Callable[..., dict[str, Any]]


def assert_databricks_error(reply: httpx.Response, status: int, code: str) -> str:
    """The reply is Databricks' JSON error shape; return its message."""
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == code
    assert "Traceback" not in body["message"]
    message: str = body["message"]
    return message


def big_job(tasks: int, clusters: int) -> dict[str, Any]:
    spec = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 1}
    return {
        "name": "big",
        "job_clusters": [
            {"job_cluster_key": f"c{i:03d}", "new_cluster": dict(spec)} for i in range(clusters)
        ],
        "tasks": [
            {
                "task_key": f"t{i:03d}",
                "job_cluster_key": f"c{i % clusters:03d}",
                "notebook_task": {"notebook_path": f"/n/{i}"},
            }
            for i in range(tasks)
        ],
    }


# --- databricks-sdk --------------------------------------------------------------------------


def test_sdk_create_get_update_reset(workspace: Any, job_settings: Settings) -> None:
    from databricks.sdk.service import jobs

    settings = job_settings()
    parsed = jobs.JobSettings.from_dict(settings)
    kwargs = {
        f.name: getattr(parsed, f.name)
        for f in dataclasses.fields(parsed)
        if getattr(parsed, f.name) is not None
    }
    job_id = workspace.jobs.create(**kwargs).job_id

    got = workspace.jobs.get(job_id).settings.as_dict()
    assert got["job_clusters"] == settings["job_clusters"]
    assert got["tasks"] == settings["tasks"]

    bigger = copy.deepcopy(settings["job_clusters"][0])
    bigger["new_cluster"]["autoscale"]["max_workers"] = 12
    workspace.jobs.update(
        job_id, new_settings=jobs.JobSettings(job_clusters=[jobs.JobCluster.from_dict(bigger)])
    )
    updated = workspace.jobs.get(job_id).settings
    assert updated.job_clusters[0].new_cluster.autoscale.max_workers == 12
    assert [t.task_key for t in updated.tasks] == ["ingest", "transform"]

    only = {
        "task_key": "solo",
        "existing_cluster_id": "0101-x",
        "notebook_task": {"notebook_path": "/s"},
    }
    workspace.jobs.reset(
        job_id, new_settings=jobs.JobSettings(name="reset", tasks=[jobs.Task.from_dict(only)])
    )
    reset = workspace.jobs.get(job_id).settings
    assert reset.name == "reset"
    assert [t.task_key for t in reset.tasks] == ["solo"]
    assert not reset.job_clusters


def test_sdk_sees_a_missing_job_as_resource_does_not_exist(workspace: Any) -> None:
    from databricks.sdk.errors import ResourceDoesNotExist

    with pytest.raises(ResourceDoesNotExist, match="Job 42 does not exist"):
        workspace.jobs.get(42)


def test_sdk_reads_a_150_task_job_whole(fresh_sandbox: Sandbox, workspace: Any) -> None:
    job_id = fresh_sandbox.databricks.create_job(big_job(tasks=150, clusters=105))
    fresh_sandbox.clear_requests()
    job = workspace.jobs.get(job_id)
    assert [t.task_key for t in job.settings.tasks] == [f"t{i:03d}" for i in range(150)]
    assert len(job.settings.job_clusters) == 105
    calls = fresh_sandbox.requests_to("databricks", "GET", "/api/2.2/jobs/get")
    assert len(calls) == 2
    assert "page_token" not in calls[0].query
    assert calls[1].query["page_token"]


def test_jobs_get_pages_on_2_2_but_not_on_2_1(fresh_sandbox: Sandbox, dbx: httpx.Client) -> None:
    job_id = fresh_sandbox.databricks.create_job(big_job(tasks=150, clusters=3))
    first = dbx.get("/api/2.2/jobs/get", params={"job_id": job_id}).json()
    assert len(first["settings"]["tasks"]) == 100
    assert len(first["settings"]["job_clusters"]) == 3
    second = dbx.get(
        "/api/2.2/jobs/get", params={"job_id": job_id, "page_token": first["next_page_token"]}
    ).json()
    assert len(second["settings"]["tasks"]) == 50
    assert "job_clusters" not in second["settings"]
    assert "next_page_token" not in second
    assert second["settings"]["name"] == "big"
    legacy = dbx.get("/api/2.1/jobs/get", params={"job_id": job_id}).json()
    assert len(legacy["settings"]["tasks"]) == 150
    assert "next_page_token" not in legacy
    bad = dbx.get("/api/2.2/jobs/get", params={"job_id": job_id, "page_token": "garbage"})
    assert_databricks_error(bad, 400, "INVALID_PARAMETER_VALUE")


def test_sdk_notification_destinations_crud_never_echo_secrets(
    fresh_sandbox: Sandbox, workspace: Any, dbx: httpx.Client
) -> None:
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service import settings as s

    hook_url = "https://hooks.example.com/gradient-secret-path"
    created = workspace.notification_destinations.create(
        display_name="Gradient",
        config=s.Config(
            generic_webhook=s.GenericWebhookConfig(
                url=hook_url, username="u-name", password="p-word"
            )
        ),
    )
    assert created.destination_type == s.DestinationType.WEBHOOK
    webhook = created.config.generic_webhook
    assert (webhook.url_set, webhook.username_set, webhook.password_set) == (True, True, True)
    assert webhook.url is None
    assert webhook.password is None

    workspace.notification_destinations.create(
        display_name="Other", config=s.Config(generic_webhook=s.GenericWebhookConfig(url=hook_url))
    )
    listed = list(workspace.notification_destinations.list(page_size=1))
    assert [d.display_name for d in listed] == ["Gradient", "Other"]

    renamed = workspace.notification_destinations.update(created.id, display_name="Renamed")
    assert renamed.display_name == "Renamed"
    assert workspace.notification_destinations.get(created.id).config.generic_webhook.password_set

    raw_texts = [
        dbx.get(f"/api/2.0/notification-destinations/{created.id}").text,
        dbx.get("/api/2.0/notification-destinations").text,
        dbx.patch(f"/api/2.0/notification-destinations/{created.id}", json={}).text,
    ]
    for text in raw_texts:
        assert hook_url not in text
        assert "u-name" not in text
        assert "p-word" not in text
    stored = {d["id"]: d for d in fresh_sandbox.databricks.destinations}[created.id]
    assert stored["config"]["password"] == "p-word"

    workspace.notification_destinations.delete(created.id)
    with pytest.raises(NotFound):
        workspace.notification_destinations.get(created.id)


def test_destination_config_must_wrap_exactly_one_kind(dbx: httpx.Client) -> None:
    url = "/api/2.0/notification-destinations"
    none = dbx.post(url, json={"display_name": "x", "config": {}})
    assert_databricks_error(none, 400, "INVALID_PARAMETER_VALUE")
    output_only = dbx.post(
        url, json={"display_name": "x", "config": {"generic_webhook": {"url_set": True}}}
    )
    assert_databricks_error(output_only, 400, "INVALID_PARAMETER_VALUE")


# --- Airflow's DatabricksHook ----------------------------------------------------------------


def test_hook_update_run_now_get_run(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any], job_settings: Settings
) -> None:
    hook = hook_factory()
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    cluster = copy.deepcopy(job_settings()["job_clusters"][0])
    cluster["new_cluster"]["node_type_id"] = "m5.xlarge"
    hook.update_job(str(job_id), {"job_clusters": [cluster]})
    assert fresh_sandbox.databricks.get_job(job_id)["settings"]["job_clusters"] == [cluster]

    run_id = hook.run_now({"job_id": job_id})
    run = hook.get_run(run_id)
    assert run["job_id"] == job_id
    assert run["job_clusters"][0]["new_cluster"]["node_type_id"] == "m5.xlarge"
    assert run["run_page_url"].startswith(fresh_sandbox.databricks_url)
    # By default each runs/get moves the run on: PENDING, RUNNING, then TERMINATED.
    assert run["state"]["life_cycle_state"] == "PENDING"
    assert hook.get_run_state(run_id).life_cycle_state == "RUNNING"
    state = hook.get_run_state(run_id)
    assert state.is_terminal
    assert state.is_successful
    assert hook.get_job_id(run_id) == job_id


def test_hook_finds_jobs_by_name_across_list_pages(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any]
) -> None:
    ids = [fresh_sandbox.databricks.create_job({"name": f"job-{i}"}) for i in range(30)]
    hook = hook_factory()
    assert hook.find_job_id_by_name("job-7") == ids[7]
    assert (
        hook.find_job_id_by_name("JOB-7") is None
    )  # server filter is case-insensitive, hook's not
    assert hook.find_job_id_by_name("missing") is None
    listed = hook.list_jobs()  # limit 25: two pages
    assert sorted(j["job_id"] for j in listed) == sorted(ids)
    assert len(fresh_sandbox.requests_to("databricks", "GET", "/api/2.2/jobs/list")) >= 2 + 3


def test_hook_do_api_call_pages_jobs_get(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any]
) -> None:
    job_id = fresh_sandbox.databricks.create_job(big_job(tasks=230, clusters=2))
    hook = hook_factory()
    tasks: list[dict[str, Any]] = []
    params: dict[str, Any] = {"job_id": job_id}
    while True:
        page = hook._do_api_call(("GET", "2.2/jobs/get"), params)
        tasks += page["settings"].get("tasks", [])
        if not page.get("next_page_token"):
            break
        params = {"job_id": job_id, "page_token": page["next_page_token"]}
    assert [t["task_key"] for t in tasks] == [f"t{i:03d}" for i in range(230)]


async def test_async_hook_reads_a_run(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any], job_settings: Settings
) -> None:
    # _a_do_api_call (aiohttp) sends GET parameters as a JSON body, not a query string.
    run_id = fresh_sandbox.databricks.run_now(fresh_sandbox.databricks.create_job(job_settings()))
    hook = hook_factory()
    async with hook:
        first = await hook.a_get_run_state(run_id)
        run = await hook.a_get_run(run_id)
        state = await hook.a_get_run_state(run_id)
    assert (first.life_cycle_state, run["state"]["life_cycle_state"]) == ("PENDING", "RUNNING")
    assert state.is_successful
    assert [t["task_key"] for t in run["tasks"]] == ["ingest", "transform"]
    (call, *_) = fresh_sandbox.requests_to("databricks", "GET", "/api/2.2/jobs/runs/get")
    assert call.query == {}


def test_hook_sees_http_errors_with_status(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any]
) -> None:
    from airflow.providers.databricks.exceptions import DatabricksApiError

    with pytest.raises(DatabricksApiError) as caught:
        hook_factory().update_job("12345", {"name": "x"})
    assert caught.value.http_status_code == 400
    assert "INVALID_PARAMETER_VALUE" in str(caught.value)


def test_hook_submit_run_is_a_run_without_a_saved_job(
    fresh_sandbox: Sandbox, hook_factory: Callable[..., Any], dbx: httpx.Client
) -> None:
    hook = hook_factory()
    # The shape DatabricksSubmitRunOperator sends: one legacy task, numbers as strings.
    run_id = hook.submit_run(
        {
            "run_name": "one-off",
            "new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge",
                            "num_workers": "2"},
            "notebook_task": {"notebook_path": "/x"},
        }
    )  # fmt: skip
    run = hook.get_run(run_id)
    assert run["run_type"] == "SUBMIT_RUN"
    assert run["tasks"][0]["new_cluster"]["num_workers"] == 2
    missing = dbx.get("/api/2.2/jobs/get", params={"job_id": run["job_id"]})
    assert "does not exist" in assert_databricks_error(missing, 400, "INVALID_PARAMETER_VALUE")


# --- rejections ------------------------------------------------------------------------------


def _both_sizes(s: dict[str, Any]) -> None:
    s["job_clusters"][0]["new_cluster"]["num_workers"] = 3


def _dup_task(s: dict[str, Any]) -> None:
    s["tasks"].append(copy.deepcopy(s["tasks"][0]))


def _dup_cluster(s: dict[str, Any]) -> None:
    s["job_clusters"].append(copy.deepcopy(s["job_clusters"][0]))


def _missing_cluster(s: dict[str, Any]) -> None:
    s["tasks"][1]["job_cluster_key"] = "nope"


def _min_above_max(s: dict[str, Any]) -> None:
    s["job_clusters"][0]["new_cluster"]["autoscale"] = {"min_workers": 9, "max_workers": 2}


def _unknown_top(s: dict[str, Any]) -> None:
    s["colour"] = "blue"


def _unknown_nested(s: dict[str, Any]) -> None:
    s["job_clusters"][0]["new_cluster"]["num_wrokers"] = 2


def _wrong_shape(s: dict[str, Any]) -> None:
    s["tasks"] = {"task_key": "x"}


def _bad_enum(s: dict[str, Any]) -> None:
    s["job_clusters"][0]["new_cluster"]["aws_attributes"]["availability"] = "CHEAP"


def _bad_dependency(s: dict[str, Any]) -> None:
    s["tasks"][1]["depends_on"] = [{"task_key": "ghost"}]


def _two_computes(s: dict[str, Any]) -> None:
    s["tasks"][0]["existing_cluster_id"] = "0101-abc"


def _too_many_webhooks(s: dict[str, Any]) -> None:
    s["webhook_notifications"] = {"on_start": [{"id": str(i)} for i in range(4)]}


REJECTIONS = [
    (_both_sizes, "num_workers and autoscale"),
    (_dup_task, "Duplicate task_key 'ingest'"),
    (_dup_cluster, "Duplicate job_cluster_key 'main'"),
    (_missing_cluster, "job_cluster_key 'nope'"),
    (_min_above_max, "min_workers (9) is greater than"),
    (_unknown_top, "colour'"),
    (_unknown_nested, "job_clusters[0].new_cluster.num_wrokers"),
    (_wrong_shape, "expected an array"),
    (_bad_enum, "'CHEAP' is not one of"),
    (_bad_dependency, "'ghost'"),
    (_two_computes, "job_cluster_key and existing_cluster_id"),
    (_too_many_webhooks, "at most 3"),
]


@pytest.mark.parametrize(
    ("break_it", "fragment"), REJECTIONS, ids=[f.__name__ for f, _ in REJECTIONS]
)
def test_invalid_settings_are_rejected_on_create_update_and_reset(
    fresh_sandbox: Sandbox,
    dbx: httpx.Client,
    job_settings: Settings,
    break_it: Callable[[dict[str, Any]], None],
    fragment: str,
) -> None:
    bad = job_settings()
    break_it(bad)
    created = dbx.post("/api/2.2/jobs/create", json=bad)
    assert fragment in assert_databricks_error(created, 400, "INVALID_PARAMETER_VALUE")

    job_id = fresh_sandbox.databricks.create_job(job_settings())
    before = fresh_sandbox.databricks.get_job(job_id)
    reset = dbx.post("/api/2.2/jobs/reset", json={"job_id": job_id, "new_settings": bad})
    assert fragment in assert_databricks_error(reset, 400, "INVALID_PARAMETER_VALUE")
    update = dbx.post("/api/2.1/jobs/update", json={"job_id": job_id, "new_settings": bad})
    assert fragment in assert_databricks_error(update, 400, "INVALID_PARAMETER_VALUE")
    assert fresh_sandbox.databricks.get_job(job_id) == before
    with pytest.raises(ValidationError, match=r"\w"):
        fresh_sandbox.databricks.create_job(bad)


def test_update_is_validated_on_the_merged_job(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    # Removing the cluster both tasks run on is valid alone, not on the merged job.
    reply = dbx.post(
        "/api/2.2/jobs/update", json={"job_id": job_id, "fields_to_remove": ["job_clusters/main"]}
    )
    assert "'main'" in assert_databricks_error(reply, 400, "INVALID_PARAMETER_VALUE")
    assert (
        fresh_sandbox.databricks.get_job(job_id)["settings"]["job_clusters"][0]["job_cluster_key"]
        == "main"
    )


def test_missing_job_and_run(dbx: httpx.Client) -> None:
    for reply in (
        dbx.get("/api/2.2/jobs/get", params={"job_id": 404}),
        dbx.post("/api/2.2/jobs/update", json={"job_id": 404, "new_settings": {"name": "x"}}),
        dbx.post("/api/2.2/jobs/reset", json={"job_id": 404, "new_settings": {"name": "x"}}),
        dbx.post("/api/2.2/jobs/run-now", json={"job_id": 404}),
        dbx.post("/api/2.2/jobs/delete", json={"job_id": 404}),
    ):
        assert assert_databricks_error(reply, 400, "INVALID_PARAMETER_VALUE") == (
            "Job 404 does not exist."
        )
    run = dbx.get("/api/2.2/jobs/runs/get", params={"run_id": 7})
    assert assert_databricks_error(run, 400, "INVALID_PARAMETER_VALUE") == "Run 7 does not exist."
    no_id = dbx.get("/api/2.2/jobs/get")
    assert "job_id" in assert_databricks_error(no_id, 400, "INVALID_PARAMETER_VALUE")


def test_malformed_json_and_unknown_endpoint(dbx: httpx.Client) -> None:
    bad = dbx.post(
        "/api/2.2/jobs/create", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert_databricks_error(bad, 400, "MALFORMED_REQUEST")
    not_object = dbx.post("/api/2.2/jobs/create", json=[1, 2])
    assert_databricks_error(not_object, 400, "MALFORMED_REQUEST")
    unknown = dbx.post("/api/2.2/jobs/teleport", json={})
    assert "No API found" in assert_databricks_error(unknown, 404, "ENDPOINT_NOT_FOUND")
    wrong_method = dbx.get("/api/2.2/jobs/create")
    assert_databricks_error(wrong_method, 404, "ENDPOINT_NOT_FOUND")


def test_auth_errors_and_the_sdk_discovery_probe(fresh_sandbox: Sandbox) -> None:
    url = f"{fresh_sandbox.databricks_url}/api/2.2/jobs/list"
    assert_databricks_error(httpx.get(url), 401, "UNAUTHENTICATED")
    wrong = httpx.get(url, headers={"Authorization": "Bearer dapi-wrong"})
    assert assert_databricks_error(wrong, 403, "PERMISSION_DENIED") == "Invalid access token."
    probe = httpx.get(f"{fresh_sandbox.databricks_url}/.well-known/databricks-config")
    assert probe.status_code == 404
    assert probe.json()["error_code"] == "NOT_FOUND"


def test_get_parameters_may_come_as_a_json_body(fresh_sandbox: Sandbox, dbx: httpx.Client) -> None:
    # DatabricksHook._a_do_api_call (aiohttp) sends GET parameters as a JSON body.
    job_id = fresh_sandbox.databricks.create_job({"name": "body-params"})
    reply = dbx.request("GET", "/api/2.2/jobs/get", json={"job_id": job_id})
    assert reply.status_code == 200
    assert reply.json()["settings"]["name"] == "body-params"


# --- update semantics and runs ---------------------------------------------------------------


def test_update_merges_tasks_and_clusters_by_key(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    original = job_settings()
    job_id = fresh_sandbox.databricks.create_job(original)
    slim_ingest = {"task_key": "ingest", "job_cluster_key": "main",
                   "notebook_task": {"notebook_path": "/new"}}  # fmt: skip
    extra_task = {"task_key": "report", "depends_on": [{"task_key": "transform"}],
                  "job_cluster_key": "extra", "notebook_task": {"notebook_path": "/r"}}  # fmt: skip
    extra_cluster = {
        "job_cluster_key": "extra",
        "new_cluster": {"spark_version": "15.4.x-scala2.12", "num_workers": 1},
    }
    reply = dbx.post(
        "/api/2.2/jobs/update",
        json={
            "job_id": job_id,
            "new_settings": {
                "tasks": [slim_ingest, extra_task],
                "job_clusters": [extra_cluster],
                "tags": {"only": "this"},
            },
        },
    )
    assert reply.status_code == 200
    assert reply.json() == {}
    settings = fresh_sandbox.databricks.get_job(job_id)["settings"]
    tasks = {t["task_key"]: t for t in settings["tasks"]}
    assert list(tasks) == ["ingest", "transform", "report"]
    assert tasks["ingest"] == slim_ingest  # replaced whole: libraries and timeout are gone
    assert tasks["transform"] == original["tasks"][1]
    assert [c["job_cluster_key"] for c in settings["job_clusters"]] == ["main", "extra"]
    assert settings["job_clusters"][0] == original["job_clusters"][0]
    assert settings["tags"] == {"only": "this"}
    assert settings["name"] == original["name"]


def test_fields_to_remove(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    reply = dbx.post(
        "/api/2.2/jobs/update",
        json={"job_id": job_id, "fields_to_remove": ["tags", "tasks/transform", "tasks/ghost"]},
    )
    assert reply.status_code == 200, reply.text
    settings = fresh_sandbox.databricks.get_job(job_id)["settings"]
    assert "tags" not in settings
    assert [t["task_key"] for t in settings["tasks"]] == ["ingest"]
    bad = dbx.post(
        "/api/2.2/jobs/update", json={"job_id": job_id, "fields_to_remove": ["libraries/x"]}
    )
    assert_databricks_error(bad, 400, "INVALID_PARAMETER_VALUE")


def test_run_records_the_clusters_in_force_at_run_now(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    shared = fresh_sandbox.databricks.create_job(job_settings())
    per_task = fresh_sandbox.databricks.create_job(job_settings("task_clusters"))
    first = fresh_sandbox.databricks.run_now(shared)
    first_tasks = dbx.post("/api/2.2/jobs/run-now", json={"job_id": per_task}).json()["run_id"]

    cluster = job_settings()["job_clusters"][0]
    cluster["new_cluster"]["node_type_id"] = "r5.large"
    fresh_sandbox.databricks.update_job(shared, {"job_clusters": [cluster]})
    task = job_settings("task_clusters")["tasks"][1]
    task["new_cluster"]["num_workers"] = 3
    fresh_sandbox.databricks.update_job(per_task, {"tasks": [task]})
    second = fresh_sandbox.databricks.run_now(shared)
    second_tasks = fresh_sandbox.databricks.run_now(per_task)

    def node(run_id: int) -> str:
        run = dbx.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
        return str(run["job_clusters"][0]["new_cluster"]["node_type_id"])

    def train_workers(run_id: int) -> int:
        run = fresh_sandbox.databricks.get_run(run_id)
        return int({t["task_key"]: t for t in run["tasks"]}["train"]["new_cluster"]["num_workers"])

    assert (node(first), node(second)) == ("i3.2xlarge", "r5.large")
    assert (train_workers(first_tasks), train_workers(second_tasks)) == (10, 3)


def test_run_goes_pending_running_terminated(fresh_sandbox: Sandbox, dbx: httpx.Client) -> None:
    job_id = fresh_sandbox.databricks.create_job(big_job(tasks=1, clusters=1))
    fresh_sandbox.databricks.run_duration = 1.6
    run_id = fresh_sandbox.databricks.run_now(job_id)
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = dbx.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
        state = run["state"]["life_cycle_state"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "TERMINATED":
            break
        assert "result_state" not in run["state"]
        assert run["end_time"] == 0
        time.sleep(0.05)
    assert seen == ["PENDING", "RUNNING", "TERMINATED"]
    assert run["state"]["result_state"] == "SUCCESS"
    assert run["end_time"] >= run["start_time"]
    assert run["number_in_job"] == 1


def test_by_default_reads_move_a_run_on_and_looking_does_not(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    dbx_sb = fresh_sandbox.databricks
    assert (dbx_sb.run_duration, dbx_sb.run_ends_after_reads) == (0.0, 2)
    run_id = dbx_sb.run_now(dbx_sb.create_job(job_settings()))
    task_run = dbx_sb.get_run(run_id)["tasks"][1]["run_id"]

    def life_cycle(of: int, **params: Any) -> str:
        reply = dbx.get("/api/2.2/jobs/runs/get", params={"run_id": of, **params}).json()
        return str(reply["state"]["life_cycle_state"])

    def looked() -> str:  # the Python API and runs/list only look
        listed = dbx.get("/api/2.2/jobs/runs/list").json()["runs"]
        assert [r["state"] for r in listed] == [dbx_sb.get_run(run_id)["state"]]
        return str(dbx_sb.runs[0]["state"]["life_cycle_state"])

    assert looked() == "PENDING"
    assert life_cycle(run_id) == "PENDING"
    assert looked() == "PENDING"
    assert life_cycle(task_run) == "RUNNING"  # a task run's read moves its run on too
    assert looked() == "RUNNING"
    run = dbx.get("/api/2.2/jobs/runs/get", params={"run_id": run_id}).json()
    assert run["state"]["result_state"] == "SUCCESS"
    assert run["end_time"] >= run["start_time"] > 0
    assert [t["state"]["result_state"] for t in run["tasks"]] == ["SUCCESS", "SUCCESS"]
    assert life_cycle(run_id) == "TERMINATED"

    # A page_token read continues the same read: it does not move the run on.
    dbx_sb.run_ends_after_reads = 1
    paged = dbx_sb.run_now(dbx_sb.create_job(big_job(tasks=150, clusters=1)))
    first = dbx.get("/api/2.2/jobs/runs/get", params={"run_id": paged}).json()
    assert first["state"]["life_cycle_state"] == "PENDING"
    more = life_cycle(paged, page_token=first["next_page_token"])
    assert more == "PENDING"
    assert life_cycle(paged) == "TERMINATED"

    dbx_sb.run_ends_after_reads = 0  # the behaviour before: over at once
    assert life_cycle(dbx_sb.run_now(dbx_sb.create_job(job_settings()))) == "TERMINATED"


def test_failed_and_cancelled_runs(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    fresh_sandbox.databricks.run_ends_after_reads = 0  # results at once, no reads needed
    fresh_sandbox.databricks.next_run_result = "FAILED"
    failed = fresh_sandbox.databricks.get_run(fresh_sandbox.databricks.run_now(job_id))
    assert failed["state"]["result_state"] == "FAILED"
    assert [t["state"]["result_state"] for t in failed["tasks"]] == ["FAILED", "UPSTREAM_FAILED"]
    assert failed["state"]["state_message"]

    fresh_sandbox.databricks.next_run_result = "SUCCESS"
    fresh_sandbox.databricks.run_duration = 60
    slow = fresh_sandbox.databricks.run_now(job_id)
    assert fresh_sandbox.databricks.get_run(slow)["state"]["life_cycle_state"] != "TERMINATED"
    assert dbx.post("/api/2.2/jobs/runs/cancel", json={"run_id": slow}).json() == {}
    cancelled = fresh_sandbox.databricks.get_run(slow)["state"]
    assert (cancelled["life_cycle_state"], cancelled["result_state"]) == ("TERMINATED", "CANCELED")
    assert [r["run_id"] for r in fresh_sandbox.databricks.runs] == [failed["run_id"], slow]


def test_run_output_per_task(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    fresh_sandbox.databricks.run_ends_after_reads = 0  # results at once, no reads needed
    multi = fresh_sandbox.databricks.run_now(fresh_sandbox.databricks.create_job(job_settings()))
    refused = dbx.get("/api/2.2/jobs/runs/get-output", params={"run_id": multi})
    assert "multiple tasks" in assert_databricks_error(refused, 400, "INVALID_PARAMETER_VALUE")
    task_run = fresh_sandbox.databricks.get_run(multi)["tasks"][0]["run_id"]
    output = dbx.get("/api/2.2/jobs/runs/get-output", params={"run_id": task_run}).json()
    assert output["metadata"]["task_key"] == "ingest"
    assert output["notebook_output"]["truncated"] is False


def test_idempotent_run_now(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    job_id = fresh_sandbox.databricks.create_job(job_settings())
    body = {"job_id": job_id, "idempotency_token": "once"}
    first = dbx.post("/api/2.2/jobs/run-now", json=body).json()["run_id"]
    again = dbx.post("/api/2.2/jobs/run-now", json=body).json()["run_id"]
    assert first == again
    assert len(fresh_sandbox.databricks.runs) == 1


def test_list_jobs_pages_and_expands(
    fresh_sandbox: Sandbox, dbx: httpx.Client, job_settings: Settings
) -> None:
    ids = [fresh_sandbox.databricks.create_job(job_settings()) for _ in range(3)]
    page = dbx.get("/api/2.2/jobs/list", params={"limit": 2}).json()
    assert page["has_more"] is True
    assert [j["job_id"] for j in page["jobs"]] == [ids[2], ids[1]]  # newest first
    assert "tasks" not in page["jobs"][0]["settings"]
    rest = dbx.get(
        "/api/2.2/jobs/list", params={"limit": 2, "page_token": page["next_page_token"]}
    ).json()
    assert [j["job_id"] for j in rest["jobs"]] == [ids[0]]
    assert rest["has_more"] is False
    assert "next_page_token" not in rest
    expanded = dbx.get("/api/2.2/jobs/list", params={"expand_tasks": "true", "limit": 1}).json()
    assert len(expanded["jobs"][0]["settings"]["tasks"]) == 2
    assert expanded["jobs"][0]["has_more"] is False
    assert_databricks_error(dbx.get("/api/2.2/jobs/list", params={"limit": 0}), 400,
                            "INVALID_PARAMETER_VALUE")  # fmt: skip
    empty = dbx.get("/api/2.2/jobs/list", params={"name": "nothing"}).json()
    assert empty == {"has_more": False}


def test_python_api_round_trip(fresh_sandbox: Sandbox, job_settings: Settings) -> None:
    settings = job_settings()
    job_id = fresh_sandbox.databricks.create_job(settings)
    job = fresh_sandbox.databricks.get_job(job_id)
    assert {k: job["settings"][k] for k in settings} == settings
    assert job["settings"]["format"] == "MULTI_TASK"
    assert job["creator_user_name"]
    fresh_sandbox.databricks.delete_job(job_id)
    assert fresh_sandbox.databricks.jobs == []
    assert json.dumps(fresh_sandbox.databricks.runs) == "[]"
