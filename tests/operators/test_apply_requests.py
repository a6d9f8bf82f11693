"""How many requests an apply sends, and which wait for which: counted in the sandbox's
request log, never timed."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from airflow_gradient.hooks.gradient import TOKEN_CACHE
from airflow_gradient.sandbox import Sandbox

Target = Callable[..., tuple[int, str]]
Apply = Callable[..., dict[str, Any]]
_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}")

TOKEN = "gradient POST /v1/auth/token"
PROJECT = "gradient GET /v1/projects/{id}"
RECS = "gradient GET /v1/projects/{id}/recommendations"
JOB = "databricks GET /api/2.2/jobs/get"
UPDATE = "databricks POST /api/2.2/jobs/update"


def served(sb: Sandbox) -> list[tuple[str, float]]:
    return [(f"{r.service} {r.method} {_ID.sub('/{id}', r.path)}", r.at) for r in sb.requests]


def test_cold_apply_sends_six_requests_in_four_waves(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target()
    TOKEN_CACHE.clear()
    sb.clear_requests()
    # Gradient answers after 1 s: the job read must not wait for the token to come back.
    sb.faults.set_latency(1.0, "gradient")
    assert run_apply(project_id=project_id, job_id=job_id)["applied"] is True
    requests = served(sb)
    assert Counter(name for name, _ in requests) == Counter(
        {TOKEN: 1, PROJECT: 1, RECS: 1, JOB: 2, UPDATE: 1}
    )
    at = {name: [t for n, t in requests if n == name] for name in (TOKEN, PROJECT, RECS, JOB)}
    [token], [update] = at[TOKEN], [t for n, t in requests if n == UPDATE]
    read, read_back = sorted(at[JOB])
    # Wave 1: the token and the job read together (the job read arrives before the token
    # reply can have left); wave 2: project and recommendations, with the token; wave 3:
    # the update, after every read; wave 4: the read-back.
    assert read < token + 1.0
    assert token <= min(at[PROJECT] + at[RECS])
    assert max(at[PROJECT] + at[RECS] + [read]) <= update <= read_back


def test_cached_apply_sends_five_requests(
    sb: Sandbox, make_target: Target, run_apply: Apply
) -> None:
    job_id, project_id = make_target()
    run_apply(project_id=project_id, job_id=job_id, dry_run=True)  # caches a token
    sb.clear_requests()
    assert run_apply(project_id=project_id, job_id=job_id)["applied"] is True
    assert Counter(name for name, _ in served(sb)) == Counter(
        {PROJECT: 1, RECS: 1, JOB: 2, UPDATE: 1}
    )
