"""``airflow-gradient doctor``: can Gradient learn from this Databricks job?

    airflow-gradient doctor --job-id J [--project-id P] [--json] [--runs N]
                            [--gradient-conn-id ID] [--databricks-conn-id ID] [--applied-by DAG]

One line per check (``ok`` / ``warn`` / ``fail``, the object, the finding, the fix). Exit 0
when nothing fails, 1 when a check fails, 2 for usage or connection errors (no traceback).
Credentials come from the Airflow connections, like the operators'.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return number


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``doctor`` subcommand on the top-level ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="Check that Gradient can learn from a Databricks job (webhook, logs, runs, ...).",
        description=(
            "Check a Databricks job and its Gradient project: connections, project, tuned "
            "cluster, cluster template, on_start webhook, runs reaching Gradient, the "
            "recommendation in force, who applies, who owns the job. Exit 0 = no failure, "
            "1 = a check failed, 2 = usage or connection error."
        ),
    )
    parser.add_argument("--job-id", type=_positive, required=True, help="Databricks job id.")
    parser.add_argument(
        "--project-id", default=None, help="Gradient project (default: the one tracking the job)."
    )
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
    parser.add_argument("--gradient-conn-id", default="gradient_default")
    parser.add_argument("--databricks-conn-id", default="databricks_default")
    parser.add_argument(
        "--runs", type=_positive, default=10, help="Finished runs to match (default 10)."
    )
    parser.add_argument(
        "--applied-by",
        action="append",
        default=None,
        metavar="DAG_ID",
        help="A DAG that applies recommendations to this job (repeatable).",
    )
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Examine the job; print the verdicts; return the exit status."""
    from airflow_gradient.doctor import examine
    from airflow_gradient.hooks.databricks import GradientDatabricksHook
    from airflow_gradient.hooks.gradient import GradientHook

    gradient = GradientHook(args.gradient_conn_id, retry_limit=2, retry_delay=0.5)
    databricks = GradientDatabricksHook(
        databricks_conn_id=args.databricks_conn_id, retry_limit=2, retry_delay=0.5
    )
    try:
        found = examine(
            job_id=args.job_id,
            project_id=args.project_id,
            gradient=gradient,
            databricks=databricks,
            runs=args.runs,
            applying_dags=args.applied_by,
            now=datetime.now(UTC),
        )
    except Exception as err:  # a connection id that is not defined, and the like
        print(f"airflow-gradient doctor: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        gradient.close()
    if args.json:
        print(json.dumps(found.to_dict(), indent=2))
    else:
        for verdict in found.verdicts:
            print(verdict.line())
        counts = {
            level: sum(v.level == level for v in found.verdicts) for level in ("fail", "warn")
        }
        print(f"status: {found.status} ({counts['fail']} fail, {counts['warn']} warn)")
    if found.stopped:
        print(f"airflow-gradient doctor: {found.stopped}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FAILED if found.status == "fail" else EXIT_OK
