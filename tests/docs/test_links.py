"""The offline link check (scripts/check_links.py): every relative link and image of the
Markdown docs resolves to a file and heading in the repository, and the check itself finds
each kind of broken link."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_checker() -> ModuleType:
    path = ROOT / "scripts" / "check_links.py"
    spec = importlib.util.spec_from_file_location("check_links", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


check_links = _load_checker()


def test_every_relative_link_of_the_docs_resolves() -> None:
    files = check_links.default_files()
    names = {p.relative_to(ROOT).as_posix() for p in files}
    assert {"README.md", "CONTRIBUTING.md", "CHANGELOG.md", "docs/index.md"} <= names
    broken = check_links.check(files)
    assert not broken, "\n".join(map(str, broken))


def test_the_docs_link_to_each_other_and_to_images() -> None:
    """The check has something to check: README and docs hold relative links and images."""
    found = {p.name: [t for _, t in check_links.links(p)] for p in check_links.default_files()}
    assert any(t.startswith("docs/") for t in found["README.md"])
    assert any(t.endswith(".png") for t in found["README.md"])
    assert any("#" in t for targets in found.values() for t in targets)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "docs" / "images").mkdir(parents=True)
    (tmp_path / "docs" / "images" / "shot.png").write_bytes(b"png")
    (tmp_path / "docs" / "guide.md").write_text(
        "# Guide\n\n## The `first` step: setup\n\n## Again\n\n## Again\n\n(custom-target)=\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ("[a](docs/missing.md)", "no such file"),
        ("![a](docs/images/missing.png)", "no such file"),
        ("[a](docs/guide.md#no-such-heading)", "no heading with anchor #no-such-heading"),
        ("[a](#nowhere)", "no heading with anchor #nowhere"),
        ("[a](../outside.md)", "points outside the repository"),
        ('<img src="docs/images/gone.png">', "no such file"),
        ("[label]: docs/gone.md", "no such file"),
    ],
)
def test_each_kind_of_broken_link_is_found(repo: Path, link: str, problem: str) -> None:
    page = repo / "README.md"
    page.write_text(f"# Title\n\n{link}\n")
    [broken] = check_links.check([page], root=repo)
    assert broken.problem == problem
    assert broken.line == 3


@pytest.mark.parametrize(
    "link",
    [
        "[a](docs/guide.md)",
        "[a](docs/guide.md#the-first-step-setup)",
        "[a](docs/guide.md#again-1)",
        "[a](docs/guide.md#custom-target)",
        "![a](docs/images/shot.png)",
        "[a](docs/)",
        "[a](#title)",
        "[a](https://example.invalid/never-fetched)",
        "`[a](docs/not-a-link.md)` in code",
    ],
)
def test_links_that_resolve_or_are_not_followed_pass(repo: Path, link: str) -> None:
    page = repo / "README.md"
    page.write_text(f"# Title\n\nSee {link} here.\n")
    assert check_links.check([page], root=repo) == []


def test_links_in_code_blocks_are_not_links_but_directive_bodies_are(repo: Path) -> None:
    page = repo / "README.md"
    page.write_text(
        "# T\n\n```python\nx = '[a](gone.md)'\n```\n\n```{note}\nSee [b](gone-too.md).\n```\n"
    )
    [broken] = check_links.check([page], root=repo)
    assert broken.target == "gone-too.md"
