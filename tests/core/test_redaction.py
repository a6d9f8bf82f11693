"""Redaction of cluster specs in the core, with a redactor passed in (no Airflow)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_gradient.core.redaction import is_secret_reference, redact_changes, redact_cluster


def by_name(key: str, value: Any) -> Any:
    """A stand-in redactor: hides names with PASSWORD or ``.key.``."""
    return "***" if "PASSWORD" in key.upper() or ".key." in key else value


SPEC = {
    "num_workers": 2,
    "spark_env_vars": {"DB_PASSWORD": "plain-pw-1", "REF_PASSWORD": "{{secrets/etl/db}}"},
    "spark_conf": {"fs.azure.account.key.acct.dfs.core.windows.net": "az-key-2", "a.b": "1"},
    "custom_tags": {"team": "data-eng"},
}


def test_values_under_sensitive_names_are_hidden_and_references_stay() -> None:
    shown = redact_cluster(SPEC, by_name)
    assert shown["spark_env_vars"] == {"DB_PASSWORD": "***", "REF_PASSWORD": "{{secrets/etl/db}}"}
    assert shown["spark_conf"] == {
        "fs.azure.account.key.acct.dfs.core.windows.net": "***",
        "a.b": "1",
    }
    assert shown["custom_tags"] == {"team": "data-eng"} and shown["num_workers"] == 2
    assert SPEC["spark_env_vars"]["DB_PASSWORD"] == "plain-pw-1"  # the input is untouched


def test_diff_rows_are_redacted_by_the_key_in_their_path() -> None:
    rows = [
        {"path": 'spark_env_vars["DB_PASSWORD"]', "before": "old-pw", "after": "new-pw"},
        {"path": "spark_env_vars.DB_PASSWORD", "before": None, "after": "new-pw"},
        {"path": "spark_conf", "before": None, "after": {"x.key.y": "k", "ok": "v"}},
        {"path": "num_workers", "before": 2, "after": 4},
    ]
    assert redact_changes(rows, by_name) == [
        {"path": 'spark_env_vars["DB_PASSWORD"]', "before": "***", "after": "***"},
        {"path": "spark_env_vars.DB_PASSWORD", "before": None, "after": "***"},
        {"path": "spark_conf", "before": None, "after": {"x.key.y": "***", "ok": "v"}},
        {"path": "num_workers", "before": 2, "after": 4},
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{secrets/scope/key}}", True),
        (" {{ secrets/scope/key }} ", True),
        ("prefix {{secrets/scope/key}}", False),
        ("{{secrets/scope}}", False),
        (42, False),
    ],
)
def test_what_counts_as_a_secret_reference(value: Any, expected: bool) -> None:
    assert is_secret_reference(value) is expected
