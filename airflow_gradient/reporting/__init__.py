"""The audit report of ``airflow-gradient report``: plots (matplotlib, the ``report`` extra),
the self-contained HTML page, and the JSON/CSV files, all from a ``core.history.History``."""
