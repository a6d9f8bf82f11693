"""The ``airflow-gradient`` console script: ``sandbox``, ``terraform``, ``bundle``, ``doctor``
and ``report`` subcommands.

Each subcommand lives in its own module and registers its parser through ``add_parser``;
this module only dispatches, so ``airflow-gradient --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    from airflow_gradient.cli import bundle, doctor, report, sandbox, terraform

    parser = argparse.ArgumentParser(
        prog="airflow-gradient",
        description="Helpers for the airflow-gradient provider.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sandbox.add_parser(sub)
    terraform.add_parser(sub)
    bundle.add_parser(sub)
    doctor.add_parser(sub)
    report.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
