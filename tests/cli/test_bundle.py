"""``airflow-gradient bundle`` over the sandbox: credentials from the Airflow connections the
``sb`` fixture puts in the environment, files in a copy of a realistic bundle."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.cli import main
from airflow_gradient.core.bundles import GENERATED_FILE, effective_job, load_bundle
from airflow_gradient.sandbox import Sandbox
from tests.bundle_fixtures import (
    INCLUDES_PROJECT,
    SINGLE_PROJECT,
    VARIABLES_PROJECT,
    copy_bundle,
    recommendation,
    snapshot,
)

STATE_PATH = "/Workspace/Users/ci/.bundle/reporting/prod/state/metadata.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["bundle", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _project(sb: Sandbox, project_id: str, name: str, job_id: int | None = None) -> str:
    """Make sure the project exists; add recommendation fixture ``name`` as its newest."""
    if not any(p["id"] == project_id for p in sb.gradient.projects):
        sb.gradient.create_project(job_id=job_id, project_id=project_id)
    _, configuration = recommendation(name, project_id)
    configuration["custom_tags"].pop("sync:recommendation-id")
    return sb.gradient.add_recommendation(project_id, configuration)


def _etl_cluster(root: Path, target: str) -> dict[str, Any]:
    job = effective_job(load_bundle(root), target, "nightly")
    spec: dict[str, Any] = job["job_clusters"][0]["new_cluster"]
    return spec


def test_check_config_ok_and_problems(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run(capsys, "check-config", str(copy_bundle("single", tmp_path)))
    assert status == 0
    assert "prod/nightly/job_clusters/etl: cannot-delete: autoscale is set in databricks.yml" in out
    assert out.rstrip().endswith("a write-back can carry the recommendation as an override")

    status, out, _ = run(capsys, "check-config", str(copy_bundle("variables", tmp_path)))
    assert status == 1
    assert (
        "dev/features/job_clusters/features: variable-cluster: given by ${var.features_cluster}"
        in out
    )
    assert "FAIL:" in out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda root: (root / "databricks.yml").write_text("bundle: [\n"), "not valid YAML"),
        (lambda root: (root / "databricks.yml").unlink(), "holds no databricks.yml"),
    ],
)
def test_check_config_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: Any, message: str
) -> None:
    root = copy_bundle("single", tmp_path)
    edit(root)
    status, out, err = run(capsys, "check-config", str(root))
    assert (status, out) == (2, "")
    assert err.startswith("error: ") and message in err


def test_write_back_then_check_then_idempotent(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rec_id = _project(sb, SINGLE_PROJECT, "aws_autoscale_success")
    root = copy_bundle("single", tmp_path)
    untouched = snapshot(root)
    args = ("write-back", str(root), "--target", "prod", "--job", "nightly")

    status, out, _ = run(capsys, *args, "--project-id", SINGLE_PROJECT, "--check")
    assert status == 1
    assert f"+++ b/{GENERATED_FILE}" in out and "+  - gradient.generated.yml" in out
    assert "FAIL:" in out and "does not carry recommendation" in out
    assert snapshot(root) == untouched

    status, out, err = run(capsys, *args, "--project-id", SINGLE_PROJECT)
    assert (status, err) == (0, "")
    assert f"Wrote recommendation {rec_id}" in out
    cluster = _etl_cluster(root, "prod")
    assert cluster["custom_tags"]["sync:recommendation-id"] == rec_id
    assert cluster["autoscale"] == {"min_workers": 2, "max_workers": 6}
    assert _etl_cluster(root, "dev")["node_type_id"] == "i3.xlarge"
    written = snapshot(root)

    status, out, _ = run(capsys, *args, "--project-id", SINGLE_PROJECT)
    assert status == 0 and "already carries" in out
    status, out, _ = run(capsys, *args, "--project-id", SINGLE_PROJECT, "--check")
    assert status == 0 and "already carries" in out
    assert snapshot(root) == written


def test_refusal_exits_1_touching_nothing_and_edit_base_writes(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _project(sb, SINGLE_PROJECT, "aws_fixed_success")
    root = copy_bundle("single", tmp_path)
    untouched = snapshot(root)
    args = ("write-back", str(root), "--target", "prod", "--job", "nightly")
    status, out, err = run(capsys, *args, "--project-id", SINGLE_PROJECT)
    assert (status, out) == (1, "")
    assert err.startswith("REFUSED: Cannot write the recommendation into the cluster")
    assert "autoscale is set in databricks.yml" in err and "--edit-base" in err
    assert snapshot(root) == untouched

    status, out, _ = run(capsys, *args, "--project-id", SINGLE_PROJECT, "--edit-base")
    assert status == 0
    assert "Edited in place: databricks.yml" in out
    assert "Other targets keep their clusters through overrides: dev, staging" in out
    assert _etl_cluster(root, "prod")["num_workers"] == 4
    assert _etl_cluster(root, "dev")["autoscale"] == {"min_workers": 2, "max_workers": 8}


def test_guard_rails_refuse(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _project(sb, INCLUDES_PROJECT, "aws_fixed_success")
    root = copy_bundle("includes", tmp_path)
    untouched = snapshot(root)
    status, _, err = run(
        capsys,
        *("write-back", str(root), "--target", "prod", "--job", "reporting"),
        *("--project-id", INCLUDES_PROJECT, "--guard-rails", '{"max_workers": 3}'),
    )
    assert status == 1
    assert "REFUSED: The recommendation for bundle job reporting (target prod) cluster" in err
    assert snapshot(root) == untouched


def test_from_job_writes_the_recommendation_in_force(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    in_force = _project(sb, INCLUDES_PROJECT, "aws_fixed_success")
    _project(sb, INCLUDES_PROJECT, "aws_autoscale_success")  # newer, not applied
    _, configuration = recommendation("aws_fixed_success", INCLUDES_PROJECT)
    configuration["custom_tags"]["sync:recommendation-id"] = in_force
    job_id = sb.databricks.create_job(
        {
            "name": "reporting",
            "deployment": {
                "kind": "BUNDLE",
                "metadata_file_path": STATE_PATH,
            },
            "edit_mode": "UI_LOCKED",
            "tasks": [
                {
                    "task_key": "aggregate",
                    "new_cluster": configuration,
                    "spark_python_task": {"python_file": "/x/aggregate.py"},
                }
            ],
        }
    )
    root = copy_bundle("includes", tmp_path)
    status, out, err = run(
        capsys,
        *("write-back", str(root), "--target", "prod", "--job", "reporting"),
        *("--from-job", str(job_id)),
    )
    assert (status, err) == (0, "")
    assert f"Wrote recommendation {in_force}" in out
    job = effective_job(load_bundle(root), "prod", "reporting")
    cluster = next(t for t in job["tasks"] if t["task_key"] == "aggregate")["new_cluster"]
    assert cluster["num_workers"] == 4 and cluster["node_type_id"] == "m5.xlarge"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--target", "qa", "--job", "features"), "no target 'qa'"),
        (("--target", "prod", "--job", "hourly"), "no file of the bundle defines the job"),
        (
            ("--target", "prod", "--job", "features", "--cluster-key", "gpu"),
            "cluster_key='gpu' is not a cluster",
        ),
    ],
)
def test_write_back_bad_input_exits_2_touching_nothing(
    sb: Sandbox,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    extra: tuple[str, ...],
    message: str,
) -> None:
    _project(sb, VARIABLES_PROJECT, "aws_fixed_success")
    root = copy_bundle("variables", tmp_path)
    untouched = snapshot(root)
    status, out, err = run(
        capsys, "write-back", str(root), *extra, "--project-id", VARIABLES_PROJECT, "--edit-base"
    )
    assert (status, out) == (2, "")
    assert err.startswith("error: ") and message in err
    assert snapshot(root) == untouched


def test_no_usable_recommendation_exits_2(
    sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    project_id = "44444444-5555-4666-8777-888888888888"
    sb.gradient.create_project(project_id=project_id)
    root = copy_bundle("single", tmp_path)
    status, _, err = run(
        capsys,
        *("write-back", str(root), "--target", "dev", "--job", "nightly"),
        *("--project-id", project_id),
    )
    assert status == 2
    assert f"Gradient project {project_id} has no SUCCESS recommendation" in err


def test_check_config_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    root = copy_bundle("variables", tmp_path)
    status, out, _ = run(capsys, "check-config", str(root), "--target", "prod", "--format", "json")
    assert status == 1
    (finding,) = json.loads(out)
    assert {k: finding[k] for k in ("where", "kind", "is_problem")} == {
        "where": "prod/features/job_clusters/features",
        "kind": "variable-cluster",
        "is_problem": True,
    }
    assert "write-back needs --edit-base" in finding["message"]


def test_without_the_bundle_extra_the_error_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ruamel", None)
    monkeypatch.setitem(sys.modules, "ruamel.yaml", None)
    status, out, err = run(capsys, "check-config", str(copy_bundle("single", tmp_path)))
    assert (status, out) == (2, "")
    assert "pip install 'airflow-gradient[bundle]'" in err
