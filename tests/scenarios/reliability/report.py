"""Run the fault matrix of the apply path and write ``docs/reliability.md``.

Every request of ``GradientApplyRecommendationOperator`` (token, project, recommendation list,
``jobs/get``, ``jobs/update``, the read-back) is broken in each way (two 503s, a 429 with
``Retry-After``, a timeout, a dropped connection, malformed JSON, a permanent 500; plus lost
replies of ``jobs/update``), one at a time, against the sandbox, on a fresh job each time.
Prints the table and writes it, with the guarantees it backs, into ``docs/reliability.md``.
Exits 1 if any cell breaks a guarantee or its designed outcome. The same cells run in
``make test-scenarios`` (``tests/scenarios/reliability/test_fault_matrix.py``), which also
checks that the doc shows the designed outcome of every cell. It is the reliability suite's
report, so it lives with the suite (``make bench`` runs it too).

    .venv/bin/python tests/scenarios/reliability/report.py [--output PATH] [--no-write]

``--output`` is ``docs/reliability.md`` unless given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="gradient-faults-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "CRITICAL")

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))


def _bound_with(gradient: dict[str, Any], databricks: dict[str, Any]) -> float | None:
    from airflow_gradient.operators.apply import GradientApplyRecommendationOperator

    op = GradientApplyRecommendationOperator(
        task_id="bound",
        project_id="p",
        job_id=1,
        gradient_hook_params=gradient,
        databricks_hook_params=databricks,
    )
    return op.time_bound()


def _corpus_summary() -> str:
    from tests.scenarios.reliability.corpus import load_corpus

    cases = load_corpus()
    kinds = Counter(case.kind for case in cases)
    errors = Counter(case.expected_error for case in cases if case.expected_error)
    successes = [case.name for case in cases if case.expected_error is None]
    by_class = ", ".join(f"`{name}` ({count})" for name, count in sorted(errors.items()))
    return "\n".join(
        [
            f"* {len(cases)} cases: {kinds['recommendation']} recommendations, {kinds['job']} "
            f"jobs, {kinds['input']} wrong inputs.",
            f"* {sum(errors.values())} must fail: {by_class}.",
            f"* {len(successes)} must succeed, because naive clients get them wrong: "
            + ", ".join(f"`{name}`" for name in successes)
            + ".",
        ]
    )


def render(results: list[Any], *, wall: float) -> str:
    from tests.scenarios.reliability import harness as h

    rows = "\n".join(h.render_row(result) for result in results)
    states = Counter(result.state for result in results)
    outcomes = Counter("succeeded" if result.run.error is None else "failed" for result in results)
    gradient, databricks = h.GRADIENT_HOOK_PARAMS, h.DATABRICKS_HOOK_PARAMS
    matrix_bound = _bound_with(gradient, databricks)
    default_bound = _bound_with({}, {})
    advised = {"timeout_seconds": 30}
    advised_bound = _bound_with({}, advised)

    def secs(value: float | None) -> str:
        return "unbounded" if value is None else f"{value:.0f} s"

    return f"""# Reliability of the apply task

What `GradientApplyRecommendationOperator` guarantees when a request fails or an input is
wrong, and the evidence: a fault matrix (every request of the apply path broken one way at a
time) and a corpus of bad inputs. Both run in `make test-scenarios`
(`tests/scenarios/reliability/`); the table at the end is written by
`tests/scenarios/reliability/report.py`, and a test checks it still shows the designed outcome
of every cell.

## Guarantees

1. **Succeed or fail clearly.** The task either succeeds or raises one of the provider's
   errors (`airflow_gradient.exceptions`), naming the project, the job and what to do. No
   `KeyError`, no raw `requests`/JSON error, no credential in a message.
2. **The job is never in a state nobody chose.** Afterwards the job's *whole settings* are
   exactly as before or exactly the settings one `jobs/update` of the merged cluster entry
   gives. The operator sends one `jobs/update` holding the whole entry (job cluster or task);
   Databricks applies an update whole or not at all.
3. **Bounded time.** The task ends within `time_bound()`, computed from the hook
   parameters (below). Set `execution_timeout` above it.
4. **Bad input writes nothing.** A malformed recommendation, a malformed job or a wrong
   argument/connection fails before any write: zero `jobs/update`, zero Gradient POSTs.

## Retries and time bounds

* **Gradient** (`GradientHook`): reads, `PUT` and the token request are retried on 429, 5xx and
  transport errors, up to `retry_limit` attempts, waiting `retry_delay` doubling, or the
  `Retry-After` the server asks for (capped at `max_retry_after`). A 401 renews the token once.
  `POST .../recommendations` is never retried (not idempotent). One call (token, renewal,
  retries and waits) shares one deadline, `total_timeout`; no attempt starts after it, and one
  attempt lasts at most `2 * timeout` (connect, then the reply). **Bound of one call:
  `total_timeout + 2 * timeout`.**
