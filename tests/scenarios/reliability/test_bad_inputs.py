"""Every case of ``tests/data/bad_inputs/``: a clear error and zero writes (or, for inputs that
naive clients get wrong, a correct apply)."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_gradient.sandbox import Sandbox
from tests.scenarios.reliability.corpus import CORPUS, Case, load_corpus, substitute
from tests.scenarios.reliability.corpus import run_case as run_corpus_case
from tests.scenarios.reliability.harness import JOBS_UPDATE, writes

CASES = load_corpus()


def test_the_corpus_holds_exactly_the_documented_cases() -> None:
    """docs/reliability.md promises 88 cases: 84 refused, 4 accepted."""
    assert len(CASES) == 88, f"{len(CASES)} cases in {CORPUS}"
    assert {case.kind for case in CASES} == {"recommendation", "job", "input"}
    assert sum(1 for case in CASES if case.expected_error) == 84
    assert sum(1 for case in CASES if case.expected_error is None) == 4


#: Bad inputs whose error is retried: a host that answers pages that are not Gradient's may be
#: a proxy's error page, which the next attempt may get past.
RETRIED_INPUTS = {"input_gradient_url_is_databricks"}

#: Bad inputs refused when the operator is built, that is when the DAG is parsed: the DAG does
#: not load, so no task runs and nothing is retried.
PARSE_TIME_INPUTS = {"input_guard_rails_unknown_key"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = run_corpus_case(sb, case, monkeypatch.setenv)
    run = outcome.run
    done = writes(sb)

    if case.expected_error is not None:
        assert run.error is not None, (
            f"{case.name}: expected {case.expected_error}, but the run succeeded: {run.result}"
        )
        message = str(run.error)
        assert type(run.error).__name__ == case.expected_error, message
        for fragment in substitute(case.fragments, outcome.values):
            assert str(fragment) in message, f"{fragment!r} not in: {message}"
        assert len(message) >= 40 and "Traceback" not in message, message
        for secret in outcome.secrets:
            assert secret not in message, "a credential leaked into the error message"
        assert done == [], f"{case.name} wrote: {done}"
        assert outcome.after == outcome.before, "the job changed"
        if case.name in PARSE_TIME_INPUTS:
            assert run.parse_error, f"{case.name} was not refused when the DAG was parsed"
        elif case.name.startswith("input_") and case.name not in RETRIED_INPUTS:
            # An argument or a connection a retry cannot fix: the task fails at once.
            assert isinstance(run.error, AirflowFailException), f"{case.name} would be retried"
        return

    assert run.error is None, f"{case.name}: expected success, got {run.error!r}"
    result: dict[str, Any] = run.result or {}
    wanted = substitute(dict(case.data.get("expected_result") or {}), outcome.values)
    for key, value in wanted.items():
        assert result.get(key) == value, f"result[{key!r}] = {result.get(key)!r}, not {value!r}"
    statuses = {r.status for r in sb.requests}
    for status in case.data.get("expected_statuses") or []:
        assert status in statuses, f"no HTTP {status} among {sorted(statuses)}"
    if result.get("applied"):
        assert done == [f"databricks POST {JOBS_UPDATE}"]
        assert outcome.after == outcome.merged, "the job does not hold exactly the merged spec"
    else:
        assert done == []
        assert outcome.after == outcome.before
