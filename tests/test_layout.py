"""The tests mirror the package: a top-level folder of tests/ is named after a package (or a
module) of ``airflow_gradient``, or is one of the few folders for what no module holds.

See tests/README.md. Without this check a new topic folder (tests/waiting, tests/webhook, ...)
creeps back in and a newcomer no longer finds a module's tests by its path.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "airflow_gradient"

#: Folders for what no single module holds: end-to-end suites, the deployment and browser
#: checks of ``make test-deployment``/``make test-browser``, packaging and registration checks,
#: the docs checks, and test inputs.
ALLOWED = frozenset({"scenarios", "deployment", "browser", "e2e", "docs", "data", "fixtures"})

#: Folders holding test inputs only (no test code, so no ``__init__.py``).
INPUTS = frozenset({"data", "fixtures"})


def _holds_something(folder: Path) -> bool:
    """Git tracks no empty folder: one left holding only ``__pycache__`` (after a pull that
    moved its tests away) is not part of the layout."""
    return any(child.name != "__pycache__" for child in folder.iterdir())


def _folders(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith((".", "__")) and _holds_something(p)
    )


def module_names(package: Path) -> set[str]:
    """Names of the package's subpackages and of its top-level modules (``policies.py``)."""
    subpackages = {p.name for p in _folders(package) if (p / "__init__.py").is_file()}
    modules = {p.stem for p in package.glob("*.py") if not p.stem.startswith("_")}
    return subpackages | modules


def stray_folders(tests: Path, package: Path) -> list[str]:
    """Top-level folders of ``tests`` named after nothing in ``package`` nor allowed."""
    known = module_names(package) | ALLOWED
    return [p.name for p in _folders(tests) if p.name not in known]


def folders_without_init(tests: Path) -> list[str]:
    """Folders of test code (inputs aside) that are not packages: tests import each other as
    ``tests.x.y``, and two same-named test files in non-packages collide."""
    missing = []
    for folder in [tests, *sorted(tests.rglob("*"))]:
        if not folder.is_dir() or "__pycache__" in folder.parts or not _holds_something(folder):
            continue
        relative = folder.relative_to(tests).parts
        if relative and (relative[0] in INPUTS or relative[0].startswith(".")):
            continue
        if not (folder / "__init__.py").is_file():
            missing.append(folder.relative_to(tests).as_posix() or ".")
    return missing


def test_every_top_level_test_folder_is_named_after_the_package() -> None:
    stray = stray_folders(TESTS, PACKAGE)
    assert not stray, (
        f"tests/ holds folders named after no package or module of airflow_gradient: {stray}. "
        "Move their tests to tests/<path of the module they test>, or to tests/scenarios/ if "
        "they are end-to-end suites (see tests/README.md)."
    )


def test_every_test_folder_is_a_package() -> None:
    missing = folders_without_init(TESTS)
    assert not missing, f"test folders without __init__.py: {missing}; add an empty one"


def test_the_layout_check_finds_a_topic_folder_and_a_missing_init(tmp_path: Path) -> None:
    """The checks above can fail: a topic folder and a folder without ``__init__.py``."""
    package = tmp_path / "airflow_gradient"
    (package / "operators").mkdir(parents=True)
    (package / "operators" / "__init__.py").write_text("")
    (package / "policies.py").write_text("")
    tests = tmp_path / "tests"
    for name in ("operators", "policies", "scenarios", "waiting", "data"):
        (tests / name).mkdir(parents=True)
        (tests / name / "__init__.py").write_text("")
    (tests / "__init__.py").write_text("")
    (tests / "scenarios" / "dags").mkdir()
    (tests / "scenarios" / "dags" / "test_dag.py").write_text("")
    (tests / "data" / "bad_inputs").mkdir()
    (tests / "rollback" / "__pycache__").mkdir(parents=True)  # left behind by a pull: ignored

    assert stray_folders(tests, package) == ["waiting"]
    assert folders_without_init(tests) == ["scenarios/dags"]
