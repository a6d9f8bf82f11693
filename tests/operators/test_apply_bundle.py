"""Apply (and rollback) of a job an Asset Bundle owns, against the sandbox: the sandbox holds
``deployment`` / ``edit_mode`` the way the workspace does (validated by databricks-sdk's
``JobSettings``); the warning names the bundle, ``fail`` refuses before any write,
``SYSTEM_MANAGED`` is always refused, and the XCom carries the bundle facts."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_gradient.exceptions import BundleOwnedJobError
from airflow_gradient.sandbox import Sandbox
from tests.operators.conftest import configuration, job_settings
from tests.operators.test_apply import settings_of, writes

Apply = Callable[..., dict[str, Any]]
STATE = "/Workspace/Users/ci@example.com/.bundle/nightly_etl/prod/state/metadata.json"
BUNDLE = {"kind": "BUNDLE", "metadata_file_path": STATE, "deployment_id": "d-17"}


@pytest.fixture
def bundle_target(sb: Sandbox) -> Callable[..., tuple[int, str]]:
    """A job deployed by a bundle (or as ``deployment``), a project and a recommendation."""

    def make(deployment: dict[str, Any] = BUNDLE) -> tuple[int, str]:
        settings = job_settings("shared_job_cluster")
        settings["deployment"] = deployment
        settings["edit_mode"] = "UI_LOCKED"
        job_id = sb.databricks.create_job(settings)
        project = sb.gradient.create_project(job_id=job_id)
        config = configuration("aws_fixed_success")
        config["custom_tags"].pop("sync:recommendation-id")
        config["custom_tags"]["sync:project-id"] = project["id"]
        sb.gradient.add_recommendation(project["id"], config)
        sb.clear_requests()
        return job_id, project["id"]

    return make


def test_warn_applies_names_the_bundle_and_the_command_and_xcom_has_the_facts(
    sb: Sandbox,
    bundle_target: Callable[..., tuple[int, str]],
    run_apply: Apply,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    job_id, project_id = bundle_target()
    caplog.set_level(logging.INFO)

    result = run_apply(project_id=project_id, job_id=job_id)

    assert result["applied"] is True
    assert result["bundle"] == {
        "kind": "BUNDLE",
        "bundle": "nightly_etl",
        "target": "prod",
        "metadata_file_path": STATE,
        "edit_mode": "UI_LOCKED",
        "deployment_id": "d-17",
    }
    json.dumps({k: v for k, v in result.items() if k != "_links"})
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    (warning,) = [ln for ln in logged.splitlines() if "[warning" in ln and "bundle" in ln]
    assert f"Databricks job {job_id} is owned by bundle 'nightly_etl', target 'prod'" in warning
    assert f"bundle write-back BUNDLE_DIR --target prod --job JOB_KEY --from-job {job_id}" in (
        warning
    )
    # jobs/update leaves the deploy's fields as they were, as the workspace does.
    after = settings_of(sb, job_id)
    assert after["deployment"] == BUNDLE and after["edit_mode"] == "UI_LOCKED"
    assert after["job_clusters"][0]["new_cluster"]["num_workers"] == 4


def test_fail_refuses_before_any_write(
    sb: Sandbox, bundle_target: Callable[..., tuple[int, str]], run_apply: Apply
) -> None:
    job_id, project_id = bundle_target()
    before = settings_of(sb, job_id)
    with pytest.raises(BundleOwnedJobError, match="on_bundle='fail': nothing was written") as err:
        run_apply(project_id=project_id, job_id=job_id, on_bundle="fail")
    assert isinstance(err.value, AirflowFailException)
    assert "bundle 'nightly_etl', target 'prod'" in str(err.value)
    assert writes(sb) == []
    assert settings_of(sb, job_id) == before


@pytest.mark.parametrize("on_bundle", ["warn", "apply"])
def test_system_managed_jobs_are_refused(
    sb: Sandbox, bundle_target: Callable[..., tuple[int, str]], run_apply: Apply, on_bundle: str
) -> None:
    job_id, project_id = bundle_target({"kind": "SYSTEM_MANAGED"})
    before = settings_of(sb, job_id)
    with pytest.raises(BundleOwnedJobError, match=r"SYSTEM_MANAGED.*read-only"):
        run_apply(project_id=project_id, job_id=job_id, on_bundle=on_bundle)
    assert writes(sb) == []
    assert settings_of(sb, job_id) == before


def test_a_job_no_bundle_deploys_has_no_bundle_facts(
    make_target: Callable[..., tuple[int, str]], run_apply: Apply
) -> None:
    job_id, project_id = make_target("shared_job_cluster", "aws_fixed_success")
    assert run_apply(project_id=project_id, job_id=job_id, on_bundle="fail")["bundle"] is None


def test_on_bundle_is_checked_when_the_dag_is_parsed() -> None:
    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    with pytest.raises(ValueError, match="on_bundle must be one of"):
        GradientApplyRecommendationOperator(task_id="a", project_id="p", on_bundle="ignore")


def test_rollback_of_a_bundle_job_warns_and_fail_refuses_before_writing(
    sb: Sandbox,
    bundle_target: Callable[..., tuple[int, str]],
    run_apply: Apply,
) -> None:
    from airflow.sdk import DAG

    from airflow_gradient.operators.rollback import GradientRollbackOperator
    from tests.operators.rollback_support import XComTaskInstance

    job_id, project_id = bundle_target()
    applied = run_apply(project_id=project_id, job_id=job_id)
    applied.pop("_links")

    def rollback(**kwargs: Any) -> dict[str, Any]:
        with DAG(dag_id="test_rollback_bundle", schedule=None):
            op = GradientRollbackOperator(task_id="rollback", apply_result=applied, **kwargs)
        ti = XComTaskInstance({})
        result: dict[str, Any] = op.execute({"ti": ti, "params": {}})  # type: ignore[typeddict-item]
        return result

    sb.clear_requests()
    before = settings_of(sb, job_id)
    with pytest.raises(BundleOwnedJobError, match="reverts this rollback"):
        rollback(on_bundle="fail")
    assert writes(sb) == [] and settings_of(sb, job_id) == before

    result = rollback()
    assert result["rolled_back"] is True
    assert result["bundle"]["bundle"] == "nightly_etl"


def test_the_sandbox_validates_deployment_like_jobs_settings(sb: Sandbox) -> None:
    settings = job_settings("shared_job_cluster")
    settings["deployment"] = {"kind": "GIT_SOURCE"}
    with pytest.raises(Exception, match=r"deployment\.kind: 'GIT_SOURCE' is not one of BUNDLE"):
        sb.databricks.create_job(settings)
    settings["deployment"], settings["edit_mode"] = BUNDLE, "LOCKED"
    with pytest.raises(Exception, match="edit_mode: 'LOCKED' is not one of EDITABLE, UI_LOCKED"):
        sb.databricks.create_job(settings)
