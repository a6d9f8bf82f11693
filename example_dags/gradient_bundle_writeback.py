"""Write the latest Gradient recommendation into a Databricks Asset Bundle checked out on the
worker, so the next ``databricks bundle deploy`` keeps it instead of reverting it.

    bundle_check_config  >>  bundle_write_back

A bundle deploy resets the whole job from the bundle's YAML, and bundles have no
``ignore_changes``: a recommendation applied only in the workspace lasts until the next deploy.
This DAG runs ``airflow-gradient bundle check-config`` (logs what a write-back will touch) and
``airflow-gradient bundle write-back`` (one generated override file, ``gradient.generated.yml``,
and one ``include:`` line in ``databricks.yml``; comments and layout kept). It only writes
files: committing, reviewing and deploying them stays with your CI (a pull request from the
checkout, then ``databricks bundle deploy -t <target>``). A write-back that would need the
defining file edited (a sizing switch, a ``${var...}`` cluster) fails the task with the exact
reason; pass ``--edit-base`` in ``EXTRA_ARGS`` once you accept in-place edits. Needs the
``bundle`` extra: ``pip install 'airflow-gradient[bundle]'``.

Connections: ``gradient_default`` (type ``gradient``: host = API URL, login = API key ID,
password = API key secret). ``databricks_default`` only with ``--from-job`` in ``EXTRA_ARGS``.

Variables: ``gradient_bundle_dir`` (the bundle's root in a checkout on the worker, e.g. a
git-sync volume), ``gradient_bundle_target`` (e.g. ``prod``), ``gradient_bundle_job`` (the
job's resource key under ``resources.jobs``) and ``gradient_project_id``. They are rendered at
run time, so parsing the DAG reads nothing.

To adapt it: schedule it after the apply DAG (or on the recommendation webhook); set
``EXTRA_ARGS`` (``--edit-base``, ``--guard-rails '{"max_workers": 32}'``, ``--cluster-key``);
add a task that opens a pull request from the checkout with your Git tooling.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, AirflowFailException, task

#: Extra ``airflow-gradient bundle write-back`` arguments, e.g. ["--edit-base"].
EXTRA_ARGS: list[str] = []


def _cli(argv: list[str], what: str) -> None:
    """Run an ``airflow-gradient`` subcommand in the task (its output goes to the task log);
    a non-zero status fails the task without retries: the same files give the same answer."""
    from airflow_gradient.cli import main

    status = main(argv)
    if status != 0:
        raise AirflowFailException(f"{what} exited {status}; its reason is in the log above.")


with DAG(
    dag_id="gradient_bundle_writeback",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["gradient", "databricks", "asset-bundles"],
    doc_md=__doc__,
) as dag:

    @task
    def bundle_check_config(bundle_dir: str, target: str, job: str) -> None:
        """Log what a write-back into the bundle will touch (problems fail the task)."""
        _cli(
            ["bundle", "check-config", bundle_dir, "--target", target, "--job", job],
            "airflow-gradient bundle check-config",
        )

    @task
    def bundle_write_back(bundle_dir: str, target: str, job: str, project_id: str) -> None:
        """Write the project's latest usable recommendation into the bundle (idempotent)."""
        argv = ["bundle", "write-back", bundle_dir, "--target", target, "--job", job]
        _cli([*argv, "--project-id", project_id, *EXTRA_ARGS], "airflow-gradient bundle write-back")

    where = {
        "bundle_dir": "{{ var.value.gradient_bundle_dir }}",
        "target": "{{ var.value.gradient_bundle_target }}",
        "job": "{{ var.value.gradient_bundle_job }}",
    }
    (
        bundle_check_config(**where)
        >> bundle_write_back(**where, project_id="{{ var.value.gradient_project_id }}")
    )
