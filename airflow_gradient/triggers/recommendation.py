"""GradientRecommendationTrigger: wait for a Gradient recommendation in the triggerer, async."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_gradient.core.waiting import PER_PAGE, Outcome, Reference, decide

if TYPE_CHECKING:
    from airflow_gradient.hooks.gradient import GradientHook

CLASSPATH = "airflow_gradient.triggers.recommendation.GradientRecommendationTrigger"


class Clock:
    """The trigger's wall clock and sleep; a test swaps in a clock it controls."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


#: The clock every trigger of the process reads (a module attribute, not a trigger field, so
#: serialization and the memory of a waiting trigger stay plain data).
CLOCK = Clock()


class GradientRecommendationTrigger(BaseTrigger):
    """Poll a Gradient project until a recommendation newer than a reference succeeds.

    Each poll is one request (the first page of the project's recommendations, newest first),
    sent with the async twin of :class:`~airflow_gradient.hooks.gradient.GradientHook`; the
    connection is read asynchronously. Triggers of one triggerer share, per credential, one
    HTTP client (one pool, one SSL context) and one access token (one token request however
    many start at once); the last trigger using a client closes it, also on cancel. Between
    polls a trigger holds only its plain arguments and a hook. Transient API errors are
    retried by the hook; an error that outlasts those retries ends the wait (it never loops
    forever).

    Yields exactly one event: ``{"status": "success", "recommendation_id": ...}``, or
    ``{"status": "failed" | "timeout" | "error", "message": ...}`` (``failed`` also carries
    ``recommendation_id`` and Gradient's ``error`` text; ``error`` carries ``permanent``, true
    when a retry would meet the same error, and ``error_class``, the name of the error's class,
    if one was raised). The sensor's ``execute_complete`` raises it as the same kind of error
    as ``poke`` would: a permanent one fails the task without retries.

    :param project_id: Gradient project id.
    :param reference: :meth:`Reference.to_dict() <airflow_gradient.core.waiting.Reference.to_dict>`
        of what the recommendation must be newer than (``None``: any recommendation counts).
        A reference id is taken to exist (the sensor checks it before deferring).
    :param gradient_conn_id: connection of type ``gradient``.
    :param poll_interval: seconds between polls.
    :param end_time: epoch seconds after which the wait ends with a ``timeout`` event (one
        last poll is made at that time); ``None``: no limit of its own.
    :param hook_params: keyword arguments for the hook (plain numbers: timeouts, retries).
    """

    def __init__(
        self,
        *,
        project_id: str,
        reference: Mapping[str, Any] | None = None,
        gradient_conn_id: str = "gradient_default",
        poll_interval: float = 60.0,
        end_time: float | None = None,
        hook_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}")
        self.project_id = project_id
        self.reference = dict(reference) if reference is not None else None
        self.gradient_conn_id = gradient_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time) if end_time is not None else None
        self.hook_params = dict(hook_params or {})
        # Parse now: a bad reference fails when the trigger is built, not at the first poll.
        self._reference = Reference.from_dict(self.reference or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and keyword arguments, plain JSON values only."""
        return (
            CLASSPATH,
            {
                "project_id": self.project_id,
                "reference": dict(self.reference) if self.reference is not None else None,
                "gradient_conn_id": self.gradient_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "hook_params": dict(self.hook_params),
            },
        )

    def _hook(self) -> GradientHook:
        from airflow_gradient.hooks.gradient import GradientHook

        return GradientHook(self.gradient_conn_id, **self.hook_params)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until done, failed, timed out or an API error; then yield one event."""
        hook = self._hook()
        try:
            payload = await self._wait(hook)
        finally:
            await hook.aclose()
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def _wait(self, hook: GradientHook) -> dict[str, Any]:
        from airflow_gradient.exceptions import GradientError

        polls = 0
        while True:
            polls += 1
            try:
                items = await hook.alist_recommendations(self.project_id, per_page=PER_PAGE)
            except GradientError as err:
                return {
                    "status": "error",
                    "message": f"Waiting for a recommendation of Gradient project "
                    f"{self.project_id} stopped after {polls} poll(s): {err}",
                    "permanent": err.permanent,
                    "error_class": type(err).__name__,
                }
            outcome = decide(items, self._reference, project_id=self.project_id)
            finished = self._event_for(outcome)
            if finished is not None:
                self.log.info("Poll %d: %s", polls, outcome.message)
                return finished
            if self.end_time is not None and CLOCK.now() >= self.end_time:
                self.log.info("Poll %d: %s", polls, outcome.message)
                deadline = datetime.fromtimestamp(self.end_time, UTC).isoformat()
                return {
                    "status": "timeout",
                    "message": f"No recommendation of Gradient project {self.project_id} "
                    f"succeeded by {deadline} ({self._reference.describe()}); last seen: "
                    f"{outcome.message}",
                }
            wait = self._wait_s()
            self.log.info("Poll %d: %s Next poll in %.1fs.", polls, outcome.message, wait)
            await CLOCK.sleep(wait)

    def _wait_s(self) -> float:
        if self.end_time is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, self.end_time - CLOCK.now()))

    @staticmethod
    def _event_for(outcome: Outcome) -> dict[str, Any] | None:
        if outcome.status == "done":
            return {"status": "success", "recommendation_id": outcome.recommendation_id}
        if outcome.status == "failed":
            return {
                "status": "failed",
                "message": outcome.message,
                "recommendation_id": outcome.recommendation_id,
                "error": outcome.error,
            }
        if outcome.status == "error":
            return {"status": "error", "message": outcome.message, "permanent": outcome.permanent}
        return None
