"""``read_paged_job``: joining the pages of ``jobs/get`` (pure; sandbox tests cover the wire)."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_gradient.exceptions import DatabricksJobError
from airflow_gradient.hooks._job_pages import read_paged_job


def pages_of(tasks: list[dict[str, Any]], clusters: list[dict[str, Any]], size: int = 100):
    pages = []
    n = max(len(tasks), len(clusters))
    for i, start in enumerate(range(0, max(n, 1), size)):
        page: dict[str, Any] = {
            "job_id": 7,
            "settings": {"tasks": tasks[start : start + size]},
        }
        if clusters[start : start + size]:
            page["settings"]["job_clusters"] = clusters[start : start + size]
        if i == 0:
            page["settings"]["name"] = "big"
        if start + size < n:
            page["next_page_token"] = f"t{i + 1}"
        pages.append(page)
    return pages


def test_joins_every_page_in_order() -> None:
    tasks = [{"task_key": f"t{i}"} for i in range(250)]
    clusters = [{"job_cluster_key": f"c{i}"} for i in range(120)]
    pages = pages_of(tasks, clusters)
    seen: list[str | None] = []

    def fetch(token: str | None) -> dict[str, Any]:
        seen.append(token)
        return pages[0 if token is None else int(token[1:])]

    job = read_paged_job(fetch, 7)
    assert seen == [None, "t1", "t2"]
    assert job["settings"]["tasks"] == tasks
    assert job["settings"]["job_clusters"] == clusters
    assert job["settings"]["name"] == "big"
    assert "next_page_token" not in job


def test_a_server_that_never_stops_paging_is_cut_off() -> None:
    def fetch(token: str | None) -> dict[str, Any]:
        return {"job_id": 7, "settings": {"tasks": [{"task_key": "x"}]}, "next_page_token": "again"}

    with pytest.raises(DatabricksJobError, match="job 7"):
        read_paged_job(fetch, 7)