* **Databricks** (`GradientDatabricksHook`, the provider's `DatabricksHook`): 5xx, 429, connection
  errors, timeouts and `COULD_NOT_ACQUIRE_LOCK` are retried, for `GET` and `POST` alike, up
  to `retry_limit` attempts with the provider's back-off `max(retry_delay, 2^(n-1))` capped at
  `2^retry_limit` seconds. The provider ignores `Retry-After`; `GradientDatabricksHook` waits for
  it too, up to `max_retry_after`. Retrying `POST jobs/update` is safe: it is idempotent, as
  the body replaces whole entries, so sending it twice gives the same job as sending it once.
  Every failure becomes a `DatabricksJobError` naming the job (retries spent, HTTP errors, a
  reply that is not JSON). **Bound of one call: `retry_limit * 2 * timeout_seconds` plus
  the waits** (each `max(back-off, max_retry_after)`).
* **The task**: the three reads run concurrently, then at most one more Gradient read (the
  recommendation a reverted cluster is tagged with), `jobs/update` and the read-back:
  `time_bound() = max(recommendation_pages * G, job_pages * D) + G + D + job_pages * D`,
  G and D being the two call bounds (with `job_name`, add one D per page of `jobs/list`).
  With the defaults (Gradient 30 s / 120 s, Databricks `timeout_seconds=180`) that is
  {secs(default_bound)}, dominated by the provider's 180 s timeout; with
  `databricks_hook_params={advised}` it is {secs(advised_bound)}.
* **The matrix** runs with these parameters, so its bound is {secs(matrix_bound)}:
  * `gradient_hook_params={gradient}`
  * `databricks_hook_params={databricks}`

## When `jobs/update` fails: the read-back decides

A failed `jobs/update` call does not say whether the change landed: a dropped connection or
a malformed reply can come *after* Databricks applied it. So the operator reads the job back
whenever the update call fails, and reports what it finds:

* the cluster holds the merged spec: **applied**; the task succeeds and the XCom says
  `"write_confirmed_by": "read-back"` with the failure in `update_error` (a warning in the
  log says the reply was lost, not the update);
* the cluster is as it was: **not applied**; the task fails with `DatabricksJobError`
  "Recommendation … was NOT applied … the job is as it was";
* anything else: `ReadBackMismatchError` (another writer).

A normal write says `"write_confirmed_by": "reply and read-back"`. If the read-back itself
fails after an acknowledged update, the task fails saying the update was acknowledged but
unverified (the job holds the merged spec: running the task again verifies it and writes
nothing). One caveat is stated in the "not applied" error: an attempt that *timed out* may
still reach Databricks later; it would write exactly the merged spec, never a part of it.

## Bad inputs

`tests/data/bad_inputs/` holds one JSON file per case (adding a case is adding a file; the
format is described in `tests/scenarios/reliability/corpus.py`). Each failing case must raise its
exception class with the listed message fragments (which name the project, job or
recommendation), write nothing, leave the job's settings unchanged and show no credential;
each succeeding case must apply exactly the merged spec with one `jobs/update`. Two checks
exist for these cases: a `jobs/get` reply must be whole (unique task and job cluster keys,
every `job_cluster_key` a task names defined), else a page is missing or the reply is not
from Databricks; and a project whose `job_id` is another job is refused (its
recommendations were learned from that job's runs).

{_corpus_summary()}

## The fault matrix

One row per cell: the request broken, how, the task's outcome, the job's state afterwards
(whole settings compared), the requests the sandbox served, and the time taken against the
bound. "dropped reply, change applied" loses the first reply after Databricks applied the
update: the hook's retry sends the same entry again (idempotent) and gets an answer. "3 dropped
replies, change applied" loses the reply of every attempt of the hook, so only the read-back
can tell; "3 dropped connections, not applied" drops them before the update.

**This run:** {len(results)} cells; {outcomes["succeeded"]} succeeded, {outcomes["failed"]} \
failed clearly. Job afterwards: {states[h.MERGED]} merged spec, {states[h.UNCHANGED]} \
unchanged, **{states[h.NEITHER]} in a state nobody chose**. Wall time {wall:.0f} s.

{h.TABLE_HEADER}
{rows}

Regenerate with `.venv/bin/python tests/scenarios/reliability/report.py`.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    from airflow.sdk.log import configure_logging

    from airflow_gradient.sandbox import Sandbox
    from tests.scenarios.reliability import harness as h

    configure_logging(log_level="CRITICAL")  # the table, not the operator's log
    results = []
    failures: list[str] = []
    started = time.monotonic()
    with Sandbox() as sb:
        os.environ.update(sb.connections())
        print(h.TABLE_HEADER, flush=True)
        for cell in h.CELLS:
            result = h.run_cell(sb, cell)
            results.append(result)
            print(h.render_row(result), flush=True)
            failures += [f"{cell.id}: {problem}" for problem in h.check_cell(result)]
    document = render(results, wall=time.monotonic() - started)
    if not args.no_write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(document, encoding="utf-8")
        print(f"\nwrote {args.output}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
