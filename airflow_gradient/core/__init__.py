"""The decisions of airflow-gradient, in plain Python: no Airflow import, no network, no clock.

Operators, sensors, triggers, the CLI and the Terraform helpers call these functions; the edge
(:mod:`airflow_gradient.exceptions`) maps the errors of :mod:`airflow_gradient.core.errors` to
Airflow's exceptions.
"""
