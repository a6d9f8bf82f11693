"""Run a sandbox in the foreground until Ctrl-C or SIGTERM (the ``sandbox`` CLI command)."""

from __future__ import annotations

import shlex
import signal
import threading
from types import FrameType
from typing import TextIO

from airflow_gradient.sandbox.sandbox import Sandbox

SEEDS = ("demo",)


def serve(
    *,
    gradient_port: int = 0,
    databricks_port: int = 0,
    seed: str | None = None,
    out: TextIO,
    stop: threading.Event | None = None,
) -> int:
    """Start a sandbox, print shell ``export`` lines for its connections, wait, stop cleanly.

    :param gradient_port: port of the Gradient API (0: any free port).
    :param databricks_port: port of the Databricks API (0: any free port).
    :param seed: ``"demo"`` to create the demo job, project and recommendation.
    :param out: where the ``export`` lines go (stdout for the CLI).
    :param stop: event that ends the wait; SIGINT and SIGTERM set it when in the main thread.
    :return: the process exit status.
    """
    if seed is not None and seed not in SEEDS:
        raise ValueError(f"Unknown seed {seed!r}; known: {', '.join(SEEDS)}")
    stop = stop or threading.Event()
    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _on_signal)
    try:
        with Sandbox(gradient_port=gradient_port, databricks_port=databricks_port) as sb:
            print(f"# Gradient API:   {sb.gradient_url}", file=out)
            print(f"# Databricks API: {sb.databricks_url}", file=out)
            for name, value in sb.connections().items():
                print(f"export {name}={shlex.quote(value)}", file=out)
            if seed == "demo":
                ids = sb.seed_demo()
                print("# Seeded demo objects:", file=out)
                print(f"export GRADIENT_SANDBOX_JOB_ID={ids['job_id']}", file=out)
                print(f"export GRADIENT_SANDBOX_PROJECT_ID={ids['project_id']}", file=out)
                print(
                    f"export GRADIENT_SANDBOX_RECOMMENDATION_ID={ids['recommendation_id']}",
                    file=out,
                )
            print("# Serving; press Ctrl-C to stop.", file=out, flush=True)
            while not stop.wait(0.5):
                pass
            print("# Stopping.", file=out, flush=True)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
    return 0
