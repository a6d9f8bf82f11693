"""The reads GradientWorkflowClustersOperator adds to the hooks, against the sandbox."""

from __future__ import annotations

import pytest

from airflow_gradient.exceptions import GradientApiError
from airflow_gradient.hooks.databricks import GradientDatabricksHook
from airflow_gradient.hooks.gradient import GradientHook
from airflow_gradient.sandbox import Sandbox


def test_cluster_template_of_a_project(sb: Sandbox) -> None:
    project = sb.gradient.create_project(cluster_log_url="s3://my-logs/etl")
    template = GradientHook().get_cluster_template(project["id"])
    assert template["custom_tags"]["sync:project-id"] == project["id"]
    assert template["cluster_log_conf"]["s3"]["destination"] == "s3://my-logs/etl"
    [request] = sb.requests_to("gradient", "GET", f"/v1/projects/{project['id']}/cluster/template")
    assert request.status == 200


def test_cluster_template_of_a_missing_project_names_it(sb: Sandbox) -> None:
    with pytest.raises(GradientApiError, match="no-such-project") as err:
        GradientHook().get_cluster_template("no-such-project")
    assert err.value.status == 404


def test_find_job_id_by_exact_name(sb: Sandbox) -> None:
    job_id = sb.databricks.create_job({"name": "lookups_dag.workflow"})
    hook = GradientDatabricksHook()
    assert hook.find_job_id("lookups_dag.workflow") == job_id
    assert hook.find_job_id("lookups_dag.other") is None


def test_update_project_sends_only_the_given_fields(sb: Sandbox) -> None:
    project = sb.gradient.create_project(cluster_log_url="s3://my-logs/etl")
    before = sb.gradient.get_project(project["id"])
    stored = GradientHook().update_project(project["id"], {"job_id": "42"})
    after = sb.gradient.get_project(project["id"])
    assert stored["job_id"] == after["job_id"] == "42"
    changed = {"job_id", "updated_at"}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }
    [request] = sb.requests_to("gradient", "PUT", f"/v1/projects/{project['id']}")
    assert request.status == 200


def test_update_project_of_a_missing_project_names_it(sb: Sandbox) -> None:
    with pytest.raises(GradientApiError, match="no-such-project") as err:
        GradientHook().update_project("no-such-project", {"job_id": "42"})
    assert err.value.status == 404
