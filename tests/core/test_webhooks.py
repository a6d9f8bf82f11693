"""The pure decisions of ``airflow_gradient.core.webhooks`` (no server, no Airflow context)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_gradient.core.errors import DatabricksJobError, GradientError
from airflow_gradient.core.webhooks import (
    MAX_DESTINATIONS_PER_EVENT,
    NotificationDestinationError,
    WebhookLimitError,
    check_room_on_start,
    describe_url,
    event_destination_ids,
    find_destination,
    webhook_url,
    wire_on_start,
)

NOTIFICATIONS: dict[str, Any] = {
    "on_start": [{"id": "a"}],
    "on_failure": [{"id": "pager"}, {"id": "slack"}],
    "on_duration_warning_threshold_exceeded": [{"id": "slack"}],
}

# --- wire_on_start ----------------------------------------------------------------------------


def test_appends_and_keeps_everything_else() -> None:
    original = copy.deepcopy(NOTIFICATIONS)
    wired = wire_on_start(NOTIFICATIONS, "gradient", job_id=7)
    assert wired == {**NOTIFICATIONS, "on_start": [{"id": "a"}, {"id": "gradient"}]}
    assert original == NOTIFICATIONS  # the input is not touched
    assert wired is not None
    wired["on_failure"].append({"id": "x"})
    assert original == NOTIFICATIONS  # nor shared with the result


def test_already_wired_is_none() -> None:
    assert wire_on_start(NOTIFICATIONS, "a") is None


@pytest.mark.parametrize("empty", [None, {}, {"on_start": None}, {"on_start": []}])
def test_empty_notifications(empty: dict[str, Any] | None) -> None:
    assert wire_on_start(empty, "g") == {**(empty or {}), "on_start": [{"id": "g"}]}


def test_keeps_unknown_events_and_odd_entries() -> None:
    odd = {"on_start": [{"id": "a", "extra": 1}], "on_streaming_backlog_exceeded": [{"id": "b"}]}
    assert wire_on_start(odd, "g") == {
        "on_start": [{"id": "a", "extra": 1}, {"id": "g"}],
        "on_streaming_backlog_exceeded": [{"id": "b"}],
    }


def test_full_on_start_raises_naming_the_job_and_the_ids() -> None:
    full = {"on_start": [{"id": "x"}, {"id": "y"}, {"id": "z"}]}
    with pytest.raises(WebhookLimitError) as err:
        wire_on_start(full, "g", job_id=42)
    message = str(err.value)
    assert "job 42" in message
    assert "x, y, z" in message
    assert "destination g" in message
    assert isinstance(err.value, DatabricksJobError)
    assert isinstance(err.value, GradientError)


def test_full_on_start_that_lists_it_is_fine() -> None:
    assert wire_on_start({"on_start": [{"id": "x"}, {"id": "y"}, {"id": "g"}]}, "g") is None


def test_limit_is_three() -> None:
    assert MAX_DESTINATIONS_PER_EVENT == 3
    check_room_on_start({"on_start": [{"id": "x"}, {"id": "y"}]})
    with pytest.raises(WebhookLimitError, match="'Gradient'"):
        check_room_on_start({"on_start": [{"id": "x"}, {"id": "y"}, {}]}, destination="'Gradient'")


@pytest.mark.parametrize(
    ("notifications", "match"),
    [
        (["on_start"], "webhook_notifications is a list"),
        ({"on_start": {"id": "a"}}, "on_start is a dict"),
    ],
)
def test_malformed_notifications(notifications: Any, match: str) -> None:
    with pytest.raises(DatabricksJobError, match=match):
        wire_on_start(notifications, "g", job_id=1)


def test_empty_destination_id() -> None:
    with pytest.raises(NotificationDestinationError):
        wire_on_start({}, "")


def test_event_destination_ids() -> None:
    assert event_destination_ids(NOTIFICATIONS) == ["a"]
    assert event_destination_ids(NOTIFICATIONS, "on_failure") == ["pager", "slack"]
    assert event_destination_ids({"on_start": [{"id": "a"}, {}, "junk"]}) == ["a"]
    assert event_destination_ids(None) == []


# --- find_destination -------------------------------------------------------------------------

LISTED = [
    {"id": "1", "display_name": "On-call", "destination_type": "SLACK"},
    {"id": "2", "display_name": "Gradient", "destination_type": "WEBHOOK"},
    {"id": "3", "display_name": "gradient", "destination_type": "WEBHOOK"},
]


def test_find_by_exact_name() -> None:
    assert find_destination(LISTED, "Gradient") == LISTED[1]
    assert find_destination(LISTED, "gradient") == LISTED[2]
    assert find_destination(LISTED, "Gradient ") is None
    assert find_destination([], "Gradient") is None


def test_find_consumes_any_iterable() -> None:
    assert find_destination(iter(LISTED), "On-call") == LISTED[0]


def test_find_refuses_an_ambiguous_name() -> None:
    twice = [*LISTED, {"id": "4", "display_name": "Gradient"}]
    with pytest.raises(NotificationDestinationError, match=r"2 .* named 'Gradient' \(ids 2, 4\)"):
        find_destination(twice, "Gradient")


def test_find_refuses_a_match_without_id() -> None:
    with pytest.raises(NotificationDestinationError, match="without an id"):
        find_destination([{"display_name": "Gradient"}], "Gradient")


# --- webhook_url / describe_url ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        ("https://hooks.example/gradient?t=1", None, None, "https://hooks.example/gradient?t=1"),
        ("  https://hooks.example/g  ", "ignored", 99, "https://hooks.example/g"),
        ("hooks.example", None, None, "https://hooks.example"),
        ("hooks.example", "http", 8080, "http://hooks.example:8080"),
        ("hooks.example/path", "HTTPS", None, "https://hooks.example/path"),
    ],
)
def test_webhook_url(host: str, schema: str | None, port: int | None, expected: str) -> None:
    assert webhook_url(host, schema, port, conn_id="c") == expected


@pytest.mark.parametrize(
    ("host", "schema", "match"),
    [
        (None, None, "has no host"),
        ("   ", None, "has no host"),
        ("hooks.example", "gradient", "schema 'gradient'"),
        ("ftp://hooks.example/x", None, "not an http"),
        ("https://", None, "not an http"),
        ("https://user:s3cret-pw@hooks.example/x", None, "carries a user or password"),
    ],
)
def test_webhook_url_refusals_never_repeat_the_url(
    host: str | None, schema: str | None, match: str
) -> None:
    with pytest.raises(NotificationDestinationError, match=match) as err:
        webhook_url(host, schema, None, conn_id="hook")
    assert "'hook'" in str(err.value)
    assert "hooks.example" not in str(err.value)
    assert "s3cret-pw" not in str(err.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example/services/T0/B0/XXXX?token=abc", "https://hooks.example"),
        ("http://127.0.0.1:8443/x", "http://127.0.0.1:8443"),
        ("https://u:p@hooks.example/x", "https://hooks.example"),
        ("nonsense", "?://?"),
        ("https://hooks.example:notaport/x", "https://hooks.example"),
    ],
)
def test_describe_url_shows_scheme_and_host_only(url: str, shown: str) -> None:
    assert describe_url(url) == shown
