"""``airflow-gradient bundle``: keep Databricks Asset Bundle deploys from reverting what Gradient
applies, by writing the recommendation into the bundle.

Subcommands (exit 0 = fine, 1 = the check found something or the write-back was refused,
2 = bad input)::

    check-config BUNDLE_DIR [--target T] [--job KEY] [--cluster-key K] [--format text|json]
    write-back BUNDLE_DIR --target T --job KEY (--project-id P | --from-job JOB_ID)
               [--cluster-key K] [--guard-rails JSON] [--check] [--edit-base]

``write-back`` reads the recommendation through the Airflow connections (``--gradient-conn-id``,
``--databricks-conn-id``; e.g. ``AIRFLOW_CONN_GRADIENT_DEFAULT``), like the operators.
Bad input (no ``databricks.yml``, broken YAML, unknown target, job or cluster) prints one line
``error: ...`` on stderr, exits 2 and touches no file. See docs/bundles.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_gradient.core.errors import (  # no Airflow: `--help` stays fast
    BundleWriteBackRefusedError,
    CoreError,
    GuardRailViolationError,
)

if TYPE_CHECKING:
    from airflow_gradient.core.bundles import Bundle
    from airflow_gradient.core.recommendation import Recommendation

DOCS = "docs/bundles.md in the airflow-gradient repository"


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Bad input → ``error: ...`` and 2; a refusal → ``REFUSED: ...`` and 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (BundleWriteBackRefusedError, GuardRailViolationError) as exc:
            print(f"REFUSED: {exc}", file=sys.stderr)
            return 1
        except (CoreError, _FetchError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    run.__doc__ = handler.__doc__
    return run


class _FetchError(Exception):
    """Bad input outside the bundle: the recommendation cannot be fetched (connection,
    credentials, not found), or an argument is malformed."""


def _load(path: str) -> Bundle:
    from airflow_gradient.core.bundles import load_bundle

    return load_bundle(path)


# --- check-config -------------------------------------------------------------------------


def check_config(args: argparse.Namespace) -> int:
    """Report what a write-back into the bundle will touch; exit 1 on a problem finding."""
    from airflow_gradient.core.bundles import config_findings

    findings = config_findings(
        _load(args.bundle_dir),
        target=args.target,
        job_key=args.job,
        cluster_key=args.cluster_key,
    )
    problems = [f for f in findings if f.is_problem]
    if args.format == "json":
        print(json.dumps([f.as_dict() for f in findings], indent=2))
        return 1 if problems else 0
    for finding in findings:
        print(f"{finding.where}: {finding.kind}: {finding.message}")
    if problems:
        print(
            f"FAIL: {args.bundle_dir}: {len(problems)} finding(s) stop a plain write-back or "
            f"make CI deploy something else; see {DOCS}"
        )
        return 1
    print(f"OK: {args.bundle_dir}: a write-back can carry the recommendation as an override")
    return 0


# --- write-back ---------------------------------------------------------------------------


def _fetch(args: argparse.Namespace) -> tuple[Recommendation, str | None, str]:
    """(the recommendation, the project's cluster_path, the project id), through the hooks."""
    from airflow_gradient.core.recommendation import parse_recommendation
    from airflow_gradient.exceptions import GradientError
    from airflow_gradient.hooks.gradient import GradientHook

    gradient = GradientHook(gradient_conn_id=args.gradient_conn_id)
    try:
        if args.from_job is not None:
            project_id, rec_id = _in_force(args)
            raw: Any = gradient.get_recommendation(project_id, rec_id)
            cluster_path = None
        else:
            project_id = args.project_id
            project = gradient.get_project(project_id)
            cluster_path = project.get("cluster_path") or None
            raw = gradient.get_latest_recommendation(project_id)
            if raw is None:
                raise _FetchError(
                    f"Gradient project {project_id} has no SUCCESS recommendation to write back"
                    "; request one first (GradientRequestRecommendationOperator)."
                )
    except GradientError as exc:
        raise _FetchError(str(exc)) from None
    recommendation = parse_recommendation(raw, project_id=project_id)
    if not recommendation.is_applicable:
        raise _FetchError(
            f"Gradient recommendation {recommendation.id} (project {project_id}) is "
            f"{recommendation.state}, not a usable SUCCESS recommendation."
        )
    return recommendation, cluster_path, project_id


def _in_force(args: argparse.Namespace) -> tuple[str, str]:
    """(project id, recommendation id) of the recommendation in force on the live job."""
    from airflow_gradient.core.cluster.locate import PROJECT_ID_TAG, locate_cluster
    from airflow_gradient.core.cluster.merge import applied_recommendation_id
    from airflow_gradient.hooks.databricks import GradientDatabricksHook

    job = GradientDatabricksHook(databricks_conn_id=args.databricks_conn_id).get_job(args.from_job)
    settings = job["settings"]
    tagged = [] if args.cluster_key else _tagged_locations(settings, args.from_job)
    if len(tagged) == 1:
        location = tagged[0]
    else:  # the key given, or THE rule's answer (the only cluster, or why it cannot choose)
        location = locate_cluster(settings, job_id=args.from_job, cluster_key=args.cluster_key)
    tags = location.spec.get("custom_tags") or {}
    project_id, rec_id = tags.get(PROJECT_ID_TAG), applied_recommendation_id(location.spec)
    if not project_id or not rec_id:
        raise _FetchError(
            f"Databricks job {args.from_job}: cluster {location.path} carries no "
            f"{PROJECT_ID_TAG} and sync:recommendation-id tags, so no recommendation is in "
            "force there; apply one first, or use --project-id."
        )
    return str(project_id), rec_id


def _tagged_locations(settings: dict[str, Any], job_id: int) -> list[Any]:
    """The clusters of the live job that carry a recommendation id (by THE locate rule)."""
    from airflow_gradient.core.cluster.locate import locate_cluster
    from airflow_gradient.core.cluster.merge import applied_recommendation_id
    from airflow_gradient.core.cluster.paths import cluster_path, settings_entries

    paths = [
        cluster_path("job_cluster", e["job_cluster_key"])
        for e in settings_entries(settings, "job_clusters")
        if isinstance(e.get("new_cluster"), dict) and applied_recommendation_id(e["new_cluster"])
    ] + [
        cluster_path("task", t["task_key"])
        for t in settings_entries(settings, "tasks")
        if isinstance(t.get("new_cluster"), dict) and applied_recommendation_id(t["new_cluster"])
    ]
    return [locate_cluster(settings, job_id=job_id, cluster_key=p) for p in paths]


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_back(args: argparse.Namespace) -> int:
    """Write the recommendation into the bundle (or, with ``--check``, say whether it is there)."""
    from airflow_gradient.core.bundles import plan_write_back
    from airflow_gradient.core.guardrails import GuardRails, check_guard_rails

    bundle = _load(args.bundle_dir)
    try:
        given = json.loads(args.guard_rails) if args.guard_rails else None
    except json.JSONDecodeError as exc:
        raise _FetchError(f"--guard-rails is not JSON: {exc.msg} (column {exc.colno})") from None
    rails = GuardRails.from_value(given)
    recommendation, cluster_path, project_id = _fetch(args)
    plan = plan_write_back(
        bundle,
        target=args.target,
        job_key=args.job,
        configuration=recommendation.configuration,
        recommendation_id=recommendation.id,
        project_id=project_id,
        cluster_path=cluster_path,
        cluster_key=args.cluster_key,
        edit_base=args.edit_base,
    )
    where = f"bundle job {args.job} (target {args.target}) cluster {plan.location.path}"
    check_guard_rails(
        plan.location.spec, plan.desired, phase=recommendation.phase, rails=rails, where=where
    )
    what = f"recommendation {recommendation.id} for the {where}"
    if not plan.changes_files:
        print(f"OK: {args.bundle_dir}: the bundle already carries {what}")
        return 0
    if args.check:
        print(plan.diff(), end="")
        print(
            f"FAIL: {args.bundle_dir}: the bundle does not carry {what}; a deploy would revert "
            f"or miss it. Run the same command without --check to write it; see {DOCS}"
        )
        return 1
    for path, text in plan.texts.items():
        _write_atomically(Path(args.bundle_dir) / path, text)
    print(f"Wrote {what}: {', '.join(plan.texts)}")
    if plan.edited_base:
        print(f"Edited in place: {', '.join(plan.edited_base)}")
    if plan.carried_to:
        print(f"Other targets keep their clusters through overrides: {', '.join(plan.carried_to)}")
    print("Commit the files and deploy the bundle from CI as usual.")
    return 0


# --- parser -------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    """Register ``bundle`` and its subcommands on the console script's ``subparsers``."""
    parser = subparsers.add_parser(
        "bundle",
        help="write Gradient recommendations into Databricks Asset Bundles",
        description=f"Helpers for Databricks jobs deployed by Asset Bundles. See {DOCS}.",
    )
    sub = parser.add_subparsers(dest="bundle_command", required=True)

    cfg = sub.add_parser(
        "check-config",
        help="report what a write-back into the bundle will have to touch",
        description="Read databricks.yml and its includes, find the clusters Gradient tunes "
        "(tagged sync:project-id, or --job), and report overrides possible, keys an override "
        "cannot delete, ${var...} clusters and git-ignored variable files. Exit 1 on a problem.",
    )
    cfg.add_argument("bundle_dir", metavar="BUNDLE_DIR", help="the bundle's root directory")
    cfg.add_argument("--target", metavar="T", help="one target (default: every target)")
    cfg.add_argument("--job", metavar="KEY", help="the job's resource key (default: tagged jobs)")
    cfg.add_argument("--cluster-key", metavar="K", help="job_cluster_key or task_key")
    cfg.add_argument("--format", choices=("text", "json"), default="text")
    cfg.set_defaults(handler=_guarded(check_config))

    wb = sub.add_parser(
        "write-back",
        help="write the recommendation into the bundle so the next deploy keeps it",
        description="Fetch the recommendation (the latest usable one of --project-id, or the one "
        "in force on --from-job) and write it so the bundle's effective cluster for --target "
        "equals it: one generated override file and one include: line, or, with --edit-base, an "
        "in-place edit of the defining file. --check writes nothing and exits 1 when the bundle "
        "does not carry it yet.",
    )
    wb.add_argument("bundle_dir", metavar="BUNDLE_DIR", help="the bundle's root directory")
    wb.add_argument("--target", metavar="T", required=True, help="the bundle target")
    wb.add_argument("--job", metavar="KEY", required=True, help="the job's resource key")
    source = wb.add_mutually_exclusive_group(required=True)
    source.add_argument("--project-id", metavar="P", help="Gradient project: its latest one")
    source.add_argument(
        "--from-job", metavar="JOB_ID", type=int, help="Databricks job: the one in force there"
    )
    wb.add_argument("--cluster-key", metavar="K", help="job_cluster_key or task_key")
    wb.add_argument(
        "--guard-rails",
        metavar="JSON",
        help="guard rails as JSON, e.g. '{\"max_workers\": 16}' (as the operators take them)",
    )
    wb.add_argument("--check", action="store_true", help="change nothing; exit 1 if not carried")
    wb.add_argument(
        "--edit-base",
        action="store_true",
        help="allow editing the file that defines the cluster when an override cannot do it",
    )
    wb.add_argument("--gradient-conn-id", default="gradient_default", metavar="ID")
    wb.add_argument("--databricks-conn-id", default="databricks_default", metavar="ID")
    wb.set_defaults(handler=_guarded(write_back))
