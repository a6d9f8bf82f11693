"""What ``get_provider_info`` declares exists, and agrees with the hook."""

from __future__ import annotations

import importlib
import importlib.util

from airflow.sdk import BaseOperatorLink

from airflow_gradient.get_provider_info import DEFAULT_API_URL, get_provider_info
from airflow_gradient.hooks import gradient


def test_listed_modules_exist() -> None:
    info = get_provider_info()
    modules = [
        module
        for kind in ("hooks", "operators", "sensors", "triggers")
        for entry in info[kind]
        for module in entry["python-modules"]
    ]

    assert "airflow_gradient.operators.apply" in modules
    assert [m for m in modules if importlib.util.find_spec(m) is None] == []


def test_extra_links_are_operator_links() -> None:
    for path in get_provider_info()["extra-links"]:
        module, name = path.rsplit(".", 1)
        assert issubclass(getattr(importlib.import_module(module), name), BaseOperatorLink)


def test_the_form_placeholder_is_the_url_the_hook_defaults_to() -> None:
    (conn_type,) = get_provider_info()["connection-types"]

    assert conn_type["ui-field-behaviour"]["placeholders"]["host"] == gradient.DEFAULT_API_URL
    assert DEFAULT_API_URL == gradient.DEFAULT_API_URL
    assert conn_type["conn-fields"]["allow_insecure_http"]["schema"] == {
        "type": "boolean",
        "default": False,
    }


def test_provider_info_is_a_fresh_copy_each_time() -> None:
    first = get_provider_info()
    first["connection-types"][0]["ui-field-behaviour"]["relabeling"]["login"] = "changed"

    assert (
        get_provider_info()["connection-types"][0]["ui-field-behaviour"]["relabeling"]["login"]
        == "API key ID"
    )
