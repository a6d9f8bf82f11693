"""The audit report (``airflow-gradient report``) as a person sees it in headless Chromium.

The report is a local, self-contained file: no Airflow deployment is started. The history is
the sandbox one of the report's CLI test (two recommendations, seven runs, four changes); the
page is opened from a ``file://`` URL, checked for what is on screen, and saved as
``docs/images/11-audit-report.png`` (full page, optimised to 200 kB or less).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_gradient.cli import main
from airflow_gradient.reporting.files import RUN_COLUMNS
from airflow_gradient.sandbox import Sandbox
from tests.browser.conftest import IMAGES, MAX_PNG_BYTES, VIEWPORT, optimise_png
from tests.report_history import audited_history

SCREENSHOT = "11-audit-report"
PLOTS = ("Run duration and predicted cost", "Tuned cluster by run")


@pytest.fixture
def report_page(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page and the URL of every request it makes (data: URLs included if reported)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    yield page, requested
    context.close()


def rows_under(page: Any, heading: str) -> Any:
    """The body rows of the table that follows the ``<h2>`` named ``heading``."""
    return page.locator(f"h2:text-is('{heading}') + table > tbody > tr")


def test_audit_report_in_chromium(
    sb: Sandbox, tmp_path: Path, report_page: tuple[Any, list[str]]
) -> None:
    history = audited_history(sb)
    out = tmp_path / "audit"
    assert main(["report", "--project-id", history["project_id"], "--output", str(out)]) == 0
    html_file = out / "report.html"
    page, requested = report_page

    page.goto(html_file.as_uri())
    page.wait_for_load_state("load")

    title = f"Gradient audit: Databricks job {history['job_id']}, project {history['project_id']}"
    assert page.title() == title
    assert page.get_by_role("heading", level=1).inner_text() == title
    assert "2 recommendations" in page.locator("body > p").first.inner_text()

    recs = rows_under(page, "Recommendations")
    assert recs.count() == 2
    rec_text = [recs.nth(i).inner_text() for i in range(2)]
    assert history["rec1"] in rec_text[0] and "overridden (num_workers)" in rec_text[0]
    assert history["rec2"] in rec_text[1] and "reverted (tag removed)" in rec_text[1]
    for row in range(2):
        assert recs.nth(row).is_visible()

    changes = rows_under(page, "Changes")
    kinds = [changes.nth(i).locator("td").nth(1).inner_text() for i in range(changes.count())]
    assert kinds == ["applied", "overridden", "replaced", "reverted"]

    runs = rows_under(page, "Runs: actual next to predicted")
    run_ids = [int(runs.nth(i).locator("td").first.inner_text()) for i in range(runs.count())]
    assert run_ids == history["runs"]
    assert "FAILED" in runs.nth(4).inner_text()
    # A run's recommendation shows as the plots label it (8 characters), the whole id on hover.
    rec_cell = runs.nth(1).locator("td").nth(RUN_COLUMNS.index("recommendation_id"))
    assert rec_cell.inner_text() == history["rec1"][:8]
    assert rec_cell.locator("span").get_attribute("title") == history["rec1"]

    images = page.locator("figure img")
    assert images.count() == len(PLOTS)
    for index, name in enumerate(PLOTS):
        image = images.nth(index)
        assert image.get_attribute("alt") == name
        assert image.is_visible()
        loaded = image.evaluate("img => [img.complete, img.naturalWidth, img.naturalHeight]")
        assert loaded[0] is True and loaded[1] > 0 and loaded[2] > 0, f"{name}: {loaded}"
        box = image.bounding_box()
        assert box is not None and box["width"] > 300, f"{name} drawn {box}"
        assert page.locator("figcaption").nth(index).inner_text() == name

    # Nothing is cut off at the side: the page is no wider than the window.
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"page {widths[0]} px wide in a {widths[1]} px window"

    # Self-contained: the file itself is the only thing fetched (data: images aside).
    assert html_file.as_uri() in requested
    outside = [u for u in requested if not u.startswith(("file://", "data:"))]
    assert outside == [], f"the report fetched {outside}"
    local = [u for u in requested if u.startswith("file://")]
    assert local == [html_file.as_uri()], f"the report read other local files: {local}"

    text = page.locator("body").inner_text() + page.content()
    for secret in [sb.api_key_secret, sb.databricks_token, *sb.gradient.issued_tokens]:
        assert secret not in text, "a secret is in the report"

    data = optimise_png(page.screenshot(full_page=True))
    assert len(data) <= MAX_PNG_BYTES, f"{SCREENSHOT}.png is {len(data)} bytes"
    IMAGES.mkdir(parents=True, exist_ok=True)
    (IMAGES / f"{SCREENSHOT}.png").write_bytes(data)
