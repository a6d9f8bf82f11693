"""``project_id_for_job``: the one rule for which project tunes a job when none is named."""

from __future__ import annotations

import pytest

from airflow_gradient.core.errors import ProjectLookupError
from airflow_gradient.core.project_lookup import project_id_for_job


def test_exactly_one_project_is_chosen() -> None:
    assert project_id_for_job([{"id": "p-1", "job_id": "7"}], 7) == "p-1"


def test_none_says_what_to_do() -> None:
    with pytest.raises(ProjectLookupError) as caught:
        project_id_for_job([], 7)
    message = str(caught.value)
    assert "No Gradient project tracks Databricks job 7" in message
    assert "job_id '7'" in message and "pass project_id=" in message


def test_several_are_listed_with_what_tells_them_apart() -> None:
    projects = [
        {"id": "p-1", "name": "etl", "cluster_path": "job_clusters/main"},
        {"id": "p-2", "name": "etl-train", "cluster_path": "tasks/train"},
    ]
    with pytest.raises(ProjectLookupError) as caught:
        project_id_for_job(projects, 7)
    message = str(caught.value)
    assert message.startswith("2 Gradient projects track Databricks job 7: ")
    assert "p-1 (name 'etl', cluster_path 'job_clusters/main')" in message
    assert "p-2 (name 'etl-train', cluster_path 'tasks/train')" in message
    assert "Pass project_id=" in message


def test_a_long_list_is_cut_with_a_count() -> None:
    projects = [{"id": f"p-{n}"} for n in range(8)]
    with pytest.raises(ProjectLookupError, match=r"p-4 and 3 more\. Pass project_id="):
        project_id_for_job(projects, 7)


def test_one_project_without_an_id_is_an_error_not_a_guess() -> None:
    with pytest.raises(ProjectLookupError, match="has no id"):
        project_id_for_job([{"name": "etl"}], 7)
