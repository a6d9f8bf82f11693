"""GradientWebhookOperator against the sandbox, over real sockets (no HTTP mocks)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.exceptions import (
    DatabricksJobError,
    GradientError,
    NotificationDestinationError,
    WebhookLimitError,
)
from airflow_gradient.sandbox import Sandbox
from tests.operators.webhook_support import (
    SECRETS,
    WEBHOOK_PASSWORD,
    WEBHOOK_URL,
    WEBHOOK_USER,
    settled_requests,
)

DEST = "/api/2.0/notification-destinations"
UPDATE = "/api/2.2/jobs/update"


def writes(webhook_sb: Sandbox) -> list[str]:
    """Every write the Databricks sandbox served, as ``METHOD path``."""
    return [
        f"{r.method} {r.path}"
        for r in settled_requests(webhook_sb, "databricks")
        if r.method in ("POST", "PATCH", "DELETE", "PUT")
    ]


def settings(webhook_sb: Sandbox, job_id: int) -> dict[str, Any]:
    return webhook_sb.databricks.get_job(job_id)["settings"]


def assert_others_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Everything but ``webhook_notifications.on_start`` is as it was."""
    before, after = json.loads(json.dumps(before)), json.loads(json.dumps(after))
    before["webhook_notifications"].pop("on_start", None)
    after["webhook_notifications"].pop("on_start", None)
    assert after == before


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# --- the happy paths -----------------------------------------------------------------------


