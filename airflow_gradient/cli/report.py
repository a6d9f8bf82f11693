"""``airflow-gradient report``: what Gradient did to a job over a period, for audits.

    airflow-gradient report --project-id P [--job-id J] [--since 30d] --output DIR
                            [--gradient-conn-id ID] [--databricks-conn-id ID] [--max-runs N]

Writes ``DIR/report.html`` (self-contained, plots embedded), ``report.json`` and CSV files.
Exit 0 when written, 2 for usage or connection errors (no traceback). Needs matplotlib (the
``report`` extra); the command names it when it is missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_USAGE = 0, 2
_PERIOD = re.compile(r"^(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
#: Recommendations read a page (the API's largest page), and pages at most.
PER_PAGE, MAX_PAGES = 100, 20


def parse_since(value: str, now: datetime) -> datetime:
    """``30d`` / ``12h`` / ``2w`` before ``now``, or an ISO date/time (UTC when no zone)."""
    match = _PERIOD.match(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--since {value!r}: use a period such as 30d, 12h, 2w, or an ISO date (2026-10-01)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``report`` subcommand on the top-level ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="Write an audit report (HTML with plots, JSON, CSV) of a Gradient project's job.",
        description=(
            "Every recommendation in the period, when each went into force on the job and when "
            "it was replaced, reverted or overridden (from the runs' cluster specs and tags), "
            "each run's duration and result next to its recommendation's prediction, and plots."
        ),
    )
    parser.add_argument("--project-id", required=True, help="Gradient project id.")
    parser.add_argument("--job-id", type=int, default=None, help="Default: the project's job.")
    parser.add_argument("--since", default="30d", help="30d (default), 12h, 2w or an ISO date.")
    parser.add_argument("--output", required=True, type=Path, help="Directory to write into.")
    parser.add_argument("--gradient-conn-id", default="gradient_default")
    parser.add_argument("--databricks-conn-id", default="databricks_default")
    parser.add_argument("--max-runs", type=int, default=500, help="Newest runs read at most.")
    parser.set_defaults(handler=run)
    return parser


def _recommendations(gradient: Any, project_id: str, since: datetime) -> list[Any]:
    """The project's recommendations, newest first, pages read until one is older than
    ``since`` or short."""
    from airflow_gradient.core.waiting import parse_timestamp

    found: list[Any] = []
    for page in range(MAX_PAGES):
        items = gradient.list_recommendations(project_id, page=page, per_page=PER_PAGE)
        found.extend(items)
        oldest = parse_timestamp(items[-1].get("created_at")) if items else None
        if len(items) < PER_PAGE or (oldest is not None and oldest < since):
            break
    return found


def run(args: argparse.Namespace) -> int:
    """Fetch, build the history, write the files; return the exit status."""
    from airflow_gradient.reporting.plots import MISSING_EXTRA

    if importlib.util.find_spec("matplotlib") is None:
        print(f"airflow-gradient report: {MISSING_EXTRA}", file=sys.stderr)
        return EXIT_USAGE
    now = datetime.now(UTC)
    try:
        since = parse_since(args.since, now)
    except argparse.ArgumentTypeError as err:
        print(f"airflow-gradient report: {err}", file=sys.stderr)
        return EXIT_USAGE

    from airflow_gradient.core.history import build_history
    from airflow_gradient.hooks.databricks import GradientDatabricksHook
    from airflow_gradient.hooks.gradient import GradientHook
    from airflow_gradient.reporting.files import write_report

    gradient = GradientHook(args.gradient_conn_id, retry_limit=2, retry_delay=0.5)
    databricks = GradientDatabricksHook(
        databricks_conn_id=args.databricks_conn_id, retry_limit=2, retry_delay=0.5
    )
    try:
        project = gradient.get_project(args.project_id)
        job_id = args.job_id if args.job_id is not None else project.get("job_id")
        if job_id in (None, ""):
            print(
                f"airflow-gradient report: Gradient project {args.project_id} names no job; "
                "pass --job-id.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        history = build_history(
            project=project,
            job_id=int(job_id),
            recommendations=_recommendations(gradient, args.project_id, since),
            runs=databricks.list_job_runs(int(job_id), limit=args.max_runs),
            since=since,
        )
        paths = write_report(history, args.output)
    except Exception as err:  # connection, unknown project, unwritable directory
        print(f"airflow-gradient report: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        gradient.close()
    print(
        f"Gradient project {args.project_id}, Databricks job {job_id}: "
        f"{len(history.recommendations)} recommendations, {len(history.runs)} runs, "
        f"{len(history.changes)} changes since {history.since}."
    )
    for path in paths:
        print(f"wrote {path}")
    return EXIT_OK
