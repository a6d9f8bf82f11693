"""Offline link check: every relative link and image of the Markdown docs resolves in the repo.

Checks README.md, CONTRIBUTING.md, CHANGELOG.md and docs/**/*.md (``make docs`` runs it after
the Sphinx build). A relative link must name a file or folder inside the repository; a
``#anchor`` on a Markdown file must be one of its headings (GitHub's and MyST's slug: lower
case, punctuation dropped, spaces to hyphens) or an explicit ``(name)=`` target. Links with a
scheme (``https:``, ``mailto:``) are not followed: nothing here goes online. Exit 1 with one
line per broken link.

    python scripts/check_links.py [FILE.md ...]
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent

#: ``[text](target)`` and ``![alt](target)``, target up to a space (an optional title follows).
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
#: ``[label]: target`` reference definitions.
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
#: ``<img src="...">`` and ``<a href="...">`` in raw HTML.
_HTML = re.compile(r"<(?:img|a)\s[^>]*?(?:src|href)=\"([^\"]+)\"", re.I)
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TARGET = re.compile(r"^\(([^)]+)\)=\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Broken:
    """One link that does not resolve: where it is, what it says, why it is broken."""

    file: Path
    line: int
    target: str
    problem: str

    def __str__(self) -> str:
        where = self.file.relative_to(ROOT) if self.file.is_relative_to(ROOT) else self.file
        return f"{where}:{self.line}: {self.target}: {self.problem}"


def default_files(root: Path = ROOT) -> list[Path]:
    """The Markdown files users read: README, CONTRIBUTING, CHANGELOG and docs/ (not _build)."""
    files = [root / name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md")]
    files += sorted(p for p in (root / "docs").rglob("*.md") if "_build" not in p.parts)
    return [p for p in files if p.is_file()]


def prose_lines(text: str, *, blank_code: bool = True) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, inline code spans blanked unless told."""
    fence: str | None = None
    directive = False  # inside a MyST directive (```{name}): its body is Markdown
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if fence is not None and stripped.startswith(fence) and not stripped.strip(fence[0]):
            fence, directive = None, False
            continue
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(2)
            directive = stripped[len(fence) :].startswith("{")
            continue
        if fence is not None and not directive:
            continue
        yield number, _CODE_SPAN.sub("", line) if blank_code else line


def slug(heading: str) -> str:
    """The anchor GitHub and MyST give a heading."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file offers: heading slugs (GitHub's ``-1`` suffixes for
    repeats) and MyST ``(name)=`` targets."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path.read_text(encoding="utf-8"), blank_code=False):
        heading = _HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
            continue
        target = _TARGET.match(line.strip())
        if target:
            found.add(target.group(1))
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line, target) of every link and image of a Markdown file, outside code."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for pattern in (_INLINE, _REFERENCE, _HTML):
            for match in pattern.finditer(line):
                yield number, match.group(1)


def check_file(path: Path, root: Path = ROOT) -> list[Broken]:
    """The broken relative links of one Markdown file."""
    broken: list[Broken] = []
    root = root.resolve()
    for line, target in links(path):
        if _SCHEME.match(target) or target.startswith("//"):
            continue
        where, _, anchor = target.partition("#")
        where = unquote(where.split("?", 1)[0])
        resolved = (path.parent / where).resolve() if where else path.resolve()
        if not resolved.is_relative_to(root):
            broken.append(Broken(path, line, target, "points outside the repository"))
        elif not resolved.exists():
            broken.append(Broken(path, line, target, "no such file"))
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(Broken(path, line, target, f"no heading with anchor #{anchor}"))
    return broken


def check(files: Iterable[Path], root: Path = ROOT) -> list[Broken]:
    """The broken relative links of every file."""
    return [b for path in files for b in check_file(path, root)]


def main(argv: list[str]) -> int:
    files = [Path(a).resolve() for a in argv] or default_files()
    broken = check(files)
    for item in broken:
        print(item, file=sys.stderr)
    checked = sum(1 for path in files for _ in links(path))
    print(f"check_links: {len(files)} files, {checked} links, {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
