"""every fixture job with every recommendation: locate, merge, validate, update."""

from __future__ import annotations

import copy

import pytest

from airflow_gradient.core.cluster.locate import locate_cluster
from airflow_gradient.core.cluster.merge import applied_recommendation_id, merge_recommendation
from airflow_gradient.core.cluster.spec import validate_cluster_spec
from airflow_gradient.core.cluster.update import cluster_spec_at, update_settings_for
from airflow_gradient.core.errors import (
    AmbiguousClusterError,
    InvalidClusterSpecError,
    UnsupportedClusterError,
)
from tests.core.cluster.shapes import (
    PROJECT,
    SUCCESS_RECS,
    JobLoader,
    RecLoader,
    apply_jobs_update,
    config_of,
)

# --- the fixture matrix: locate, merge, validate, update ------------------------------------

MATRIX = [
    # job fixture, cluster_key, expected path (None: locate raises), expected locate error
    ("shared_job_cluster", None, "job_clusters/main", None),
    ("multi_cluster_tagged", None, "job_clusters/heavy", None),
    ("task_clusters", None, None, AmbiguousClusterError),
    ("task_clusters", "features", "tasks/features", None),
    ("task_clusters", "tasks/train", "tasks/train", None),
    ("serverless_and_existing", None, None, UnsupportedClusterError),
]


@pytest.mark.parametrize("case", MATRIX, ids=lambda case: f"{case[0]}-{case[1]}")
@pytest.mark.parametrize("rec_name", SUCCESS_RECS)
def test_fixture_matrix(
    job: JobLoader,
    rec: RecLoader,
    case: tuple[str, str | None, str | None, type[Exception] | None],
    rec_name: str,
) -> None:
    fixture, cluster_key, expected_path, error = case
    reply = job(fixture)
    settings = reply["settings"]
    pristine = copy.deepcopy(settings)
    if error is not None:
        with pytest.raises(error):
            locate_cluster(
                settings, job_id=reply["job_id"], project_id=PROJECT, cluster_key=cluster_key
            )
        return
    location = locate_cluster(
        settings, job_id=reply["job_id"], project_id=PROJECT, cluster_key=cluster_key
    )
    assert location.path == expected_path
    merged = merge_recommendation(location.spec, config_of(rec, rec_name))
    where = f"job {reply['job_id']} cluster {location.path}"
    if rec_name.startswith("azure"):
        # Every fixture cluster is on AWS: an Azure recommendation must not be applied to it.
        with pytest.raises(InvalidClusterSpecError, match="aws_attributes and azure_attributes"):
            validate_cluster_spec(merged, where=where)
        return
    validate_cluster_spec(merged, where=where)

    update = update_settings_for(settings, location, merged)
    assert settings == pristine
    after = apply_jobs_update(settings, update)
    assert cluster_spec_at(after, location.path) == merged
    assert applied_recommendation_id(merged) == rec(rec_name)["id"]
    # Only that cluster changed: put the old spec back and the settings are identical.
    restored = apply_jobs_update(after, update_settings_for(after, location, location.spec))
    assert restored == pristine


def test_multi_cluster_light_is_untouched(job: JobLoader, rec: RecLoader) -> None:
    reply = job("multi_cluster_tagged")
    settings = reply["settings"]
    location = locate_cluster(settings, job_id=reply["job_id"], project_id=PROJECT)
    merged = merge_recommendation(location.spec, config_of(rec, "aws_autoscale_success"))
    update = update_settings_for(settings, location, merged)
    assert update == {"job_clusters": [{"job_cluster_key": "heavy", "new_cluster": merged}]}
    after = apply_jobs_update(settings, update)
    assert after["job_clusters"][0] == settings["job_clusters"][0]
    assert after["tasks"] == settings["tasks"]
    assert cluster_spec_at(after, "job_clusters/heavy") == merged
