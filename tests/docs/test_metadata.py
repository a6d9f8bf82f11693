"""Honest metadata: no URL under a repository nobody verified, no claim of Sync Computing
authorship. Gradient (Sync Computing) stays named as the service the package talks to."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Where users and packaging tools read text from us: the package, its metadata, the docs,
#: the templates, scripts, benchmarks and tests.
SCANNED = ("airflow_gradient", "docs", "example_dags", "scripts", "benchmarks", "compat", "tests")
SCANNED_FILES = ("pyproject.toml", "README.md", "CONTRIBUTING.md", "CHANGELOG.md", "BENCHMARKS.md")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".json", ".yaml", ".yml", ".tf"}
SKIPPED_PARTS = {"_build", "__pycache__"}

#: The nonexistent repository the first metadata named (split, so this file does not match).
FORBIDDEN = re.compile("sync" + "computingcode", re.I)
#: Any GitHub address: none has been verified to belong to this project.
GITHUB_URL = re.compile(r"(?:https?://)?(?:[\w-]+\.)?github(?:usercontent)?\.com/", re.I)
#: GitHub addresses someone checked, by prefix: add one only after opening it. Apache Airflow's
#: constraints files (the pattern its installation guide gives; compat/README.md uses it).
VERIFIED_GITHUB_PREFIXES = ("https://raw.githubusercontent.com/apache/airflow/constraints-",)


def scanned_files() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES if (ROOT / name).is_file()]
    files.append(ROOT / ".ci" / "run")
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*"):
            skipped = SKIPPED_PARTS & set(path.parts)
            if path.is_file() and path.suffix in TEXT_SUFFIXES and not skipped:
                files.append(path)
    files.remove(Path(__file__).resolve())  # it spells the patterns out to test them
    return files


def test_the_scan_covers_the_package_the_docs_and_the_metadata() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in scanned_files()}
    assert {
        "pyproject.toml",
        "README.md",
        "CONTRIBUTING.md",
        "airflow_gradient/__init__.py",
        "airflow_gradient/cli/terraform.py",
        "docs/index.md",
        "docs/conf.py",
        "tests/e2e/test_version_guard.py",
    } <= names


def test_no_unverified_repository_url_anywhere() -> None:
    found = []
    for path in scanned_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if FORBIDDEN.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
            for match in GITHUB_URL.finditer(line):
                url = line[match.start() :].split()[0].strip("()<>\"'`,")
                if not url.startswith(VERIFIED_GITHUB_PREFIXES):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {url}")
    assert not found, "unverified URLs (link relatively, or name the doc page):\n" + "\n".join(
        found
    )


def test_the_scan_would_see_a_planted_url(tmp_path: Path) -> None:
    line = "see https://github.com/" + "synccomputingcode/airflow-gradient/blob/main/docs/x.md"
    assert FORBIDDEN.search(line) and GITHUB_URL.search(line)
    assert GITHUB_URL.search("![x](https://raw.githubusercontent.com/o/r/main/a.png)")


def test_pyproject_names_the_maintainers_and_no_unverified_urls() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["authors"] == [{"name": "airflow-gradient maintainers"}]
    assert not any("email" in author for author in project["authors"])
    assert "urls" not in project
    assert "Gradient (Sync Computing)" in project["description"]  # the service, by its name
