"""Apply Gradient recommendations to a fleet of Databricks jobs, then run each job, in one DAG.

One mapped task group per job, built at run time from a list of project/job pairs:

    read_fleet  >>  optimize_job[i]:  apply  >>  run      (one mapped instance per pair)

``read_fleet`` reads the Airflow Variable ``gradient_fleet`` (a JSON list) and checks it;
``optimize_job`` is a ``@task_group`` mapped with ``.expand_kwargs`` over that list, so each job
gets its own ``GradientApplyRecommendationOperator`` followed by its own
``DatabricksRunNowOperator``: a job runs as soon as *its* recommendation is written, and one
job's trouble stays with that job. A project with no SUCCESS recommendation yet is not trouble:
``if_no_recommendation="skip"`` (the default) leaves that job alone and it runs on its current
cluster. A recommendation refused by the guard rails fails that job's apply, and only that job's
run is held back (``upstream_failed``); the other jobs are applied and run, and the DAG run ends
failed so that somebody looks.

Needs apache-airflow-providers-databricks 7.16.1+: older releases refuse the mapped ``job_id``
that ``DatabricksRunNowOperator`` gets here (``MappedArgument`` in ``json["job_id"]``).

Connections: ``gradient_default`` (type ``gradient``: host = API URL, login = API key ID,
password = API key secret) and ``databricks_default``.

Variables: ``gradient_fleet``, read when the DAG runs (parsing the file reads nothing)::

    [{"project_id": "11111111-2222-4333-8444-555555555555", "job_id": 123456789},
     {"project_id": "66666666-7777-4888-9999-000000000000", "job_id": 987654321}]

Each entry may also carry ``cluster_key`` (which cluster of the job the project tunes, when
the job has several and the cluster is neither tagged ``sync:project-id`` nor named by the
project's ``cluster_path``). Adding a job to the fleet is an edit of the Variable, not of the DAG.

To adapt it: set ``schedule``; change ``GUARD_RAILS`` (one set for the whole fleet); raise or
lower ``max_active_tis_per_dagrun`` (how many jobs are applied and run at the same time, to
stay within Databricks and Gradient rate limits); feed ``optimize_job.expand_kwargs`` from
another task (a Gradient project list, a config file) if you do not want a Variable. DAG-level
``params`` are avoided on purpose: ``DatabricksRunNowOperator`` forwards them to every job as
``job_parameters``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, task, task_group
from airflow.providers.databricks.operators.databricks import DatabricksRunNowOperator

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

FLEET_VARIABLE = "gradient_fleet"
GUARD_RAILS: dict[str, Any] = {
    "max_workers": 32,
    "allowed_availability": ["SPOT_WITH_FALLBACK", "ON_DEMAND"],
}
CONCURRENT_JOBS = 4

with DAG(
    dag_id="gradient_fleet",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["gradient", "databricks"],
) as dag:

    @task
    def read_fleet() -> list[dict[str, Any]]:
        """The Variable's project/job pairs, checked, as keyword arguments for each job."""
        from airflow.providers.common.compat.sdk import Variable

        fleet = Variable.get(FLEET_VARIABLE, deserialize_json=True)
        if not isinstance(fleet, list) or not fleet:
            raise ValueError(
                f"Variable {FLEET_VARIABLE!r} must be a non-empty JSON list of "
                '{"project_id": ..., "job_id": ...} objects, got: '
                f"{fleet!r}"
            )
        pairs: list[dict[str, Any]] = []
        seen: set[str] = set()
        for number, entry in enumerate(fleet, start=1):
            if (
                not isinstance(entry, dict)
                or not entry.get("project_id")
                or not entry.get("job_id")
            ):
                raise ValueError(
                    f"Entry {number} of Variable {FLEET_VARIABLE!r} needs a project_id and a "
                    f"job_id, got: {entry!r}"
                )
            job_id = str(entry["job_id"])
            if job_id in seen:
                raise ValueError(
                    f"Databricks job {job_id} is listed twice in Variable {FLEET_VARIABLE!r}: "
                    "two applies would race on the same job. Keep one entry per job."
                )
            seen.add(job_id)
            pairs.append(
                {
                    "project_id": str(entry["project_id"]),
                    "job_id": job_id,
                    "cluster_key": entry.get("cluster_key"),
                }
            )
        return pairs

    @task_group
    def optimize_job(project_id: str, job_id: str, cluster_key: str | None) -> None:
        """Write the project's newest recommendation into the job, then run the job on it."""
        apply_recommendation = GradientApplyRecommendationOperator(
            task_id="apply_recommendation",
            project_id=project_id,
            job_id=job_id,
            cluster_key=cluster_key,
            guard_rails=GUARD_RAILS,
            max_active_tis_per_dagrun=CONCURRENT_JOBS,
            map_index_template="job {{ task.job_id }}",
        )
        run_job = DatabricksRunNowOperator(
            task_id="run_job",
            job_id=job_id,
            polling_period_seconds=5,
            max_active_tis_per_dagrun=CONCURRENT_JOBS,
            map_index_template="job {{ task.job_id }}",
        )
        apply_recommendation >> run_job

    optimize_job.expand_kwargs(read_fleet())