def test_new_destination_is_created_and_wired(
    webhook_sb: Sandbox,
    make_job: Callable[..., int],
    run_webhook: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    oncall = next(
        d["id"] for d in webhook_sb.databricks.destinations if d["display_name"] == "On-call"
    )
    job_id = make_job(on_start=[oncall])
    before = settings(webhook_sb, job_id)
    webhook_sb.clear_requests()
    caplog.set_level(logging.DEBUG)

    result, ti = run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")

    created = [d for d in webhook_sb.databricks.destinations if d["display_name"] == "Gradient"]
    assert len(created) == 1
    stored = created[0]["config"]
    assert stored == {"url": WEBHOOK_URL, "username": WEBHOOK_USER, "password": WEBHOOK_PASSWORD}
    assert result == {
        "job_id": job_id,
        "destination_id": created[0]["id"],
        "destination_created": True,
        "job_updated": True,
    }
    after = settings(webhook_sb, job_id)
    assert after["webhook_notifications"]["on_start"] == [
        {"id": oncall},
        {"id": created[0]["id"]},
    ]
    assert_others_kept(before, after)
    assert after["email_notifications"] == {"on_failure": ["oncall@acme.example"]}
    assert after["webhook_notifications"]["on_failure"] == [{"id": oncall}]
    assert after["tasks"][0]["webhook_notifications"] == {"on_start": [{"id": oncall}]}
    assert writes(webhook_sb) == [f"POST {DEST}", f"POST {UPDATE}"]
    assert ti.xcom["databricks_job_url"].endswith(f"/jobs/{job_id}")

    # Nothing the task shows carries the webhook's secrets, not even the DEBUG log.
    assert_no_secret(json.dumps(result))
    assert_no_secret(json.dumps(ti.xcom))
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert_no_secret(logged)
    assert "webhook at https://hooks.example from connection 'gradient_webhook'" in logged


def test_hook_reply_for_a_new_destination_shows_no_secret(webhook_sb: Sandbox) -> None:
    from airflow_gradient.hooks.databricks import GradientDatabricksHook

    hook = GradientDatabricksHook(retry_limit=1)
    reply = hook.create_webhook_destination(
        "Gradient", WEBHOOK_URL, username=WEBHOOK_USER, password=WEBHOOK_PASSWORD
    )
    assert reply["config"] == {
        "generic_webhook": {"url_set": True, "username_set": True, "password_set": True}
    }
    for view in (reply, hook.get_destination(reply["id"]), *hook.iter_destinations()):
        assert_no_secret(json.dumps(view))


def test_existing_destination_is_reused_without_post(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    existing = webhook_sb.databricks.create_destination("Gradient", "https://hooks.example/old")
    job_id = make_job()
    webhook_sb.clear_requests()

    result, _ = run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")

    assert result["destination_id"] == existing["id"]
    assert result["destination_created"] is False
    assert result["job_updated"] is True
    assert writes(webhook_sb) == [f"POST {UPDATE}"]
    # Reused as it is: the secrets of the connection were not written into it.
    stored = next(d for d in webhook_sb.databricks.destinations if d["id"] == existing["id"])
    assert stored["config"] == {"url": "https://hooks.example/old"}
    assert settings(webhook_sb, job_id)["webhook_notifications"]["on_start"] == [
        {"id": existing["id"]}
    ]


def test_existing_destination_found_on_a_later_page(
    webhook_sb: Sandbox,
    make_job: Callable[..., int],
    run_webhook: Callable[..., Any],
    destinations: Callable[[int], list[str]],
) -> None:
    destinations(45)  # the sandbox lists 20 a page: "Gradient" is on the third
    existing = webhook_sb.databricks.create_destination("Gradient", "https://hooks.example/old")
    job_id = make_job()
    webhook_sb.clear_requests()

    result, _ = run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")

    assert result["destination_id"] == existing["id"]
    assert result["destination_created"] is False
    assert len(settled_requests(webhook_sb, "databricks", "GET", DEST)) == 3
    assert writes(webhook_sb) == [f"POST {UPDATE}"]


def test_custom_display_name(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    job_id = make_job()
    result, _ = run_webhook(
        job_name="etl", destination="Gradient (prod)", webhook_conn_id="gradient_webhook"
    )
    names = {d["id"]: d["display_name"] for d in webhook_sb.databricks.destinations}
    assert names[result["destination_id"]] == "Gradient (prod)"
    assert result["job_id"] == job_id


def test_job_already_wired_writes_nothing(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any], oncall: str
) -> None:
    existing = webhook_sb.databricks.create_destination("Gradient", "https://hooks.example/old")
    job_id = make_job(on_start=[oncall, existing["id"]])
    before = settings(webhook_sb, job_id)
    webhook_sb.clear_requests()

    result, _ = run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")

    assert result == {
        "job_id": job_id,
        "destination_id": existing["id"],
        "destination_created": False,
        "job_updated": False,
    }
    assert settled_requests(webhook_sb, "databricks", "POST", UPDATE) == []
    assert writes(webhook_sb) == []
    assert settings(webhook_sb, job_id) == before


def test_second_run_is_idempotent(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    job_id = make_job()
    first, _ = run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")
    wired = settings(webhook_sb, job_id)
    webhook_sb.clear_requests()

    second, _ = run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")

    assert first["destination_created"] is True
    assert first["job_updated"] is True
    assert second == {**first, "destination_created": False, "job_updated": False}
    assert writes(webhook_sb) == []
    assert settings(webhook_sb, job_id) == wired


def test_full_on_start_fails_clearly_before_any_write(
    webhook_sb: Sandbox,
    make_job: Callable[..., int],
    run_webhook: Callable[..., Any],
    destinations: Callable[[int], list[str]],
) -> None:
    ids = destinations(3)
    job_id = make_job(on_start=ids)
    before = settings(webhook_sb, job_id)
    webhook_sb.clear_requests()

    with pytest.raises(WebhookLimitError) as err:
        run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")

    message = str(err.value)
    assert str(job_id) in message
    assert "3" in message
    assert all(i in message for i in ids)
    assert "Nothing was changed" in message
    assert writes(webhook_sb) == []
    assert settings(webhook_sb, job_id) == before
    assert not [d for d in webhook_sb.databricks.destinations if d["display_name"] == "Gradient"]


def test_full_on_start_with_an_existing_destination_fails_without_writes(
    webhook_sb: Sandbox,
    make_job: Callable[..., int],
    run_webhook: Callable[..., Any],
    destinations: Callable[[int], list[str]],
) -> None:
    webhook_sb.databricks.create_destination("Gradient", "https://hooks.example/old")
    job_id = make_job(on_start=destinations(3))
    webhook_sb.clear_requests()

    with pytest.raises(WebhookLimitError):
        run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")
    assert writes(webhook_sb) == []


def test_full_on_start_that_already_lists_the_destination_is_fine(
    webhook_sb: Sandbox,
    make_job: Callable[..., int],
    run_webhook: Callable[..., Any],
    destinations: Callable[[int], list[str]],
) -> None:
    existing = webhook_sb.databricks.create_destination("Gradient", "https://hooks.example/old")
    job_id = make_job(on_start=[*destinations(2), existing["id"]])
    webhook_sb.clear_requests()

    result, _ = run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")

    assert result["job_updated"] is False
    assert writes(webhook_sb) == []


def test_destination_from_gradient_workspace(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    workspace = webhook_sb.gradient.create_workspace(webhook_sb.databricks.workspace_id)
    job_id = make_job()
    before = settings(webhook_sb, job_id)
    webhook_sb.clear_requests()

    result, _ = run_webhook(job_id=job_id, gradient_workspace_id=webhook_sb.databricks.workspace_id)

    assert result == {
        "job_id": job_id,
        "destination_id": workspace["webhook_id"],
        "destination_created": False,
        "job_updated": True,
    }
    assert writes(webhook_sb) == [f"POST {UPDATE}"]
    after = settings(webhook_sb, job_id)
    assert after["webhook_notifications"]["on_start"] == [{"id": workspace["webhook_id"]}]
    assert_others_kept(before, after)


def test_created_meanwhile_by_another_writer_is_reused(
    webhook_sb: Sandbox,
    make_job: Callable[..., int],
    run_webhook: Callable[..., Any],
    monkeypatch: Any,
) -> None:
    from airflow_gradient.hooks.databricks import GradientDatabricksHook

    job_id = make_job()
    real_iter = GradientDatabricksHook.iter_destinations
    calls = {"n": 0}

    def racing_iter(self: GradientDatabricksHook) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # the other writer creates it right after our first lookup
            listed = list(real_iter(self))
            webhook_sb.databricks.create_destination("Gradient", "https://hooks.example/theirs")
            return iter(listed)
        return real_iter(self)

    monkeypatch.setattr(GradientDatabricksHook, "iter_destinations", racing_iter)
    result, _ = run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")

    theirs = [d for d in webhook_sb.databricks.destinations if d["display_name"] == "Gradient"]
    assert len(theirs) == 1
    assert result["destination_id"] == theirs[0]["id"]
    assert result["destination_created"] is False
    assert result["job_updated"] is True


def test_update_that_did_not_take_is_reported(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    job_id = make_job()
    # The update answers 200 but never reaches the job (as if another writer undid it).
    webhook_sb.faults.inject("databricks", "POST", UPDATE, status=200, body={})
    with pytest.raises(DatabricksJobError, match=f"After jobs/update, Databricks job {job_id}"):
        run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")


# --- bad inputs ------------------------------------------------------------------------------


def test_unknown_job_id(webhook_sb: Sandbox, run_webhook: Callable[..., Any]) -> None:
    with pytest.raises(DatabricksJobError, match=r"job 424242 does not exist"):
        run_webhook(job_id=424242, webhook_conn_id="gradient_webhook")
    assert writes(webhook_sb) == []


def test_job_id_that_is_not_a_number(webhook_sb: Sandbox, run_webhook: Callable[..., Any]) -> None:
    with pytest.raises(DatabricksJobError, match="not a Databricks job id"):
        run_webhook(job_id="etl", webhook_conn_id="gradient_webhook")


def test_unknown_job_name(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    make_job(name="etl")
    with pytest.raises(DatabricksJobError, match="No Databricks job is named 'nightly'"):
        run_webhook(job_name="nightly", webhook_conn_id="gradient_webhook")
    assert writes(webhook_sb) == []


def test_webhook_connection_missing(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    job_id = make_job()
    with pytest.raises(NotificationDestinationError, match=r"'no_such_conn'.*does not exist"):
        run_webhook(job_id=job_id, webhook_conn_id="no_such_conn")
    assert writes(webhook_sb) == []


def test_webhook_connection_without_host(
    webhook_sb: Sandbox,
    make_job: Callable[..., int],
    run_webhook: Callable[..., Any],
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_EMPTY_HOOK", json.dumps({"conn_type": "http", "login": "u"}))
    job_id = make_job()
    with pytest.raises(NotificationDestinationError, match="has no host"):
        run_webhook(job_id=job_id, webhook_conn_id="empty_hook")
    assert writes(webhook_sb) == []


def test_two_destinations_with_the_same_name(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    # The sandbox refuses duplicate names on create; rename one into a clash.
    a = webhook_sb.databricks.create_destination("Gradient", "https://hooks.example/a")
    b = webhook_sb.databricks.create_destination("Gradient 2", "https://hooks.example/b")
    import httpx

    with httpx.Client(
        base_url=webhook_sb.databricks_url,
        headers={"Authorization": f"Bearer {webhook_sb.databricks_token}"},
    ) as client:
        reply = client.patch(f"{DEST}/{b['id']}", json={"display_name": "Gradient"})
    assert reply.status_code == 200
    job_id = make_job()
    webhook_sb.clear_requests()

    with pytest.raises(NotificationDestinationError, match="2 Databricks notification") as err:
        run_webhook(job_id=job_id, webhook_conn_id="gradient_webhook")
    assert a["id"] in str(err.value)
    assert b["id"] in str(err.value)
    assert writes(webhook_sb) == []


def test_workspace_without_webhook_id(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    webhook_sb.gradient.create_workspace("111", webhook_id="")
    job_id = make_job()
    with pytest.raises(NotificationDestinationError, match="workspace 111 has no webhook_id"):
        run_webhook(job_id=job_id, gradient_workspace_id="111")
    assert writes(webhook_sb) == []


def test_workspace_unknown_to_gradient(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    job_id = make_job()
    with pytest.raises(
        NotificationDestinationError, match="Gradient knows no Databricks workspace"
    ):
        run_webhook(job_id=job_id, gradient_workspace_id="999")
    assert writes(webhook_sb) == []


def test_webhook_id_that_is_no_destination(
    webhook_sb: Sandbox, make_job: Callable[..., int], run_webhook: Callable[..., Any]
) -> None:
    webhook_sb.gradient.create_workspace("222", webhook_id="9f0c0e3e-0000-4000-8000-000000000000")
    job_id = make_job()
    with pytest.raises(
        NotificationDestinationError, match="webhook_id 9f0c0e3e-0000-4000-8000-000000000000"
    ):
        run_webhook(job_id=job_id, gradient_workspace_id="222")
    assert writes(webhook_sb) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job_id": 1, "job_name": "etl", "webhook_conn_id": "c"}, "not both"),
        ({"webhook_conn_id": "c"}, "give job_id or job_name"),
        ({"job_id": 1, "job_name": "", "webhook_conn_id": "c"}, None),
        ({"job_id": 1, "webhook_conn_id": "c", "gradient_workspace_id": "w"}, "not both"),
        ({"job_id": 1}, "say where the notification destination comes from"),
        ({"job_id": 1, "webhook_conn_id": "", "gradient_workspace_id": None}, "say where"),
        (
            {"job_id": 1, "gradient_workspace_id": "w", "destination": "Gradient"},
            "Drop destination",
        ),
        ({"job_id": 1, "webhook_conn_id": "c", "destination": " "}, "is empty"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs: dict[str, Any], message: str | None) -> None:
    from airflow.sdk import DAG

    from airflow_gradient.operators.webhook import GradientWebhookOperator

    with DAG("t", schedule=None):
        if message is None:
            GradientWebhookOperator(task_id="ok", **kwargs)
            return
        with pytest.raises(ValueError, match=message) as err:
            GradientWebhookOperator(task_id="wire", **kwargs)
    assert str(err.value).startswith("wire: ")


def test_templated_source_that_renders_empty_fails_at_execute(webhook_sb: Sandbox) -> None:
    from airflow.sdk import DAG

    from airflow_gradient.operators.webhook import GradientWebhookOperator

    with DAG("t", schedule=None):
        op = GradientWebhookOperator(
            task_id="wire", job_id=1, gradient_workspace_id="{{ params.ws }}"
        )
    op.gradient_workspace_id = ""  # what rendering an empty param leaves
    with pytest.raises(GradientError, match="after rendering, say where"):
        op.execute({"ti": object()})  # type: ignore[arg-type]
    assert writes(webhook_sb) == []


def test_template_fields() -> None:
    from airflow_gradient.operators.webhook import GradientWebhookOperator

    assert set(GradientWebhookOperator.template_fields) == {
        "job_id",
        "job_name",
        "destination",
        "webhook_conn_id",
        "gradient_workspace_id",
        "gradient_conn_id",
        "databricks_conn_id",
    }
