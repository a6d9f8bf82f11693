"""What the Databricks hook shows of a notification destination, and of a create request.

A destination's URL, user name and password are secrets: neither the hook's return values nor
a printed request body show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def public_destination(reply: Mapping[str, Any]) -> dict[str, Any]:
    """A destination as Databricks shows it, minus any value that could be a secret.

    Keeps ``id``, ``display_name``, ``destination_type`` and the boolean flags of ``config``
    (``url_set``, ``username_set``, ...); every other config value is dropped.
    """
    view: dict[str, Any] = {
        key: reply[key] for key in ("id", "display_name", "destination_type") if key in reply
    }
    config = reply.get("config")
    if isinstance(config, Mapping):
        view["config"] = {
            kind: {name: value for name, value in inner.items() if isinstance(value, bool)}
            for kind, inner in config.items()
            if isinstance(inner, Mapping)
        }
    return view


class RedactedBody(dict[str, Any]):
    """A request body that shows no secret when printed.

    ``DatabricksHook._do_api_call`` logs each payload at DEBUG level with ``%s``; ``requests``
    still serializes the real content, as for any dict. The user name is not something Airflow
    masks (short or common words would be starred out all over the log), hence this.
    """

    def __repr__(self) -> str:
        kinds = dict.fromkeys(self.get("config") or {}, "<redacted>")
        return repr({"display_name": self.get("display_name"), "config": kinds})

    __str__ = __repr__


def mask_secret_value(secret: str | None) -> None:
    if secret:
        from airflow_gradient._compat import mask_secret

        mask_secret(secret)
