"""Apache Airflow provider for Gradient (Sync Computing) cluster recommendations on Databricks.

Importing this package is cheap on purpose: DAG files import it on every parse. Hooks,
operators and the sandbox live in submodules and pull their dependencies only when used.

The Airflow version check reads the installed distribution's metadata instead of importing
``airflow``, so the Airflow-free parts (cluster logic, Terraform helpers) stay Airflow-free.
"""

from __future__ import annotations

from importlib import metadata

from packaging.version import Version

__version__ = "0.2.0.dev0"

#: The oldest Airflow release this package is tested with (``make test-compat``).
MIN_AIRFLOW_VERSION = "2.11.2"


def _installed_airflow() -> str | None:
    """The installed Airflow version (``apache-airflow-core`` from 3.0 on), or None."""
    for distribution in ("apache-airflow-core", "apache-airflow"):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


def _check_airflow_version(installed: str | None) -> None:
    """Raise RuntimeError when ``installed`` is older than :data:`MIN_AIRFLOW_VERSION`."""
    if installed is None:
        return
    if Version(Version(installed).base_version) < Version(MIN_AIRFLOW_VERSION):
        raise RuntimeError(
            f"The package airflow-gradient {__version__} needs Apache Airflow "
            f"{MIN_AIRFLOW_VERSION}+; Airflow {installed} is installed. Upgrade Airflow, "
            "or see the compatibility table in the airflow-gradient documentation "
            "(README.md, section Compatibility)."
        )


_check_airflow_version(_installed_airflow())
