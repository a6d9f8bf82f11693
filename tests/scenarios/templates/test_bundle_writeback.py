"""The bundle write-back template's tasks, run in-process against the sandbox and a copy of a
realistic bundle: the files are written once, and a refusal fails the task without retries."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_gradient.core.bundles import GENERATED_FILE, effective_job, load_bundle
from airflow_gradient.sandbox import Sandbox
from tests.bundle_fixtures import INCLUDES_PROJECT, copy_bundle, recommendation, snapshot
from tests.scenarios.templates.harness import EXAMPLE_DAGS


def _template() -> ModuleType:
    path = EXAMPLE_DAGS / "gradient_bundle_writeback.py"
    spec = importlib.util.spec_from_file_location("gradient_bundle_writeback", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tasks_check_then_write_the_recommendation_once(sb: Sandbox, tmp_path: Path) -> None:
    if not any(p["id"] == INCLUDES_PROJECT for p in sb.gradient.projects):
        sb.gradient.create_project(project_id=INCLUDES_PROJECT)
    _, configuration = recommendation("aws_fixed_success", INCLUDES_PROJECT)
    configuration["custom_tags"].pop("sync:recommendation-id")
    rec_id = sb.gradient.add_recommendation(INCLUDES_PROJECT, configuration)
    root = copy_bundle("includes", tmp_path)
    dag = _template().dag
    where = {"bundle_dir": str(root), "target": "prod", "job": "reporting"}

    dag.get_task("bundle_check_config").python_callable(**where)
    write = dag.get_task("bundle_write_back").python_callable
    write(**where, project_id=INCLUDES_PROJECT)

    assert (root / GENERATED_FILE).is_file()
    tasks = effective_job(load_bundle(root), "prod", "reporting")["tasks"]
    cluster = next(t for t in tasks if t["task_key"] == "aggregate")["new_cluster"]
    assert cluster["custom_tags"]["sync:recommendation-id"] == rec_id
    written = snapshot(root)
    write(**where, project_id=INCLUDES_PROJECT)
    assert snapshot(root) == written

    with pytest.raises(AirflowFailException, match="write-back exited 2"):
        write(**{**where, "target": "qa"}, project_id=INCLUDES_PROJECT)
