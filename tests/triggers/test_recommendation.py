"""GradientRecommendationTrigger: async polls against the sandbox, serialization, one event."""

from __future__ import annotations

import asyncio
import gc
import importlib
import itertools
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from airflow_gradient.core.waiting import Reference
from airflow_gradient.hooks.gradient import TOKEN_CACHE, GradientHook
from airflow_gradient.hooks.gradient_base import ASYNC_CLIENTS
from airflow_gradient.sandbox import Sandbox
from airflow_gradient.triggers import recommendation as recommendation_module
from airflow_gradient.triggers.recommendation import Clock, GradientRecommendationTrigger
from tests.waiting_support import FAST_HOOK, RECS, TOKEN, gradient_calls

FAILURE_TEXT = "No event log found for the latest run"


def awaiting(rec_id: str) -> dict[str, Any]:
    return Reference(recommendation_id=rec_id, include_reference=True, source="test").to_dict()


def trigger(project_id: str, **kwargs: Any) -> GradientRecommendationTrigger:
    params: dict[str, Any] = {
        "project_id": project_id,
        "poll_interval": 0.05,
        "end_time": time.time() + 20,
        "hook_params": FAST_HOOK,
        **kwargs,
    }
    return GradientRecommendationTrigger(**params)


async def events(t: GradientRecommendationTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in t.run()]


def polls(sb: Sandbox, project_id: str) -> list[float]:
    """Arrival times of the list requests."""
    return [r.at for r in sb.requests_to("gradient", "GET", RECS.format(project_id))]


async def test_pending_then_success_one_request_per_poll_and_one_token(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.recommendation_ready_after_reads = 3
    rec_id = sb.gradient.request_recommendation(project_id)
    sb.clear_requests()
    got = await events(trigger(project_id, reference=awaiting(rec_id), poll_interval=0.1))
    assert got == [{"status": "success", "recommendation_id": rec_id}]
    # 3 polls see PENDING, the 4th SUCCESS; nothing else is sent but one token request.
    assert gradient_calls(sb) == [f"POST {TOKEN} 200"] + [f"GET {RECS.format(project_id)} 200"] * 4
    times = polls(sb, project_id)
    assert all(later - earlier >= 0.09 for earlier, later in itertools.pairwise(times))


async def test_failure_yields_failed_with_gradient_error_text(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.next_recommendation_outcome = "FAILURE"
    sb.gradient.recommendation_ready_after_reads = 1
    rec_id = sb.gradient.request_recommendation(project_id)
    [event] = await events(trigger(project_id, reference=awaiting(rec_id)))
    assert event["status"] == "failed" and event["recommendation_id"] == rec_id
    assert event["error"] == FAILURE_TEXT and FAILURE_TEXT in event["message"]
    assert project_id in event["message"]


class SteppedClock(Clock):
    """A clock that moves only when the trigger sleeps: polls land at exact times whatever the
    load of the machine, and each sleep is recorded."""

    def __init__(self, start: float) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


async def test_timeout_polls_until_the_end_time_then_stops(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="PENDING")
    clock = SteppedClock(1_000_000.0)
    monkeypatch.setattr(recommendation_module, "CLOCK", clock)
    end = clock.t + 0.45
    t = trigger(project_id, reference=awaiting(rec_id), poll_interval=0.1, end_time=end)
    [event] = await events(t)
    assert event["status"] == "timeout" and project_id in event["message"]
    assert "PENDING" in event["message"]
    # Polls at 0, 0.1, 0.2, 0.3, 0.4, then a shorter wait to a last poll at the end time.
    assert clock.sleeps == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05])
    assert clock.t == pytest.approx(end)
    assert len(polls(sb, project_id)) == 6
    await asyncio.sleep(0.3)
    assert len(polls(sb, project_id)) == 6  # the trigger stopped polling


