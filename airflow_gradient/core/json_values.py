"""JSON values in messages and comparisons: one rendering, one equality."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["json_equal", "show"]


def show(value: Any, limit: int | None = None) -> str:
    """``value`` as key-sorted JSON for messages and tables (``repr`` if it is not JSON).

    With ``limit``, text longer than ``limit`` characters is cut and ends with ``...``.
    """
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        text = repr(value)
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: like ``==`` but ``True`` is not ``1`` (nor ``False`` ``0``)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return bool(left == right)
