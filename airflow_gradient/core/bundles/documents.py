"""The files of a bundle: ``databricks.yml``, the files its ``include:`` globs name, read with
a round-trip YAML parser (``ruamel.yaml``, the ``bundle`` extra) so they can be written back
with the user's comments and layout.

The CLI rules relied on: the root file is ``databricks.yml`` (or ``databricks.yaml``); only the
root's ``include:`` entries are read, each a glob relative to the root (no ``**`` recursion,
like Go's ``filepath.Glob``), matches sorted per entry, a file read once.
"""

from __future__ import annotations

import fnmatch
import glob
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_gradient.core.errors import BundleInputError

__all__ = ["Bundle", "BundleFile", "dump_yaml", "glob_names", "load_bundle", "parse_yaml", "plain"]

ROOT_FILES = ("databricks.yml", "databricks.yaml")

GENERATED_FILE = "gradient.generated.yml"
"""The tool-owned override file ``bundle write-back`` writes, at the bundle root."""

RUAMEL_MISSING = (
    "the bundle commands read YAML with ruamel.yaml, which is not installed; install it with: "
    "pip install 'airflow-gradient[bundle]'"
)


def _yaml(text: str | None = None) -> Any:
    """A round-trip ``ruamel.yaml`` instance, indented the way ``text`` is."""
    try:
        from ruamel.yaml import YAML
    except ImportError:  # the optional extra ``bundle``
        raise BundleInputError(RUAMEL_MISSING) from None
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, offset = _indentation(text or "")
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml


_LINE = re.compile(r"( *)(- )?(\S)")


def _indentation(text: str) -> tuple[int, int]:
    """(mapping indent, block sequence dash offset) of ``text``, from its first nested map and
    its first block sequence under a key (defaults: 2 and 2, the bundle docs' style)."""
    mapping = offset = None
    parent: int | None = None  # indent of the previous line when it opened a block (``key:``)
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None or match.group(3) == "#":
            continue
        indent = len(match.group(1))
        if parent is not None and match.group(2) and indent >= parent and offset is None:
            offset = indent - parent
        elif parent is not None and not match.group(2) and indent > parent and mapping is None:
            mapping = indent - parent
        stripped = line.split(" #")[0].rstrip()
        parent = indent + (2 if match.group(2) else 0) if stripped.endswith(":") else None
        if mapping is not None and offset is not None:
            break
    return mapping or 2, 2 if offset is None else offset


def parse_yaml(text: str, *, path: str) -> Any:
    """The round-trip document of ``text`` (``None`` for an empty file)."""
    yaml = _yaml(text)
    try:
        return yaml.load(text)
    except Exception as exc:  # ruamel raises several unrelated classes
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BundleInputError(f"not valid YAML{where}: {problem}", path=path) from None


def dump_yaml(document: Any, *, like: str = "") -> str:
    """``document`` as YAML text, indented like ``like`` (its original text)."""
    stream = io.StringIO()
    _yaml(like).dump(document, stream)
    return stream.getvalue()


def plain(value: Any) -> Any:
    """A parsed value as plain ``dict`` / ``list`` / scalars (ruamel's types dropped)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


@dataclass
class BundleFile:
    """One YAML file of the bundle: its path relative to the root, text and round-trip data."""

    path: str
    text: str
    document: Any
    _data: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def data(self) -> dict[str, Any]:
        """The file as plain data (``{}`` for an empty file), read once: after an edit of
        ``document``, use a new :class:`BundleFile` (see :meth:`edited`)."""
        if self._data is None:
            value = plain(self.document)
            self._data = value if isinstance(value, dict) else {}
        return self._data

    def edited(self) -> BundleFile:
        """The same file after an edit of its ``document``."""
        return BundleFile(self.path, self.text, self.document)

    def line_of(self, *keys: str | int) -> int | None:
        """The 1-based line where the value at ``keys`` starts, when ruamel recorded it."""
        node, line = self.document, None
        for key in keys:
            try:
                lc = node.lc
                line = lc.data[key][0] + 1 if key in lc.data else line
                node = node[key]
            except (AttributeError, KeyError, IndexError, TypeError):
                return line
        return line


@dataclass
class Bundle:
    """A bundle directory, read: ``files`` in the CLI's load order, the root file first."""

    root: Path
    files: list[BundleFile]
    ignored_includes: list[str] = field(default_factory=list)
    include_globs: list[str] = field(default_factory=list)

    @property
    def root_file(self) -> BundleFile:
        return self.files[0]

    def file(self, path: str) -> BundleFile | None:
        return next((f for f in self.files if f.path == path), None)

    def includes(self, path: str) -> bool:
        """Whether the root's ``include:`` globs name ``path`` (also before it exists)."""
        return any(glob_names(pattern, path) for pattern in self.include_globs)


def glob_names(pattern: str, path: str) -> bool:
    """Whether an ``include:`` glob names ``path`` (``*`` stays within one directory, as in
    Go's ``filepath.Match``)."""
    return path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern)


def _matches(root: Path, pattern: str) -> list[str]:
    found = glob.glob(pattern, root_dir=root)
    return sorted(p.replace("\\", "/") for p in found if (root / p).is_file())


def _read(root: Path, relative: str) -> BundleFile:
    path = root / relative
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BundleInputError("no such file", path=relative) from None
    except UnicodeDecodeError:
        raise BundleInputError("not UTF-8 text", path=relative) from None
    except OSError as exc:
        raise BundleInputError(f"cannot read: {exc.strerror or exc}", path=relative) from None
    document = parse_yaml(text, path=relative)
    if document is not None and not isinstance(document, Mapping):
        raise BundleInputError("the top level must be a mapping", path=relative)
    return BundleFile(relative, text, document)


def load_bundle(root: str | Path) -> Bundle:
    """Read the bundle at ``root``: its root file and every file its ``include:`` globs name.

    :raises BundleInputError: no root file, a file that is not YAML, a malformed ``include:``.
    """
    base = Path(root)
    if not base.is_dir():
        raise BundleInputError(f"{root} is not a directory (pass the bundle's root directory)")
    name = next((n for n in ROOT_FILES if (base / n).is_file()), None)
    if name is None:
        raise BundleInputError(f"{root} holds no databricks.yml: pass the bundle's root directory")
    root_file = _read(base, name)
    files = [root_file]
    raw = root_file.data.get("include") or []
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise BundleInputError("include: must be a list of file globs", path=name)
    seen = {name}
    for pattern in raw:
        for relative in _matches(base, pattern):
            if relative not in seen:
                seen.add(relative)
                files.append(_read(base, relative))
    ignored = [f.path for f in files[1:] if f.data.get("include")]
    return Bundle(base, files, ignored, list(raw))