async def test_api_error_after_the_hook_retries_ends_the_wait(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.faults.inject("gradient", "GET", RECS.format(project_id), status=503, times=50)
    [event] = await events(trigger(project_id))
    assert event["status"] == "error" and "HTTP 503" in event["message"]
    assert project_id in event["message"]
    assert len(polls(sb, project_id)) == FAST_HOOK["retry_limit"]
    assert event["permanent"] is False  # a retry of the task may get through
    assert event["error_class"] == "GradientApiError"


async def test_a_refused_request_is_a_permanent_error_event(sb: Sandbox) -> None:
    missing = "99999999-2222-4333-8444-555555555555"
    [event] = await events(trigger(missing))
    assert event["status"] == "error" and missing in event["message"]
    assert event["permanent"] is True  # the project does not exist: a retry reads the same
    assert event["error_class"] == "GradientRequestRefusedError"
    assert len(polls(sb, missing)) == 1  # not retried by the hook either


async def test_an_unknown_reference_is_an_error_event(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    sb.gradient.add_recommendation(project_id, state="SUCCESS")
    [event] = await events(trigger(project_id, reference=awaiting("gone")))
    assert event["status"] == "error" and "gone" in event["message"]
    assert event["permanent"] is True  # the reference is wrong: polling again cannot help


async def test_connection_is_read_async_and_the_loop_is_never_blocked(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="SUCCESS")

    def no_sync_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the trigger looked the connection up synchronously")

    monkeypatch.setattr(GradientHook, "get_connection", no_sync_lookup)
    sb.faults.set_latency(0.25, "gradient")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        [event] = await events(trigger(project_id))
    finally:
        ticking.cancel()
    assert event == {"status": "success", "recommendation_id": rec_id}
    # Two requests of 0.25 s each (token, list): a blocking client would starve the ticker
    # (about 0 ticks); a free loop ticks up to 50 times, fewer on a loaded machine.
    assert ticks >= 5


async def test_the_shared_client_is_closed_after_the_event_and_on_cancel(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="PENDING")
    running = [
        asyncio.create_task(
            events(trigger(project_id, reference=awaiting(rec_id), poll_interval=5))
        )
        for _ in range(3)
    ]
    while len(polls(sb, project_id)) < 3:
        await asyncio.sleep(0.01)
    [client] = ASYNC_CLIENTS.open_clients()  # three triggers, one client
    running[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await running[0]
    assert not client.is_closed  # still used by the other two
    for task in running[1:]:
        task.cancel()
    await asyncio.gather(*running[1:], return_exceptions=True)
    assert client.is_closed and ASYNC_CLIENTS.open_clients() == []

    sb.gradient.complete_recommendation(project_id, rec_id)
    await events(trigger(project_id, reference=awaiting(rec_id)))
    assert ASYNC_CLIENTS.open_clients() == []


async def test_many_triggers_one_client_one_token_request(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    TOKEN_CACHE.clear()
    projects = [make_project()[1] for _ in range(5)]
    recs = {p: sb.gradient.add_recommendation(p, state="PENDING") for p in projects}
    sb.clear_requests()
    sb.faults.set_latency(0.05, "gradient")  # every trigger asks while the first token is out
    triggers = [
        trigger(p, reference=awaiting(recs[p]), poll_interval=0.2)
        for p in projects
        for _ in range(40)
    ]
    running = [asyncio.create_task(events(t)) for t in triggers]
    while len(sb.requests_to("gradient", "GET")) < len(triggers):
        await asyncio.sleep(0.02)
    assert len(ASYNC_CLIENTS.open_clients()) == 1
    for p in projects:
        sb.gradient.complete_recommendation(p, recs[p])
    got = await asyncio.gather(*running)
    assert all(
        e == [{"status": "success", "recommendation_id": recs[p]}]
        for e, p in zip(got, [p for p in projects for _ in range(40)], strict=True)
    )
    assert gradient_calls(sb, "POST") == [f"POST {TOKEN} 200"]
    assert ASYNC_CLIENTS.open_clients() == []


def test_a_new_event_loop_gets_a_new_client_and_nothing_leaks(
    sb: Sandbox, make_project: Callable[..., tuple[int, str]]
) -> None:
    _, project_id = make_project()
    rec_id = sb.gradient.add_recommendation(project_id, state="PENDING")
    seen: list[Any] = []

    async def cancelled_mid_wait() -> None:
        task = asyncio.create_task(
            events(trigger(project_id, reference=awaiting(rec_id), poll_interval=5))
        )
        while not polls(sb, project_id):
            await asyncio.sleep(0.01)
        seen.extend(ASYNC_CLIENTS.open_clients())
        task.cancel()  # as the triggerer does; asyncio.run would do it too on exit

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unclosed socket or transport would raise here
        asyncio.run(cancelled_mid_wait())
        sb.clear_requests()
        asyncio.run(cancelled_mid_wait())
        gc.collect()
    first, second = seen
    assert first is not second and first.is_closed and second.is_closed


def test_serialize_round_trip_plain_json() -> None:
    original = GradientRecommendationTrigger(
        project_id="proj-1",
        reference=Reference(recommendation_id="r1", include_reference=True, source="s").to_dict(),
        gradient_conn_id="gradient_other",
        poll_interval=30,
        end_time=1_900_000_000.5,
        hook_params={"timeout": 10.0, "retry_limit": 3},
    )
    classpath, kwargs = original.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = classpath.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert cls is GradientRecommendationTrigger
    rebuilt = cls(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "project_id": "proj-1",
        "reference": {
            "recommendation_id": "r1",
            "after": None,
            "include_reference": True,
            "source": "s",
        },
        "gradient_conn_id": "gradient_other",
        "poll_interval": 30.0,
        "end_time": 1_900_000_000.5,
        "hook_params": {"timeout": 10.0, "retry_limit": 3},
    }


def test_serialize_defaults_and_airflow_serialization() -> None:
    from airflow.serialization.serialized_objects import BaseSerialization

    _, kwargs = GradientRecommendationTrigger(project_id="p").serialize()
    assert kwargs["reference"] is None and kwargs["end_time"] is None
    encoded = BaseSerialization.serialize(kwargs)
    assert BaseSerialization.deserialize(json.loads(json.dumps(encoded))) == kwargs


def test_bad_arguments_fail_when_the_trigger_is_built() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        GradientRecommendationTrigger(project_id="p", poll_interval=0)
    with pytest.raises(ValueError, match="Unreadable reference time"):
        GradientRecommendationTrigger(project_id="p", reference={"after": "soon"})
