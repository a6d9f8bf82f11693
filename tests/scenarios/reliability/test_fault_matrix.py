"""The fault matrix: each request of the apply path, broken one at a time in each way.

For every cell: the task succeeds or fails with its designed, clear error; the job afterwards
is exactly as before or exactly the merged spec (whole settings compared); the task ends
within the bound the operator computes from its hook parameters. ``docs/reliability.md``
(written by ``tests/scenarios/reliability/report.py``) must show the same outcome for every cell.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.scenarios.reliability.harness import (
    CELLS,
    NEITHER,
    Cell,
    check_cell,
    parse_table,
    run_cell,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "reliability.md"


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
            f"{cell.id}: docs/reliability.md is stale; run tests/scenarios/reliability/report.py"
        )
    assert not any(state.startswith("NEITHER") for _, state in rows.values())


def test_the_apply_page_promises_what_the_matrix_shows() -> None:
    """A failed cell that leaves the merged spec in place makes "exactly as it was" untrue."""
    rows = parse_table(DOC.read_text(encoding="utf-8"))
    failed_with_merged = [
        key
        for key, (outcome, state) in rows.items()
        if outcome.startswith("failed") and state == "merged spec"
    ]
    assert ("read-back", "malformed JSON") in failed_with_merged
    page = DOC.parent / "operators" / "apply.md"
    readme = " ".join(page.read_text(encoding="utf-8").split())
    assert "a failed apply leaves the job exactly as it was." not in readme
    assert (
        "A failed apply leaves the job either exactly as it was or exactly with the merged spec"
        in readme
    )
    assert "read-back could not be read (malformed JSON, a 500 that outlasts the retries)" in readme
