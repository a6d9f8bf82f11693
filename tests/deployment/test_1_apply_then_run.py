"""Scenario 1: ``gradient_apply_then_run`` on CeleryExecutor, triggered over REST."""

from __future__ import annotations

from typing import Any

from tests.deployment.client import SandboxControl, job_updates, main_cluster

WORKER_HOSTNAMES = {"worker-1", "worker-2"}
RECOMMENDED = ("node_type_id", "driver_node_type_id", "num_workers", "spark_version")
KEPT = ("init_scripts", "cluster_log_conf", "policy_id", "spark_env_vars", "single_user_name")


def test_apply_then_run_writes_the_merged_recommendation_on_celery_workers(
    reference_apply: dict[str, Any], sandbox: SandboxControl
) -> None:
    ref = reference_apply
    assert ref["run"]["state"] == "success", ref["task_instances"]
    tis = {ti["task_id"]: ti for ti in ref["task_instances"]}
    assert set(tis) == {"apply_recommendation", "run_job"}
    for ti in tis.values():
        assert ti["state"] == "success", ti
        # Each task ran in a Celery worker process, which reports its own hostname.
        assert ti["hostname"] in WORKER_HOSTNAMES, ti["hostname"]
        assert ti["try_number"] == 1

    config = ref["recommendation"]["recommendation"]["configuration"]
    before, after = main_cluster(ref["before"]), main_cluster(ref["after"])
    for key in RECOMMENDED:
        assert after[key] == config[key], key
    assert "autoscale" not in after and "autoscale" in before
    assert after["custom_tags"] == {**before["custom_tags"], **config["custom_tags"]}
    assert after["spark_conf"] == {**before["spark_conf"], **config["spark_conf"]}
    assert after["aws_attributes"]["availability"] == config["aws_attributes"]["availability"]
    for key in KEPT:
        assert after[key] == before[key], key
    # Only the cluster changed, with one jobs/update.
    rest = {k: v for k, v in ref["after"].items() if k != "job_clusters"}
    assert rest == {k: v for k, v in ref["before"].items() if k != "job_clusters"}
    assert len(job_updates(ref["requests"])) == 1

    runs = sandbox.runs_of(ref["job_id"])
    assert len(runs) == 1
    assert runs[0]["job_clusters"][0]["new_cluster"] == after
    assert runs[0]["state"]["result_state"] == "SUCCESS"
