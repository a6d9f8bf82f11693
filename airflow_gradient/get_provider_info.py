"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider description: hooks, operators, connection type and links."""
    return {
        "package-name": "airflow-gradient",
        "name": "Gradient (Sync Computing)",
        "description": "Apply Gradient cluster recommendations to Databricks jobs before they run.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Gradient",
                "external-doc-url": "https://synccomputing.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": "Gradient", "python-modules": ["airflow_gradient.hooks.gradient"]}
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_gradient.hooks.gradient.GradientHook",
                "connection-type": "gradient",
                "hook-name": "Gradient",
            }
        ],
    }
