"""N waiting triggers in one event loop: ours against the databricks provider's, same sandbox.

Starts N ``GradientRecommendationTrigger`` on PENDING recommendations, then N
``DatabricksExecutionTrigger`` (apache-airflow-providers-databricks) on runs that stay RUNNING,
each batch alone in a fresh event loop, as a triggerer runs them; the sandbox runs in a child
process (its server threads would otherwise share this process's CPU and memory) with latency
added to every request. For each batch it prints:

- memory per waiting trigger: traced Python allocations (tracemalloc, a separate pass) and the
  process's RSS growth, divided by N;
- event-loop CPU per poll: CPU time of the loop's thread during the window / polls served;
- polls per trigger in the window against the polls due (one at the start, one per interval);
- the longest gap between two polls of one trigger (on time: interval + latency);
- token requests (Gradient only; the Databricks connection uses a personal access token);
- delay from SUCCESS (the sandbox finishes every recommendation or run at once) to the event.

    .venv/bin/python benchmarks/trigger_fanin.py [--n 200 1000] [--latency 0.05]
        [--interval 2] [--window 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="gradient-bench-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")

import itertools

from sandbox_process import RemoteSandbox

TOKEN = "/v1/auth/token"


@dataclass
class Batch:
    """What one batch of triggers measured."""

    kind: str
    n: int
    traced_kb: float = 0.0
    rss_kb: float = 0.0
    cpu_ms_per_poll: float = 0.0
    polls: list[int] | None = None
    due: int = 0
    max_gap: float = 0.0
    tokens: int | str = 0
    delays: list[float] | None = None


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def gradient_targets(sb: RemoteSandbox, n: int) -> tuple[list[Any], Callable[[], None]]:
    """N triggers on PENDING recommendations, and how to finish them all."""
    from airflow_gradient.core.waiting import Reference
    from airflow_gradient.triggers.recommendation import GradientRecommendationTrigger

    job_id = sb.call("databricks.create_job", {"name": "fanin", "tasks": []})
    pairs = []
    for _ in range(n):
        project_id = sb.call("gradient.create_project", job_id=job_id)["id"]
        pairs.append(
            (project_id, sb.call("gradient.add_recommendation", project_id, state="PENDING"))
        )
    triggers = [
        GradientRecommendationTrigger(
            project_id=project_id,
            reference=Reference(
                recommendation_id=rec, include_reference=True, source="b"
            ).to_dict(),
            poll_interval=ARGS.interval,
        )
        for project_id, rec in pairs
    ]

    def finish() -> None:
        for project_id, rec in pairs:
            sb.call(
                "gradient.complete_recommendation",
                project_id,
                rec,
                configuration={"num_workers": 2},
            )

    return triggers, finish


def databricks_targets(sb: RemoteSandbox, n: int) -> tuple[list[Any], Callable[[], None]]:
    """N triggers on runs that stay RUNNING, and how to finish them all."""
    from airflow.providers.databricks.triggers.databricks import DatabricksExecutionTrigger

    sb.set("databricks.run_duration", 3600.0)
    task = {"task_key": "t", "notebook_task": {"notebook_path": "/x"}, "existing_cluster_id": "c"}
    job_id = sb.call("databricks.create_job", {"name": "fanin", "tasks": [task]})
    runs = [sb.call("databricks.run_now", job_id) for _ in range(n)]
    triggers = [
        DatabricksExecutionTrigger(
            run_id=run_id,
            databricks_conn_id="databricks_default",
            polling_period_seconds=ARGS.interval,  # type: ignore[arg-type]
        )
        for run_id in runs
    ]

    def finish() -> None:
        for run_id in runs:
            sb.call("databricks.finish_run", run_id)

    return triggers, finish


#: (trigger target, time) of every poll, recorded by the wrappers :func:`record_polls` installs.
POLLS: list[tuple[str, float]] = []


def record_polls() -> None:
    """Wrap the one call each trigger makes per poll, to note which target and when (the
    Databricks poll sends its run id in a body, which the sandbox's request log leaves out)."""
    from airflow.providers.databricks.hooks.databricks import DatabricksHook

    from airflow_gradient.hooks.gradient import GradientHook

    list_recommendations = GradientHook.alist_recommendations
    get_run_state = DatabricksHook.a_get_run_state

    async def gradient_poll(self: Any, project_id: str, **kwargs: Any) -> Any:
        POLLS.append((project_id, time.time()))
        return await list_recommendations(self, project_id, **kwargs)

    async def databricks_poll(self: Any, run_id: int) -> Any:
        POLLS.append((str(run_id), time.time()))
        return await get_run_state(self, run_id)

    GradientHook.alist_recommendations = gradient_poll  # type: ignore[method-assign]
    DatabricksHook.a_get_run_state = databricks_poll  # type: ignore[method-assign]


async def run_batch(
    kind: str, triggers: list[Any], finish: Callable[[], None], trace: bool, window: float
) -> dict[str, Any]:
    """Run the triggers for the window, finish their targets, wait for every event."""
    events: list[float] = []

    async def consume(trigger: Any) -> None:
        async for _ in trigger.run():
            events.append(time.time())

    gc.collect()
    if trace:
        tracemalloc.start()
    traced0 = tracemalloc.get_traced_memory()[0] if trace else 0
    rss0 = rss_bytes()
    cpu0 = time.thread_time()
    start = time.time()
    POLLS.clear()
    tasks = [asyncio.create_task(consume(t)) for t in triggers]
    del triggers[:]  # the tasks hold them, as the triggerer does
    await asyncio.sleep(window)
    cpu = time.thread_time() - cpu0
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] - traced0 if trace else 0
    rss = rss_bytes() - rss0
    if trace:
        tracemalloc.stop()
    shared = None
    try:
        from airflow_gradient.hooks.gradient_base import ASYNC_CLIENTS

        shared = len(ASYNC_CLIENTS.open_clients()) if kind == "gradient" else None
    except ImportError:  # the code before shared clients
        pass
    done_at = time.time()
    await asyncio.get_running_loop().run_in_executor(None, finish)
    finished_at = time.time()
    _, late = await asyncio.wait(tasks, timeout=ARGS.interval * 10 + 60)
    for task in late:  # reported as missing events, not waited for
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return {
        "start": start,
        "end": start + window,
        "cpu": cpu,
        "traced": traced,
        "rss": rss,
        "delays": [e - (done_at + finished_at) / 2 for e in events],
        "shared_clients": shared,
    }


