"""Look for credentials where they must never be: output, task logs, the metadata database
(as bytes, and table by table through SQL)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from airflow_gradient.sandbox import Sandbox


def sandbox_secrets(sb: Sandbox) -> dict[str, str]:
    """Every credential the sandbox knows, by what it is (key id and secret, PAT, tokens)."""
    found = {
        "Gradient API key id": sb.api_key_id,
        "Gradient API key secret": sb.api_key_secret,
        "Databricks PAT": sb.databricks_token,
    }
    for i, token in enumerate(sb.gradient.issued_tokens):
        found[f"Gradient access token #{i + 1}"] = token
    return found


def leaks(secrets: dict[str, str], roots: Iterable[Path], texts: Iterable[str] = ()) -> list[str]:
    """``"<what> in <where>"`` for each secret found in a file under ``roots`` or in ``texts``.

    Files are read as bytes, so the SQLite database (XComs, rendered fields) is searched too.
    """
    places: list[tuple[str, bytes]] = [(f"text #{i}", t.encode()) for i, t in enumerate(texts)]
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        places.extend((str(p), p.read_bytes()) for p in files)
    return [
        f"{what} in {where}"
        for what, value in secrets.items()
        for where, data in places
        if value and value.encode() in data
    ]


def database_texts(database: Path) -> dict[str, str]:
    """Every table of a SQLite metadata database as text, by table name (each row's values,
    one row a line), read through SQL: what the UI and the REST API can show."""
    import sqlite3

    texts: dict[str, str] = {}
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
            texts[table] = "\n".join(
                " | ".join(
                    value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    for value in row
                )
                for row in rows
            )
    return texts


def found_in(values: dict[str, str], places: dict[str, str]) -> list[str]:
    """``"<what> in <where>"`` for each value (by what it is) found in a text (by where)."""
    return [
        f"{what} in {where}"
        for what, value in values.items()
        for where, text in places.items()
        if value and value in text
    ]
