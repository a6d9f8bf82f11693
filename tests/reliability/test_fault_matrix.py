"""The fault matrix: each request of the apply path, broken one at a time in each way.

For every cell: the task succeeds or fails with its designed, clear error; the job afterwards
is exactly as before or exactly the merged spec (whole settings compared); the task ends
within the bound the operator computes from its hook parameters. ``docs/reliability.md``
(written by ``benchmarks/fault_matrix.py``) must show the same outcome for every cell.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.reliability.harness import CELLS, NEITHER, Cell, check_cell, parse_table, run_cell

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id.replace(" | ", ": ") for cell in CELLS])
def test_fault_matrix_cell(cell: Cell, sb: Sandbox) -> None:
    outcome = run_cell(sb, cell)
    problems = check_cell(outcome)
    assert not problems, (
        f"{cell.id}: {problems}\noutcome: {outcome.run.outcome}, job {outcome.state}\n"
        f"error: {outcome.run.error}\nrequests: {outcome.statuses}"
    )
    assert outcome.state != NEITHER


def test_the_doc_shows_every_cell_with_its_designed_outcome() -> None:
    rows = parse_table(DOC.read_text(encoding="utf-8"))
    for cell in CELLS:
        expected = cell.expected
        designed = "succeeded" if expected.error is None else f"failed: {expected.error}"
        assert rows.get((cell.request.name, cell.fault.name)) == (designed, expected.state), (
            f"{cell.id}: docs/reliability.md is stale; run benchmarks/fault_matrix.py"
        )
    assert not any(state.startswith("NEITHER") for _, state in rows.values())
