"""``airflow-gradient terraform``: keep Terraform from reverting what Gradient applies.

Subcommands (exit 0 = fine, 1 = the check found something, 2 = bad input)::

    ignore-changes (--state FILE | --plan FILE) [--address ADDR] [--cluster-key KEY ...]
                   [--recommendation FILE]
    check --plan FILE [--format text|json]
    check-config FILE.tf [--state FILE] [--format text|json]

Bad input (unreadable file, not a plan, unknown address or cluster key, HCL syntax error)
prints one line ``error: FILE: problem`` on stderr and exits 2. See
https://github.com/synccomputingcode/airflow-gradient/blob/main/docs/terraform.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_gradient.core import terraform
from airflow_gradient.core.cluster.diff import ABSENT
from airflow_gradient.core.json_values import show

DOCS = "https://github.com/synccomputingcode/airflow-gradient/blob/main/docs/terraform.md"

#: What ``check-config`` needs and the command that installs it.
HCL_MISSING = (
    "check-config reads .tf files with python-hcl2, which is not installed; install it with: "
    "pip install 'airflow-gradient[terraform]'"
)


class _InputError(Exception):
    """Bad input in one file: reported as ``error: FILE: problem``, exit status 2."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _read_text(path: str) -> str:
    """The UTF-8 text of ``path``; every failure becomes an :class:`_InputError`."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise _InputError(path, "no such file") from None
    except IsADirectoryError:
        raise _InputError(path, "is a directory, not a file") from None
    except OSError as exc:
        raise _InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if data.startswith(b"PK\x03\x04"):
        raise _InputError(
            path, "a binary plan file; pass the output of `terraform show -json PLANFILE`"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _InputError(path, "not UTF-8 text") from None


def _read_json(path: str) -> Any:
    """The JSON document in ``path``."""
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise _InputError(
            path,
            f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg});"
            " pass the output of `terraform show -json`",
        ) from None


def _read_document(path: str, want: str) -> Any:
    """A ``terraform show -json`` document of kind ``want`` (``plan`` or ``state``)."""
    document = _read_json(path)
    try:
        kind = terraform.document_kind(document)
    except terraform.TerraformInputError as exc:
        raise _InputError(path, str(exc)) from None
    if kind != want:
        hint = "--plan" if kind == "plan" else "--state"
        raise _InputError(path, f"a Terraform {kind}, not a {want}; pass it with {hint}")
    return document


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn :class:`_InputError` into one line on stderr and exit status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except _InputError as exc:
            print(f"error: {exc.path}: {exc.problem}", file=sys.stderr)
            return 2

    run.__doc__ = handler.__doc__
    return run


# --- ignore-changes -----------------------------------------------------------------------


def ignore_changes(args: argparse.Namespace) -> int:
    """Print a ``lifecycle { ignore_changes = [...] }`` block for the Gradient-managed paths."""
    source = args.plan or args.state
    document = _read_document(source, "plan" if args.plan else "state")
    configuration = None
    unmanaged: list[str] = []
    if args.recommendation:
        recommendation = _read_json(args.recommendation)
        try:
            configuration = terraform.recommendation_configuration(recommendation)
            unmanaged = terraform.unmanaged_settings(configuration)
        except terraform.TerraformInputError as exc:
            raise _InputError(args.recommendation, str(exc)) from None
    try:
        address, clusters = terraform.clusters_for(document, args.address, args.cluster_key)
        paths = terraform.ignore_changes_for(
            document, address, args.cluster_key, recommendation=configuration
        )
    except terraform.TerraformInputError as exc:
        raise _InputError(source, str(exc)) from None
    what = f"Gradient-managed attributes of {address} ({', '.join(c.label for c in clusters)})"
    if configuration is not None:
        what += f"\nonly those {Path(args.recommendation).name} sets, plus the sizing pair"
    comment = f"{what}\ngenerated by `airflow-gradient terraform ignore-changes`, see {DOCS}"
    print(terraform.lifecycle_block(paths, comment=comment), end="")
    for setting in unmanaged:
        print(
            f"note: {args.recommendation}: the recommendation also sets {setting}, which is not"
            " Gradient-managed; not listed (add it yourself to let Gradient own it)",
            file=sys.stderr,
        )
    return 0


# --- check --------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """A value in the line of a reverted path, as the diff tables show values."""
    return ABSENT if value is None else show(value)


def check(args: argparse.Namespace) -> int:
    """Exit 1 and list the Gradient-managed paths the plan would revert; exit 0 when none."""
    plan = _read_document(args.plan, "plan")
    try:
        reverted = terraform.reverted_paths(plan)
    except terraform.TerraformInputError as exc:
        raise _InputError(args.plan, str(exc)) from None
    if args.format == "json":
        print(json.dumps([r.as_dict() for r in reverted], indent=2))
        return 1 if reverted else 0
    if not reverted:
        print(f"OK: {args.plan}: the plan reverts no Gradient-managed attribute")
        return 0
    print(f"FAIL: {args.plan}: the next apply reverts {len(reverted)} Gradient-managed path(s)")
    group = None
    for item in reverted:
        if group != (item.address, item.cluster):
            group = (item.address, item.cluster)
            print(f"{item.address} ({item.cluster}):")
        line = f"  {item.path}: {_shown(item.current)} -> {_shown(item.planned)}"
        if item.drift is not None:
            line += f"  (changed outside Terraform: {_shown(item.drift[0])} -> "
            line += f"{_shown(item.drift[1])})"
        print(line)
    addresses = sorted({r.address for r in reverted})
    print(
        "Fix: add them to lifecycle.ignore_changes, e.g. `airflow-gradient terraform ignore-changes"
        f" --plan {args.plan} --address {addresses[0]}`; see {DOCS}"
    )
    return 1


# --- check-config -------------------------------------------------------------------------


def check_config(args: argparse.Namespace) -> int:
    """Report managed paths the ``ignore_changes`` of each job misses, and entries too broad."""
    try:
        import hcl2  # noqa: F401  (the optional extra ``terraform``)
    except ImportError:
        print(f"error: {HCL_MISSING}", file=sys.stderr)
        return 2
    tf_text = _read_text(args.config)
    state = None
    if args.state:
        state = _read_json(args.state)
        try:
            terraform.document_kind(state)
        except terraform.TerraformInputError as exc:
            raise _InputError(args.state, str(exc)) from None
    try:
        findings = terraform.config_findings(tf_text, state)
    except terraform.TerraformInputError as exc:
        raise _InputError(args.config, str(exc)) from None
    problems = [f for f in findings if f.is_problem]
    if args.format == "json":
        print(json.dumps([f.as_dict() for f in findings], indent=2))
        return 1 if problems else 0
    for finding in findings:
        print(f"{finding.address}: {finding.kind}: {finding.message}")
    missing = sum(f.kind == "missing" for f in problems)
    broad = len(problems) - missing
    if problems:
        print(
            f"FAIL: {args.config}: {missing} managed path(s) not ignored, {broad} entry(ies)"
            " ignoring more than Gradient manages; generate the block with"
            f" `airflow-gradient terraform ignore-changes`, see {DOCS}"
        )
        return 1
    print(f"OK: {args.config}: ignore_changes covers exactly what Gradient manages")
    return 0


# --- parser -------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    """Register ``terraform`` and its subcommands on the console script's ``subparsers``."""
    parser = subparsers.add_parser(
        "terraform",
        help="keep Terraform from reverting what Gradient applies",
        description=f"Helpers for Databricks jobs managed by Terraform. See {DOCS}.",
    )
    sub = parser.add_subparsers(dest="terraform_command", required=True)

    gen = sub.add_parser(
        "ignore-changes",
        help="print a lifecycle { ignore_changes = [...] } block for the Gradient-managed paths",
        description="Print a lifecycle block that ignores exactly what Gradient manages. "
        "Indexes are resolved from the JSON by job_cluster_key / task_key.",
    )
    source = gen.add_mutually_exclusive_group(required=True)
    source.add_argument("--state", metavar="FILE", help="`terraform show -json` of the state")
    source.add_argument("--plan", metavar="FILE", help="`terraform show -json PLANFILE`")
    gen.add_argument(
        "--address",
        metavar="ADDR",
        help="databricks_job.NAME or databricks_cluster.NAME (optional if there is only one)",
    )
    gen.add_argument(
        "--cluster-key",
        metavar="KEY",
        action="extend",
        nargs="+",
        default=[],
        help="job_cluster_key or task_key (or job_clusters/KEY, tasks/KEY); repeatable."
        " Default: the clusters tagged sync:project-id",
    )
    gen.add_argument(
        "--recommendation",
        metavar="FILE",
        help="a Gradient recommendation (reply or bare): list only what it sets + the sizing pair",
    )
    gen.set_defaults(handler=_guarded(ignore_changes))

    chk = sub.add_parser(
        "check",
        help="fail if the plan would revert a Gradient-managed attribute (run before apply)",
        description="Exit 1 and list every Gradient-managed path the plan's resource_changes "
        "would revert; exit 0 when none; exit 2 on bad input.",
    )
    chk.add_argument(
        "--plan", metavar="FILE", required=True, help="`terraform show -json PLANFILE`"
    )
    chk.add_argument("--format", choices=("text", "json"), default="text")
    chk.set_defaults(handler=_guarded(check))

    cfg = sub.add_parser(
        "check-config",
        help="check the ignore_changes of each databricks_job in a .tf file",
        description="Report which Gradient-managed paths each resource's ignore_changes misses, "
        "and which entries ignore more than Gradient manages. Exit 1 if any.",
    )
    cfg.add_argument("config", metavar="FILE.tf", help="Terraform configuration file")
    cfg.add_argument(
        "--state", metavar="FILE", help="`terraform show -json` output, to resolve indexes"
    )
    cfg.add_argument("--format", choices=("text", "json"), default="text")
    cfg.set_defaults(handler=_guarded(check_config))
