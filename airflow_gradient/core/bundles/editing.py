"""Round-trip edits of a bundle file's ``ruamel.yaml`` document: the user's comments, key order
and quoting stay where they were; only the touched entries change."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_gradient.core.bundles.documents import BundleFile, dump_yaml
from airflow_gradient.core.errors import BundleInputError

__all__ = ["add_include", "delete_at", "render_edited", "replace_at"]


def _node(document: Any, keys: Sequence[str | int]) -> Any:
    node = document
    for key in keys:
        node = node[key]
    return node


def _split_trailing(token: Any) -> tuple[Any, Any]:
    """A comment token after a sequence item → (what stays on the item's line, the rest)."""
    value = token.value
    cut = value.find("\n")
    if cut < 0 or cut == len(value) - 1:
        return token, None
    kept, moved = copy.copy(token), copy.copy(token)
    kept.value, moved.value = value[: cut + 1], "\n" + value[cut + 1 :]
    return kept, moved


def add_include(document: Any, entry: str) -> None:
    """Add ``entry`` at the end of the root's ``include:`` list (created after ``bundle:``
    when missing), keeping the blank lines and comments around it."""
    from ruamel.yaml.comments import CommentedSeq
    from ruamel.yaml.tokens import CommentToken

    includes: Any = document.get("include")
    if includes is None:
        seq = CommentedSeq([entry])
        seq.ca.items[0] = [CommentToken("\n\n", _Mark(), None), None, None, None]
        position = list(document).index("bundle") + 1 if "bundle" in document else 0
        document.insert(position, "include", seq)
        return
    if not isinstance(includes, CommentedSeq):
        raise BundleInputError("include: must be a list of file globs")
    last = len(includes) - 1
    includes.append(entry)
    if last >= 0 and last in includes.ca.items and includes.ca.items[last][0] is not None:
        kept, moved = _split_trailing(includes.ca.items[last][0])
        includes.ca.items[last][0] = kept
        if moved is not None:
            includes.ca.items[last + 1] = [moved, None, None, None]


class _Mark:
    """The position a new comment token claims (column 0; only the column is read)."""

    line = 0
    column = 0


def delete_at(document: Any, keys: Sequence[str | int]) -> bool:
    """Delete the value at ``keys``; False when there is none."""
    try:
        parent = _node(document, keys[:-1])
    except (KeyError, IndexError, TypeError):
        return False
    if isinstance(parent, Mapping) and keys[-1] in parent:
        del parent[keys[-1]]  # type: ignore[attr-defined]
        return True
    return False


def replace_at(document: Any, keys: Sequence[str | int], value: Any) -> None:
    """Make the value at ``keys`` equal ``value``, editing maps key by key so the comments of
    the keys that stay are kept."""
    parent = _node(document, keys[:-1])
    current = parent[keys[-1]]
    if isinstance(current, Mapping) and isinstance(value, Mapping):
        _update_map(current, value)
    else:
        parent[keys[-1]] = copy.deepcopy(value)


def _update_map(node: Any, value: Mapping[str, Any]) -> None:
    for key in [k for k in node if k not in value]:
        del node[key]
    for key, item in value.items():
        if key in node and isinstance(node[key], Mapping) and isinstance(item, Mapping):
            _update_map(node[key], item)
        elif key not in node or node[key] != item:
            node[key] = copy.deepcopy(item)


def render_edited(file: BundleFile) -> str:
    """The text of an edited file.

    :raises BundleInputError: the file does not survive a round trip unchanged (then an edit
        would change more than the touched lines): the caller names the edit to make by hand.
    """
    from airflow_gradient.core.bundles.documents import parse_yaml

    if dump_yaml(parse_yaml(file.text, path=file.path), like=file.text) != file.text:
        raise BundleInputError(
            "the YAML editor cannot rewrite this file without changing lines it does not edit "
            "(an unusual layout); make the edit by hand",
            path=file.path,
        )
    return dump_yaml(file.document, like=file.text)
