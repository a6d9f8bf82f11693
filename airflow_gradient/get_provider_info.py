"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point.

Airflow imports this module in every process that lists providers: it imports nothing.
The connection form is declared here (``conn-fields`` / ``ui-field-behaviour``, read by
Airflow ≥ 3.2 without importing the hook); ``GradientHook``'s widget methods, which Airflow
3.0/3.1 call, are built from the same constants.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

#: Same value as ``airflow_gradient.hooks.gradient.DEFAULT_API_URL`` (not imported: see above).
DEFAULT_API_URL = "https://api.synccomputing.com"

#: Extra fields of a ``gradient`` connection, stored in its ``extra`` JSON.
GRADIENT_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "allow_insecure_http": {
        "label": "Allow insecure http",
        "description": (
            "Send the API key over plain http to a host that is not loopback. Leave off and "
            "use an https URL."
        ),
        "schema": {"type": "boolean", "default": False},
    },
    "ca_bundle": {
        "label": "CA bundle path",
        "description": (
            "Path, on every worker, of a PEM file with the CA certificates to trust (a private "
            "CA, or your TLS-inspecting proxy's). Empty: the system's CAs (or SSL_CERT_FILE)."
        ),
        "schema": {"type": ["string", "null"], "default": None},
    },
    "verify": {
        "label": "Verify TLS certificates",
        "description": (
            "Turn off only to diagnose: the API key and tokens could then be read by anyone on "
            "the network path. Each client built without verification logs a WARNING."
        ),
        "schema": {"type": "boolean", "default": True},
    },
    "proxy": {
        "label": "Proxy URL",
        "description": (
            "HTTP(S) proxy for the Gradient API, e.g. http://proxy.example.com:3128 (user and "
            "password may go in the URL). Empty: HTTPS_PROXY / NO_PROXY from the environment."
        ),
        "schema": {"type": ["string", "null"], "default": None},
    },
}

#: How the standard connection fields are shown for a ``gradient`` connection. The URL goes
#: in Host whole (scheme and port included), so Schema and Port are hidden.
GRADIENT_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {
        "host": "API URL",
        "login": "API key ID",
        "password": "API key secret",
    },
    "placeholders": {
        "host": DEFAULT_API_URL,
        "login": "Gradient API key ID",
        "password": "Gradient API key secret",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider description: hooks, operators, connection type and links."""
    return {
        "package-name": "airflow-gradient",
        "name": "Gradient (Sync Computing)",
        "description": "Apply Gradient cluster recommendations to Databricks jobs before they run.",
        "integrations": [
            {
                "integration-name": "Gradient",
                "external-doc-url": "https://synccomputing.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Gradient",
                "python-modules": [
                    "airflow_gradient.hooks.gradient_base",
                    "airflow_gradient.hooks.gradient",
                    "airflow_gradient.hooks.databricks",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Gradient",
                "python-modules": [
                    "airflow_gradient.operators.apply",
                    "airflow_gradient.operators.health",
                    "airflow_gradient.operators.request",
                    "airflow_gradient.operators.rollback",
                    "airflow_gradient.operators.webhook",
                    "airflow_gradient.operators.workflow_clusters",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Gradient",
                "python-modules": ["airflow_gradient.sensors.recommendation"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Gradient",
                "python-modules": ["airflow_gradient.triggers.recommendation"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_gradient.hooks.gradient.GradientHook",
                "connection-type": "gradient",
                "hook-name": "Gradient",
                "conn-fields": deepcopy(GRADIENT_CONN_FIELDS),
                "ui-field-behaviour": deepcopy(GRADIENT_UI_FIELD_BEHAVIOUR),
            }
        ],
        "extra-links": [
            "airflow_gradient.links.GradientProjectLink",
            "airflow_gradient.links.DatabricksJobLink",
        ],
    }
