"""The ``gradient`` connection form: what Airflow registers, what the UI reads, the Test button."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.get_provider_info import (
    GRADIENT_CONN_FIELDS,
    GRADIENT_UI_FIELD_BEHAVIOUR,
    get_provider_info,
)
from airflow_gradient.hooks.gradient import DEFAULT_API_URL
from airflow_gradient.sandbox import Sandbox

HOOK = "airflow_gradient.hooks.gradient.GradientHook"
WIDGET = "extra__gradient__allow_insecure_http"
#: Modules Airflow 3.0/3.1 replace with mocks when FAB is not installed (as here).
FAB_MODULES = (
    "wtforms",
    "wtforms.csrf",
    "wtforms.fields",
    "wtforms.fields.simple",
    "wtforms.validators",
    "flask_babel",
    "flask_appbuilder",
    "flask_appbuilder.fieldwidgets",
)


#: Runs ``airflow providers <command> --output json`` for each command through Airflow's own
#: CLI parser, in one interpreter (one Airflow start-up instead of one per command).
CLI = """
import contextlib, io, json, sys
from airflow.cli import cli_parser
found = {}
for command in sys.argv[1:]:
    args = cli_parser.get_parser().parse_args(["providers", command, "--output", "json"])
    with contextlib.redirect_stdout(io.StringIO()) as out:
        args.func(args)
    found[command] = json.loads(out.getvalue())
print("RESULT" + json.dumps(found))
"""


def airflow_providers(home: Path, *commands: str) -> dict[str, Any]:
    """``airflow providers <command> --output json`` for each command, in a fresh home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    proc = subprocess.run(
        [sys.executable, "-c", CLI, *commands],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    found: dict[str, Any] = json.loads(proc.stdout.rsplit("RESULT", 1)[1])
    return found


def test_airflow_providers_cli_shows_the_gradient_hook_form_and_links(tmp_path: Path) -> None:
    found = airflow_providers(tmp_path, "hooks", "widgets", "behaviours", "links")

    hooks = {h["connection_type"]: h for h in found["hooks"]}
    assert hooks["gradient"] == {
        "connection_type": "gradient",
        "class": HOOK,
        "conn_id_attribute_name": "gradient_conn_id",
        "package_name": "airflow-gradient",
        "hook_name": "Gradient",
    }
    widgets = {w["connection_parameter_name"]: w for w in found["widgets"]}
    assert widgets[WIDGET]["class"] == HOOK
    assert widgets[WIDGET]["package_name"] == "airflow-gradient"
    assert widgets[WIDGET]["field_type"] == "boolean"
    assert {"field_behaviours": "gradient"} in found["behaviours"]
    links = {link["extra_link_class_name"] for link in found["links"]}
    assert {
        "airflow_gradient.links.GradientProjectLink",
        "airflow_gradient.links.DatabricksJobLink",
    } <= links


def test_the_form_the_ui_renders() -> None:
    """What ``GET /ui/connections/hook_meta`` sends the connection form (Airflow ≥ 3.2)."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "gradient"]

    assert meta.hook_class_name == HOOK
    assert meta.hook_name == "Gradient"
    fields = meta.standard_fields
    assert fields is not None
    assert fields.login is not None and fields.login.title == "API key ID"
    assert fields.password is not None and fields.password.title == "API key secret"
    assert fields.host is not None and fields.host.placeholder == DEFAULT_API_URL
    assert fields.host.placeholder == "https://api.synccomputing.com"
    assert fields.url_schema is not None and fields.url_schema.hidden
    assert fields.port is not None and fields.port.hidden
    assert meta.extra_fields is not None
    insecure = meta.extra_fields["allow_insecure_http"]
    assert insecure["value"] is False
    assert insecure["schema"] == {
        "type": "boolean",
        "default": False,
        "title": "Allow insecure http",
    }
    assert "plain http" in insecure["description"]
    assert set(meta.extra_fields) == {"allow_insecure_http", "ca_bundle", "verify", "proxy"}
    assert meta.extra_fields["verify"]["value"] is True
    assert meta.extra_fields["ca_bundle"]["schema"]["title"] == "CA bundle path"
    assert meta.extra_fields["proxy"]["schema"]["title"] == "Proxy URL"
    assert "HTTPS_PROXY" in meta.extra_fields["proxy"]["description"]


def test_airflow_3_0_and_3_1_get_the_same_form_from_the_hook_methods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without ``conn-fields``/``ui-field-behaviour`` Airflow calls the hook's widget methods,
    with wtforms/FAB mocked when they are missing, as Airflow 3.0/3.1 do."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    import airflow_gradient.get_provider_info as provider_info

    legacy = get_provider_info()
    for conn_type in legacy["connection-types"]:
        conn_type.pop("conn-fields")
        conn_type.pop("ui-field-behaviour")
    monkeypatch.setattr(provider_info, "get_provider_info", lambda: legacy)
    missing = [name for name in FAB_MODULES if name not in sys.modules]
    try:
        _, widgets, behaviours = HookMetaService._get_hooks_with_mocked_fab()
    finally:  # Airflow leaves its mocks in sys.modules; other tests must not see them
        for name in missing:
            sys.modules.pop(name, None)

    assert behaviours["gradient"] == {
        "hidden_fields": GRADIENT_UI_FIELD_BEHAVIOUR["hidden-fields"],
        "relabeling": GRADIENT_UI_FIELD_BEHAVIOUR["relabeling"],
        "placeholders": GRADIENT_UI_FIELD_BEHAVIOUR["placeholders"],
    }
    assert behaviours["gradient"]["relabeling"]["login"] == "API key ID"
    assert behaviours["gradient"]["relabeling"]["password"] == "API key secret"
    field = widgets[WIDGET].field.param.dump()
    declared = GRADIENT_CONN_FIELDS["allow_insecure_http"]
    assert field["value"] is False
    assert field["schema"]["title"] == declared["label"] == "Allow insecure http"
    assert field["schema"]["type"] == ["boolean", "null"]
    assert field["description"] == declared["description"]
    for name in ("ca_bundle", "verify", "proxy"):
        dumped = widgets[f"extra__gradient__{name}"].field.param.dump()
        assert dumped["schema"]["title"] == GRADIENT_CONN_FIELDS[name]["label"]
        assert dumped["description"] == GRADIENT_CONN_FIELDS[name]["description"]


# --- the Test button ------------------------------------------------------------------------


def press_test_button(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> tuple[bool, str]:
    """What ``POST /api/v2/connections/test`` does: the form's connection, exported as a URI
    under a transient id, then ``Connection.test_connection()`` (hook found by conn type)."""
    from airflow.models.connection import Connection

    conn = Connection(conn_id="transient_gradient_test", conn_type="gradient", **fields)
    monkeypatch.setenv("AIRFLOW_CONN_TRANSIENT_GRADIENT_TEST", conn.get_uri())
    status, message = conn.test_connection()
    return bool(status), str(message)


def test_test_button_connects_with_the_form_values(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok, message = press_test_button(
        monkeypatch, host=sb.gradient_url, login=sb.api_key_id, password=sb.api_key_secret
    )

    assert ok, message
    assert message.startswith("Connected to Gradient; products:")
    assert [r.path for r in sb.requests] == ["/v1/auth/token", "/v1/projects/products"]


def test_test_button_reports_a_refused_key(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    ok, message = press_test_button(
        monkeypatch, host=sb.gradient_url, login=sb.api_key_id, password="wrong-secret"
    )

    assert not ok
    assert "refused the API key" in message
    assert "wrong-secret" not in message
