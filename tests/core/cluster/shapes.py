"""Job settings and helpers shared by the tests of ``airflow_gradient.core.cluster``."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from airflow_gradient.core.recommendation import parse_recommendation

PROJECT = "11111111-2222-4333-8444-555555555555"
OTHER_PROJECT = "99999999-0000-4000-8000-000000000000"
SUCCESS_RECS = ("aws_fixed_success", "aws_autoscale_success", "azure_fixed_success")

JobLoader = Callable[[str], dict[str, Any]]
RecLoader = Callable[[str], Any]


def apply_jobs_update(settings: dict[str, Any], new_settings: dict[str, Any]) -> dict[str, Any]:
    """What Databricks does with jobs/update: arrays merged by key (entries replaced whole)."""
    result = copy.deepcopy(settings)
    for field, value in new_settings.items():
        if field in ("tasks", "job_clusters"):
            key = "task_key" if field == "tasks" else "job_cluster_key"
            entries = result.setdefault(field, [])
            for new in value:
                for index, old in enumerate(entries):
                    if old[key] == new[key]:
                        entries[index] = copy.deepcopy(new)
                        break
                else:
                    entries.append(copy.deepcopy(new))
        else:
            result[field] = copy.deepcopy(value)
    return result


def config_of(rec: RecLoader, name: str) -> dict[str, Any]:
    return parse_recommendation(rec(name), project_id=PROJECT).configuration


def for_each_settings() -> dict[str, Any]:
    return {
        "name": "loop",
        "tasks": [
            {
                "task_key": "prepare",
                "environment_key": "default",
                "spark_python_task": {"python_file": "/Workspace/prepare.py"},
            },
            {
                "task_key": "per_country",
                "depends_on": [{"task_key": "prepare"}],
                "for_each_task": {
                    "inputs": '["fr", "de"]',
                    "concurrency": 2,
                    "task": {
                        "task_key": "per_country_iteration",
                        "notebook_task": {"notebook_path": "/Repos/etl/country"},
                        "new_cluster": {
                            "spark_version": "14.3.x-scala2.12",
                            "node_type_id": "m5.large",
                            "num_workers": 1,
                        },
                    },
                },
            },
        ],
    }
