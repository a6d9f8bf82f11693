"""Apache Airflow provider for Gradient (Sync Computing) cluster recommendations on Databricks.

Importing this package is cheap on purpose: DAG files import it on every parse. Hooks,
operators and the sandbox live in submodules and pull their dependencies only when used.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"
