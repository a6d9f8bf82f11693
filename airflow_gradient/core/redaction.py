"""Hiding secret values in cluster specs before they are shown: logs, diff tables, messages.

Databricks users should reference secrets as ``{{secrets/<scope>/<key>}}``, but many jobs hold
plain values in ``spark_env_vars``, ``spark_conf`` or ``custom_tags``. The core does not know
which names are sensitive: the caller passes a :data:`Redactor`, ``(key, value) -> value``, that
returns the value, or a replacement when it must not be shown. The edge supplies Airflow's
(:func:`airflow_gradient.masking.airflow_redactor`). A secret reference is never a secret and
stays visible.

Where a value must be recognised later without being kept (the rollback checks that a field
still holds what the apply wrote), :func:`secret_digest` stands in for it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "Redactor",
    "is_secret_reference",
    "redact_changes",
    "redact_cluster",
    "secret_digest",
    "secret_values",
    "shown_field",
]

#: ``(key, value) -> value``: the value itself, or what to show instead.
Redactor = Callable[[str, Any], Any]

#: The maps of a cluster spec whose values can be credentials.
SECRET_MAPS = ("spark_env_vars", "spark_conf", "custom_tags")

_REFERENCE = re.compile(r"\{\{\s*secrets/[^/{}\s]+/[^{}\s]+\s*\}\}")


def is_secret_reference(value: Any) -> bool:
    """Whether ``value`` is only a Databricks secret reference (``{{secrets/scope/key}}``)."""
    return isinstance(value, str) and _REFERENCE.fullmatch(value.strip()) is not None


def _shown(key: str, value: Any, redactor: Redactor) -> Any:
    if value is None or is_secret_reference(value):
        return value
    return redactor(key, value)


def redact_cluster(spec: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    """A copy of ``spec`` whose :data:`SECRET_MAPS` values went through ``redactor``."""
    shown = copy.deepcopy(dict(spec))
    for field in SECRET_MAPS:
        values = spec.get(field)
        if isinstance(values, Mapping):
            shown[field] = shown_field((field,), values, redactor)
    return shown


def shown_field(keys: Sequence[str], value: Any, redactor: Redactor) -> Any:
    """What may be shown of ``value``, the field of a cluster spec at ``keys``: an entry of one
    of the :data:`SECRET_MAPS` goes through ``redactor`` (a whole map, key by key); any other
    field is shown as it is."""
    if not keys or keys[0] not in SECRET_MAPS or value is None:
        return value
    if len(keys) == 1 and isinstance(value, Mapping):
        return {str(k): _shown(str(k), v, redactor) for k, v in value.items()}
    if len(keys) == 2:
        return _shown(keys[1], value, redactor)
    return value


def secret_values(tree: Any, redactor: Redactor) -> list[str]:
    """Every text value ``redactor`` hides in a :data:`SECRET_MAPS` map anywhere in ``tree``
    (a cluster spec, a job's settings, a recommendation), references excepted: what the edge
    hands to Airflow's masker, so that a message the package does not format (an error from a
    library) is masked in the task log too."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in SECRET_MAPS and isinstance(value, Mapping):
                    found.extend(
                        v
                        for k, v in value.items()
                        if isinstance(v, str) and _shown(str(k), v, redactor) != v
                    )
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(tree)
    return found


DIGEST_PREFIX = "sha256:"


def secret_digest(value: Any, *, salt: str) -> str:
    """``sha256:<hex>`` of ``salt`` and the key-sorted JSON of ``value``.

    Why a digest: the rollback must tell whether a field still holds a secret value the apply
    saw, and the XCom that carries the apply's result is shown in the UI, so it may hold a
    fingerprint of the value but never the value. The salt (job, cluster and field) keeps equal
    secrets in different jobs or fields from having equal digests, so the XCom does not show
    which jobs share a password. A digest does not hide a guessable value from someone who
    tries candidates: it replaces a secret in a display, it does not make a weak one strong.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return DIGEST_PREFIX + hashlib.sha256(f"{salt}\n{text}".encode()).hexdigest()


def _map_keys(path: str) -> tuple[str, ...]:
    """The keys of a diff row's ``path`` as far as redaction looks: ``(map, key)`` for an entry
    of one of the :data:`SECRET_MAPS` (``spark_conf["a.b"]`` or ``spark_env_vars.NAME``),
    ``(map,)`` for a whole map, ``()`` for any other field."""
    for field in SECRET_MAPS:
        if path == field:
            return (field,)
        prefix = f"{field}["
        if path.startswith(prefix) and path.endswith("]"):
            inner = path[len(prefix) : -1]
            return field, inner[1:-1] if inner.startswith('"') and inner.endswith('"') else inner
        if path.startswith(f"{field}."):
            return field, path[len(field) + 1 :]
    return ()


def redact_changes(
    changes: Sequence[Mapping[str, Any]], redactor: Redactor
) -> list[dict[str, Any]]:
    """Diff rows (``path`` plus ``before``/``after``/... values) with each value shown as
    :func:`shown_field` shows the field at that path."""
    shown: list[dict[str, Any]] = []
    for row in changes:
        keys = _map_keys(str(row.get("path", "")))
        shown.append(
            {
                column: value if column == "path" else shown_field(keys, value, redactor)
                for column, value in row.items()
            }
        )
    return shown
