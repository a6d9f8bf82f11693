"""Each public operator's page documents its real constructor: every ``__init__`` parameter
has a row in the page's Parameters table with the default the code has, the rows marked
"(templated)" are exactly the ``template_fields``, and the Extra links section names the
links the operator shows.

Pages are written for the API the parallel branches deliver. What a page documents ahead of
the code is listed in ``AHEAD_OF_CODE``; each entry must still be ahead (so the list empties
itself: once the code has it, the test says to delete the entry)."""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.operators.apply import GradientApplyRecommendationOperator
from airflow_gradient.operators.health import GradientHealthCheckOperator
from airflow_gradient.operators.request import GradientRequestRecommendationOperator
from airflow_gradient.operators.rollback import GradientRollbackOperator
from airflow_gradient.operators.webhook import GradientWebhookOperator
from airflow_gradient.operators.workflow_clusters import GradientWorkflowClustersOperator
from airflow_gradient.sensors.recommendation import GradientRecommendationSensor

DOCS = Path(__file__).resolve().parents[2] / "docs"

PAGES: dict[type[Any], str] = {
    GradientApplyRecommendationOperator: "operators/apply.md",
    GradientRequestRecommendationOperator: "operators/request.md",
    GradientRecommendationSensor: "operators/sensor.md",
    GradientRollbackOperator: "operators/rollback.md",
    GradientWebhookOperator: "operators/webhook.md",
    GradientWorkflowClustersOperator: "operators/workflow_clusters.md",
    GradientHealthCheckOperator: "operators/health.md",
}

#: Template fields held under another name than their argument (``dry_run`` is a method of
#: BaseOperator, so the operators keep the argument as ``dry_run_only``).
FIELD_ARGUMENTS = {"dry_run_only": "dry_run"}

#: (page, kind, name): documented ahead of the code (empty when the two agree).
#: kind "param": a row for a parameter the constructor lacks; "default": the row's default
#: differs from the code's; "templated": marked templated, not in template_fields; "link".
AHEAD_OF_CODE: set[tuple[str, str, str]] = set()

_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|(.*)$")


def parameter_rows(page: str) -> dict[str, list[str]]:
    """name -> [type, default, description] of the rows under the page's ``## Parameters``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text.split("\n## Parameters\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", match.group(2).rstrip("|"))]
            rows[match.group(1)] = cells
    return rows


def extra_link_names(page: str) -> set[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text.split("\n## Extra links\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"\*\*([^*]+)\*\*", section))


def shown_default(value: Any) -> str | None:
    """How a page shows a default, or None for a value the page writes its own way."""
    if value is inspect.Parameter.empty:
        return "required"
    if value is None or isinstance(value, bool | int | float):
        return f"`{value!r}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, timedelta):
        return None
    raise AssertionError(f"no rule to show the default {value!r}")


def parameters(cls: type[Any]) -> dict[str, inspect.Parameter]:
    signature = inspect.signature(cls.__init__)
    return {
        name: p
        for name, p in signature.parameters.items()
        if name != "self" and p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def _ahead(page: str, kind: str, name: str) -> bool:
    return (page, kind, name) in AHEAD_OF_CODE


@pytest.mark.parametrize(("cls", "page"), PAGES.items(), ids=lambda v: getattr(v, "__name__", v))
def test_every_parameter_has_a_row_with_the_codes_default(cls: type[Any], page: str) -> None:
    rows = parameter_rows(page)
    problems = []
    for name, param in parameters(cls).items():
        if name not in rows:
            problems.append(f"{name}: no row in the Parameters table")
            continue
        shown = shown_default(param.default)
        if shown is not None and rows[name][1] != shown and not _ahead(page, "default", name):
            problems.append(f"{name}: the page says {rows[name][1]}, the code {shown}")
    for name in rows.keys() - parameters(cls).keys():
        if not _ahead(page, "param", name):
            problems.append(f"{name}: documented, but {cls.__name__} takes no such argument")
    assert not problems, f"{page}:\n" + "\n".join(problems)


@pytest.mark.parametrize(("cls", "page"), PAGES.items(), ids=lambda v: getattr(v, "__name__", v))
def test_templated_rows_are_the_template_fields(cls: type[Any], page: str) -> None:
    marked = {name for name, cells in parameter_rows(page).items() if "(templated" in cells[2]}
    fields = {FIELD_ARGUMENTS.get(field, field) for field in cls.template_fields}
    unmarked = fields - marked
    not_fields = {n for n in marked - fields if not _ahead(page, "templated", n)}
    assert not unmarked, f"{page}: template fields not marked (templated): {sorted(unmarked)}"
    assert not not_fields, f"{page}: marked (templated) but not template fields: {not_fields}"


@pytest.mark.parametrize(("cls", "page"), PAGES.items(), ids=lambda v: getattr(v, "__name__", v))
def test_the_extra_links_section_names_the_operators_links(cls: type[Any], page: str) -> None:
    shown = {link.name for link in getattr(cls, "operator_extra_links", ())}
    documented = extra_link_names(page)
    assert shown <= documented, f"{page}: links not documented: {shown - documented}"
    extra = {n for n in documented - shown if not _ahead(page, "link", n)}
    assert not extra, f"{page}: documented links the operator does not show: {extra}"


def _in_code(cls: type[Any], page: str, kind: str, name: str) -> bool:
    """Whether the code has caught up with an AHEAD_OF_CODE entry."""
    params = parameters(cls)
    if kind == "param":
        return name in params
    if kind == "default":
        return name in params and parameter_rows(page)[name][1] == shown_default(
            params[name].default
        )
    if kind == "templated":
        return name in {FIELD_ARGUMENTS.get(field, field) for field in cls.template_fields}
    return name in {link.name for link in getattr(cls, "operator_extra_links", ())}


def test_what_is_documented_ahead_of_the_code_is_still_ahead() -> None:
    """Once the code has an entry of AHEAD_OF_CODE, delete the entry: the tests above then
    hold the page to the code."""
    by_page = {page: cls for cls, page in PAGES.items()}
    caught_up = [entry for entry in sorted(AHEAD_OF_CODE) if _in_code(by_page[entry[0]], *entry)]
    assert not caught_up, f"the code has these now: delete them from AHEAD_OF_CODE: {caught_up}"
