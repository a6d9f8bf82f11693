"""No credential in output, task logs, XComs or exception text, for the templates that the
other template tests do not run in an Airflow home (every home is scanned at teardown: see
``airflow_home`` in conftest.py), and the hook registers what it handles with the masker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_gradient.sandbox import Sandbox
from tests.scenarios.templates.harness import AirflowHome
from tests.secrets_scan import leaks, sandbox_secrets


@pytest.mark.timeout(240)
def test_apply_then_run_and_a_failing_rollback_dag_leak_nothing(
    template_sb: Sandbox, airflow_home: Callable[..., AirflowHome]
) -> None:
    seeded = template_sb.seed_demo()
    variables = {"gradient_project_id": seeded["project_id"], "databricks_job_id": seeded["job_id"]}
    home = airflow_home("gradient_apply_then_run.py", "gradient_rollback_on_failure.py")
    home.dags_test(
        "gradient_apply_then_run", home.env(template_sb.connections(), variables)
    ).assert_ok()

    # A failing run and an apply error put exception text into the logs too.
    template_sb.databricks.next_run_result = "FAILED"
    template_sb.gradient.add_recommendation(seeded["project_id"], {"num_workers": 10_001})
    failed = home.dags_test(
        "gradient_rollback_on_failure", home.env(template_sb.connections(), variables)
    )
    assert failed.returncode != 0
    assert "num_workers" in failed.output  # the apply failed with a clear error ...
    assert template_sb.gradient.issued_tokens  # ... after really authenticating
    # ... and the teardown of ``airflow_home`` scans both runs' output, logs and database.
    assert leaks(sandbox_secrets(template_sb), [home.home], [failed.output]) == []


def test_the_hook_masks_the_key_id_secret_and_token(
    template_sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import redact
    from airflow.sdk.log import mask_secret  # noqa: F401  (the masker the hook feeds)

    from airflow_gradient.hooks.gradient import TOKEN_CACHE, GradientHook

    for name, value in template_sb.connections().items():
        monkeypatch.setenv(name, value)
    TOKEN_CACHE.clear()
    GradientHook().get_products()
    [token] = template_sb.gradient.issued_tokens
    text = json.dumps([template_sb.api_key_id, template_sb.api_key_secret, token])
    redacted = str(redact(text))
    for secret in (template_sb.api_key_id, template_sb.api_key_secret, token):
        assert secret not in redacted


def test_the_scan_finds_a_secret_in_a_file_a_database_or_a_text(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "attempt=1.log").write_text("token=gst_abc123 ok")
    (tmp_path / "airflow.db").write_bytes(b'\x00SQLite\x00{"pat": "dapi-xyz"}\x00')
    secrets = {"token": "gst_abc123", "PAT": "dapi-xyz", "secret": "s3cr3t", "unset": ""}
    found = leaks(secrets, [tmp_path], ["error: s3cr3t refused"])
    assert sorted(found) == sorted(
        [
            f"token in {tmp_path / 'logs' / 'attempt=1.log'}",
            f"PAT in {tmp_path / 'airflow.db'}",
            "secret in text #0",
        ]
    )
