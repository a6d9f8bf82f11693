"""``airflow-gradient sandbox``: run the local Gradient + Databricks emulator in the foreground.

Prints ``export AIRFLOW_CONN_GRADIENT_DEFAULT=...`` and
``export AIRFLOW_CONN_DATABRICKS_DEFAULT=...`` lines (and the seeded ids with ``--seed demo``)
so a shell can point Airflow at it::

    airflow-gradient sandbox --seed demo > sandbox.env &
    source sandbox.env
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0-65535)")
    return port


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``sandbox`` subcommand on the top-level ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="Run a local Gradient API and Databricks Jobs API emulator (127.0.0.1 only).",
        description=(
            "Run the airflow-gradient sandbox in the foreground until Ctrl-C or SIGTERM. "
            "Prints shell export lines for the Airflow connections."
        ),
    )
    parser.add_argument(
        "--seed",
        choices=["demo"],
        default=None,
        help="Create demo objects: a Databricks job, its Gradient project and a recommendation.",
    )
    parser.add_argument(
        "--gradient-port", type=_port, default=0, help="Gradient API port (default: any free port)."
    )
    parser.add_argument(
        "--databricks-port",
        type=_port,
        default=0,
        help="Databricks API port (default: any free port).",
    )
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; return the exit status."""
    from airflow_gradient.sandbox.foreground import serve

    try:
        return serve(
            gradient_port=args.gradient_port,
            databricks_port=args.databricks_port,
            seed=args.seed,
            out=sys.stdout,
        )
    except OSError as exc:
        print(f"airflow-gradient sandbox: cannot listen: {exc}", file=sys.stderr)
        return 1
