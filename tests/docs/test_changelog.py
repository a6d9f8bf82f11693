"""CHANGELOG.md: one section per release, newest first, under an Unreleased section whose
subsections other changes append to; the newest release is older than the package version."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import Version

import airflow_gradient

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"
SUBSECTIONS = ["### Added", "### Changed", "### Deprecated", "### Removed", "### Fixed"]


def sections() -> list[tuple[str, str]]:
    text = CHANGELOG.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def test_unreleased_comes_first_with_its_five_subsections_in_order() -> None:
    (title, body), *_ = sections()
    assert title == "Unreleased"
    headings = [line for line in body.splitlines() if line.startswith("### ")]
    assert headings == SUBSECTIONS


def test_releases_are_versions_newest_first_and_older_than_the_package() -> None:
    releases = [Version(title.split()[0]) for title, _ in sections()[1:]]
    assert releases, "no release section"
    assert releases == sorted(releases, reverse=True)
    assert len(set(releases)) == len(releases)
    assert Version(airflow_gradient.__version__) > releases[0]


def test_the_first_release_describes_the_package() -> None:
    title, body = sections()[-1]
    assert title == "0.1.0"
    for name in (
        "GradientApplyRecommendationOperator",
        "GradientRequestRecommendationOperator",
        "GradientRecommendationSensor",
        "GradientRollbackOperator",
        "GradientWebhookOperator",
        "GradientHook",
    ):
        assert name in body
