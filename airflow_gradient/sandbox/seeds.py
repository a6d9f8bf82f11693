"""Ready-made objects for ``Sandbox.seed_demo()`` and the ``--seed demo`` CLI option.

The demo job is a typical nightly ETL: one shared job cluster ``main`` (autoscaling 2-8
``i3.2xlarge``) used by two tasks, with the usual extras a recommendation must not disturb
(init scripts, log delivery, a policy, env vars). The demo recommendation is a fixed-size
``m5.xlarge`` cluster in the optimizing phase.
"""

from __future__ import annotations

import copy
from typing import Any

DEMO_JOB_NAME = "nightly-etl"
DEMO_CLUSTER_PATH = "job_clusters/main"
ONCALL_DESTINATION_ID = "0c1b2a39-4857-4c6d-9e8f-7a6b5c4d3e2f"

_DEMO_JOB_SETTINGS: dict[str, Any] = {
    "name": DEMO_JOB_NAME,
    "tags": {"owner": "data-eng"},
    "max_concurrent_runs": 1,
    "format": "MULTI_TASK",
    "job_clusters": [
        {
            "job_cluster_key": "main",
            "new_cluster": {
                "spark_version": "14.3.x-scala2.12",
                "node_type_id": "i3.2xlarge",
                "driver_node_type_id": "i3.2xlarge",
                "autoscale": {"min_workers": 2, "max_workers": 8},
                "spark_conf": {"spark.sql.shuffle.partitions": "200"},
                "spark_env_vars": {
                    "PYSPARK_PYTHON": "/databricks/python3/bin/python3",
                    "ENV": "prod",
                },
                "custom_tags": {"team": "data-eng", "cost-center": "cc-1234"},
                "policy_id": "E0631F5C0D0004B1",
                "init_scripts": [{"workspace": {"destination": "/Shared/init/install-deps.sh"}}],
                "cluster_log_conf": {
                    "s3": {
                        "destination": "s3://acme-logs/cluster-logs",
                        "region": "us-east-1",
                        "enable_encryption": True,
                        "canned_acl": "bucket-owner-full-control",
                    }
                },
                "aws_attributes": {
                    "availability": "ON_DEMAND",
                    "first_on_demand": 1,
                    "zone_id": "auto",
                    "instance_profile_arn": "arn:aws:iam::123456789012:instance-profile/etl",
                    "ebs_volume_type": "GENERAL_PURPOSE_SSD",
                    "ebs_volume_count": 3,
                    "ebs_volume_size": 100,
                },
                "data_security_mode": "SINGLE_USER",
                "single_user_name": "etl@acme.example",
                "enable_elastic_disk": False,
            },
        }
    ],
    "tasks": [
        {
            "task_key": "ingest",
            "job_cluster_key": "main",
            "notebook_task": {"notebook_path": "/Repos/etl/ingest", "source": "WORKSPACE"},
            "libraries": [{"pypi": {"package": "great-expectations==1.3.0"}}],
            "timeout_seconds": 3600,
        },
        {
            "task_key": "transform",
            "depends_on": [{"task_key": "ingest"}],
            "job_cluster_key": "main",
            "spark_python_task": {"python_file": "/Workspace/etl/transform.py"},
            "max_retries": 2,
        },
    ],
    "webhook_notifications": {"on_failure": [{"id": ONCALL_DESTINATION_ID}]},
    "email_notifications": {"on_failure": ["oncall@acme.example"]},
    "timeout_seconds": 7200,
}


def demo_job_settings() -> dict[str, Any]:
    """A fresh copy of the demo job's ``JobSettings``."""
    return copy.deepcopy(_DEMO_JOB_SETTINGS)


def demo_recommendation(
    project_id: str, recommendation_id: str, tenant_id: str, run_id: str
) -> dict[str, Any]:
    """The demo recommendation's ``configuration``, tagged for ``project_id``."""
    return {
        "node_type_id": "m5.xlarge",
        "driver_node_type_id": "m5.large",
        "num_workers": 4,
        "spark_version": "15.4.x-scala2.12",
        "runtime_engine": "STANDARD",
        "spark_conf": {"spark.databricks.isv.product": "sync-gradient"},
        "custom_tags": {
            "sync:project-id": project_id,
            "sync:run-id": run_id,
            "sync:recommendation-id": recommendation_id,
            "sync:tenant-id": tenant_id,
        },
        "aws_attributes": {
            "availability": "SPOT_WITH_FALLBACK",
            "first_on_demand": 1,
            "spot_bid_price_percent": 100,
            "ebs_volume_type": "GENERAL_PURPOSE_SSD",
            "ebs_volume_count": 1,
            "ebs_volume_size": 100,
        },
    }


DEMO_METRICS: dict[str, float] = {
    "spark_duration_minutes": 41.5,
    "spark_cost_requested_usd": 12.4,
    "spark_cost_lower_usd": 10.9,
    "spark_cost_midpoint_usd": 12.4,
    "spark_cost_upper_usd": 14.0,
}
