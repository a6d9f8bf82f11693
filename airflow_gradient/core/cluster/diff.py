"""What changed between two cluster specs, and THE table that shows it."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_gradient.core.cluster.paths import format_path
from airflow_gradient.core.cluster.spec import SIZING_FIELDS
from airflow_gradient.core.json_values import json_equal, show

__all__ = [
    "changed_fields",
    "diff_cluster",
    "format_diff",
    "format_table",
    "read_back_differences",
]


def _diff_into(
    changes: list[tuple[tuple[str, ...], Any, Any]],
    prefix: tuple[str, ...],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> None:
    for key in set(before) | set(after):
        old, new = before.get(key), after.get(key)
        here = (*prefix, str(key))
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            _diff_into(changes, here, old, new)
        elif not json_equal(old, new):
            changes.append((here, copy.deepcopy(old), copy.deepcopy(new)))


def changed_fields(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[tuple[tuple[str, ...], Any, Any]]:
    """:func:`diff_cluster` with each field as its keys (``("spark_conf", "a.b")``) instead of
    a path: ``(keys, before, after)``, sorted by keys (for code that reads or sets the field)."""
    changes: list[tuple[tuple[str, ...], Any, Any]] = []
    _diff_into(changes, (), before, after)
    changes.sort(key=lambda change: change[0])
    return changes


def diff_cluster(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every field that differs between two cluster specs, as ``{"path", "before", "after"}``.

    Sorted by path (key by key). Objects present on both sides are compared key by key; an
    object that appears or disappears is one change holding the whole object (so a switch from
    ``autoscale`` to ``num_workers`` is two changes: ``autoscale`` and ``num_workers``); lists
    are compared whole; a missing side is ``None``. Paths use the notation of :func:`format_path`.
    """
    return [
        {"path": format_path(keys), "before": old, "after": new}
        for keys, old, new in changed_fields(before, after)
    ]


def read_back_differences(
    written: Mapping[str, Any], found: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """What ``found`` (the job's cluster, read back) lacks of ``written`` (the spec sent).

    Fields only ``found`` has are defaults Databricks may add and do not count; a written value
    that is missing or different does, and so does any difference in sizing (``num_workers``,
    ``autoscale``), where an extra field would mean a second sizing form.
    """
    return [
        change
        for change in diff_cluster(written, found)
        if change["before"] is not None or change["path"] in SIZING_FIELDS
    ]


ABSENT = "(absent)"
"""How a table shows a field one side lacks."""

_MAX_COLUMN = 48


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """THE fixed-width table of field differences: a path column, then one column per spec.

    Values are rendered as JSON and a missing side (``None``) as ``(absent)``; the path is shown
    as is. Columns are padded to the widest cell (at most 48 characters; longer cells overflow
    rather than being cut); the last column is not padded.
    """
    cells = [
        [str(row[0]), *(ABSENT if value is None else show(value) for value in row[1:])]
        for row in rows
    ]
    columns = len(header)
    widths = [
        min(_MAX_COLUMN, max(len(row[column]) for row in [list(header), *cells]))
        for column in range(columns)
    ]

    def line(row: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(row[:-1], widths[:-1], strict=True)]
        return " | ".join([*padded, row[-1]]).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in cells)])


def format_diff(changes: Sequence[Mapping[str, Any]]) -> str:
    """A ``path | before | after`` table (:func:`format_table`) of :func:`diff_cluster` output."""
    if not changes:
        return "no changes"
    rows = [
        (change.get("path", ""), change.get("before"), change.get("after")) for change in changes
    ]
    return format_table(("path", "before", "after"), rows)


def format_diff_markdown(changes: Sequence[Mapping[str, Any]]) -> str:
    """:func:`format_diff` as a Markdown table, for UIs that render Markdown (the copilot's
    approval form): a fixed-width table in a code block would lose its line breaks there.

    Each cell is inline code, so JSON stays literal; ``|`` is escaped, a backtick becomes
    ``'``."""
    if not changes:
        return "no changes"

    def cell(text: str) -> str:
        return "`" + text.replace("`", "'").replace("|", "\\|") + "`"

    lines = ["| path | before | after |", "| --- | --- | --- |"]
    for change in changes:
        sides = (change.get("before"), change.get("after"))
        cells = [str(change.get("path", "")), *(ABSENT if v is None else show(v) for v in sides)]
        lines.append("| " + " | ".join(cell(text) for text in cells) + " |")
    return "\n".join(lines)
