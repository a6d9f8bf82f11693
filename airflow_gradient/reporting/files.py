"""Write the report: ``report.html`` (self-contained, plots embedded as base64 PNG),
``report.json`` (the whole history) and ``runs.csv`` / ``recommendations.csv`` /
``changes.csv`` (the same rows, for spreadsheets)."""

from __future__ import annotations

import base64
import csv
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from airflow_gradient.core.history import History
from airflow_gradient.reporting.plots import cluster_timeline_png, duration_and_cost_png

RUN_COLUMNS = (
    "run_id",
    "started_at",
    "ended_at",
    "duration_minutes",
    "result",
    "recommendation_id",
    "holds_recommendation",
    "overridden_fields",
    "predicted_duration_minutes",
    "predicted_cost_usd",
    "cluster",
)
RECOMMENDATION_COLUMNS = (
    "id",
    "state",
    "created_at",
    "phase",
    "predicted_duration_minutes",
    "predicted_cost_usd",
    "in_force_from",
    "in_force_until",
    "ended_by",
    "runs",
)
CHANGE_COLUMNS = ("at", "kind", "recommendation_id", "detail")
_UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z$")
_UUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _rows(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [asdict(item) for item in items]


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])


def _nowrap(text: str) -> str:
    return f'<span class="nw">{html.escape(text)}</span>'


def _html_cell(value: Any, *, short_id: bool = False) -> str:
    """A cell as a person reads it in the page (the JSON and CSV files keep the raw values):
    a mapping one ``key: value`` a line, a list comma-separated, a UTC time as date and time
    (it wraps only between them), an id on one line; ``short_id`` shows an id's first 8
    characters like the plots' labels, the whole id on hover."""
    if isinstance(value, dict):
        return "<br>".join(_nowrap(f"{k}: {_cell(v)}") for k, v in sorted(value.items()))
    if isinstance(value, list):
        return html.escape(", ".join(_cell(v) for v in value))
    text = _cell(value)
    if _UTC_TIME.match(text):
        return " ".join(_nowrap(part) for part in text.split("T"))
    if _UUID.match(text):
        if short_id:
            return f'<span class="nw" title="{html.escape(text)}">{html.escape(text[:8])}</span>'
        return _nowrap(text)
    return html.escape(text)


def _table(
    columns: Sequence[str], rows: Sequence[Mapping[str, Any]], *, short_ids: bool = False
) -> str:
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_html_cell(row.get(c), short_id=short_ids)}</td>" for c in columns)
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_page(history: History, images: Mapping[str, bytes]) -> str:
    """The self-contained HTML page: no external file, script or font."""
    pictures = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode("ascii")}"><figcaption>{html.escape(name)}'
        "</figcaption></figure>"
        for name, data in images.items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in history.notes)
    title = f"Gradient audit: Databricks job {history.job_id}, project {history.project_id}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;
margin-bottom:2em;font-size:0.85em}} th,td{{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}} th{{background:#f3f0ff}} img{{max-width:100%}}
figure{{margin:1em 0}} .nw{{white-space:nowrap}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Period: since {html.escape(history.since)}. {len(history.recommendations)} recommendations,
{len(history.runs)} finished runs, {len(history.changes)} changes of what the job ran with.</p>
{pictures}
<h2>Recommendations</h2>
{_table(RECOMMENDATION_COLUMNS, _rows(history.recommendations))}
<h2>Changes</h2>
{_table(CHANGE_COLUMNS, _rows(history.changes))}
<h2>Runs: actual next to predicted</h2>
{_table(RUN_COLUMNS, _rows(history.runs), short_ids=True)}
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""


def write_report(history: History, output: Path) -> list[Path]:
    """Write every file of the report into ``output`` (created if missing); return them."""
    output.mkdir(parents=True, exist_ok=True)
    images = {
        "Run duration and predicted cost": duration_and_cost_png(history),
        "Tuned cluster by run": cluster_timeline_png(history),
    }
    written = {
        "report.html": html_page(history, images),
        "report.json": json.dumps(history.to_dict(), indent=2, sort_keys=True),
    }
    paths = []
    for name, text in written.items():
        path = output / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    for name, columns, rows in (
        ("runs.csv", RUN_COLUMNS, _rows(history.runs)),
        ("recommendations.csv", RECOMMENDATION_COLUMNS, _rows(history.recommendations)),
        ("changes.csv", CHANGE_COLUMNS, _rows(history.changes)),
    ):
        _write_csv(output / name, columns, rows)
        paths.append(output / name)
    for name, data in images.items():
        path = output / (name.lower().replace(" ", "_") + ".png")
        path.write_bytes(data)
        paths.append(path)
    return paths