def measure(sb: RemoteSandbox, kind: str, n: int) -> Batch:
    from airflow_gradient.hooks.gradient import TOKEN_CACHE

    make = gradient_targets if kind == "gradient" else databricks_targets
    batch = Batch(kind, n)
    # Pass 1, traced memory (tracemalloc slows everything: nothing else is read from it).
    triggers, finish = make(sb, n)
    TOKEN_CACHE.clear()
    batch.traced_kb = (
        asyncio.run(run_batch(kind, triggers, finish, trace=True, window=ARGS.window))["traced"]
        / n
        / 1024
    )
    # Pass 2, the rest, on a fresh event loop, a cold token cache and a fresh request log.
    triggers, finish = make(sb, n)
    TOKEN_CACHE.clear()
    sb.call("clear_requests")
    result = asyncio.run(run_batch(kind, triggers, finish, trace=False, window=ARGS.window))
    records = sb.call("requests")
    polls: dict[str, list[float]] = defaultdict(list)
    for key, at in POLLS:
        if result["start"] <= at < result["end"]:
            polls[key].append(at)
    counts = [len(polls.get(k, [])) for k in polls] + [0] * (n - len(polls))
    gaps = [b - a for times in polls.values() for a, b in itertools.pairwise(times)]
    firsts = [times[0] - result["start"] for times in polls.values()]
    batch.rss_kb = result["rss"] / n / 1024
    batch.cpu_ms_per_poll = result["cpu"] / max(1, sum(counts)) * 1000
    batch.polls = counts
    batch.due = int(ARGS.window // ARGS.interval) + 1
    batch.max_gap = max(gaps + firsts, default=float("nan"))
    batch.tokens = (
        sum(1 for r in records if r.service == "gradient" and r.path == TOKEN)
        if kind == "gradient"
        else "n/a (token in the connection)"
    )
    batch.delays = result["delays"]
    if len(batch.delays) != n:
        print(f"  {kind} N={n}: only {len(batch.delays)} events within the wait")
    kinds = Counter(f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in records)
    print(f"  {kind} N={n}: requests {dict(kinds)}; shared clients {result['shared_clients']}")
    return batch


def table(batches: list[Batch]) -> str:
    names = {
        "gradient": "`GradientRecommendationTrigger`",
        "databricks": "`DatabricksExecutionTrigger`",
    }
    lines = [
        "| N | trigger | memory per trigger: traced / RSS | loop CPU per poll "
        "| polls per trigger in window (due) | longest poll gap | token requests "
        "| SUCCESS to event: median / max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in batches:
        assert b.polls is not None
        assert b.delays is not None
        lines.append(
            f"| {b.n} | {names[b.kind]} | {b.traced_kb:.1f} kB / {b.rss_kb:.1f} kB "
            f"| {b.cpu_ms_per_poll:.2f} ms "
            f"| min {min(b.polls)}, median {statistics.median(b.polls):g} ({b.due}) "
            f"| {b.max_gap:.2f} s | {b.tokens} "
            f"| {statistics.median(b.delays or [math.nan]):.2f} s / "
            f"{max(b.delays or [math.nan]):.2f} s ({len(b.delays)} events) |"
        )
    return "\n".join(lines)


def main() -> int:
    global ARGS  # noqa: PLW0603 - the options of this one run
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval, seconds")
    parser.add_argument("--window", type=float, default=5.0, help="seconds measured")
    parser.add_argument("--json", help="also write the figures to this file")
    ARGS = parser.parse_args()

    with RemoteSandbox() as sb:
        os.environ.update(sb.connections)
        record_polls()
        sb.call("faults.set_latency", ARGS.latency)
        import airflow_gradient

        print(f"code: {os.path.dirname(airflow_gradient.__file__)}")
        for kind, make in (("gradient", gradient_targets), ("databricks", databricks_targets)):
            # Warm up: imports and first-use caches are not per-trigger costs.
            asyncio.run(run_batch(kind, *make(sb, 2), trace=False, window=0.5))
        batches = [measure(sb, kind, n) for n in ARGS.n for kind in ("gradient", "databricks")]
    print()
    print(
        f"{ARGS.latency * 1000:.0f} ms per request, poll every {ARGS.interval:g} s, "
        f"{ARGS.window:g} s window"
    )
    print()
    print(table(batches))
    if ARGS.json:
        with open(ARGS.json, "w") as out:
            json.dump([b.__dict__ for b in batches], out)
    return 0


ARGS: argparse.Namespace

if __name__ == "__main__":
    sys.exit(main())
