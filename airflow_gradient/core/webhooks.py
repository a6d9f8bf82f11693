"""Wiring a Databricks job's ``on_start`` webhook to the destination Gradient listens on.

Pure functions over the JSON shapes of the Databricks APIs (a job's ``webhook_notifications``,
the items of ``GET /api/2.0/notification-destinations``) and of an Airflow connection's
fields: no I/O, no clock. :class:`~airflow_gradient.operators.webhook.GradientWebhookOperator`
fetches, calls these to decide, and writes what they return.

``webhook_notifications`` is a top-level field of the job settings: ``jobs/update`` replaces
it whole, so every change is computed on, and sent as, the complete object.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_gradient.core.errors import (
    DatabricksJobError,
    DestinationConfigurationError,
    NotificationDestinationError,
    WebhookLimitError,
)

__all__ = [
    "check_room_on_start",
    "describe_url",
    "event_destination_ids",
    "find_destination",
    "webhook_url",
    "wire_on_start",
]

ON_START = "on_start"
"""The job event Gradient needs to hear about: a run of the job started."""

MAX_DESTINATIONS_PER_EVENT = 3
"""Databricks accepts at most this many destinations per event of ``webhook_notifications``."""

DEFAULT_DESTINATION_NAME = "Gradient"
"""Display name of the destination created from a webhook connection unless told otherwise."""


# --- the job side -----------------------------------------------------------------------------


def _event_list(
    webhook_notifications: Mapping[str, Any] | None, event: str, job_id: int | str | None
) -> list[Any]:
    if webhook_notifications is None:
        return []
    if not isinstance(webhook_notifications, Mapping):
        raise DatabricksJobError(
            f"Databricks job {job_id}: webhook_notifications is a "
            f"{type(webhook_notifications).__name__}, not an object. Check the job's settings."
        )
    entries = webhook_notifications.get(event)
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise DatabricksJobError(
            f"Databricks job {job_id}: webhook_notifications.{event} is a "
            f"{type(entries).__name__}, not a list of {{'id': ...}}. Check the job's settings."
        )
    return entries


def event_destination_ids(
    webhook_notifications: Mapping[str, Any] | None,
    event: str = ON_START,
    *,
    job_id: int | str | None = None,
) -> list[str]:
    """The destination ids listed for ``event`` (entries without an ``id`` are skipped)."""
    return [
        str(entry["id"])
        for entry in _event_list(webhook_notifications, event, job_id)
        if isinstance(entry, Mapping) and entry.get("id")
    ]


def check_room_on_start(
    webhook_notifications: Mapping[str, Any] | None,
    *,
    job_id: int | str | None = None,
    destination: str = "the destination",
) -> None:
    """Raise :class:`WebhookLimitError` if ``on_start`` cannot take one more destination.

    Called before a destination is created, so that a full job costs no write at all.

    :param destination: how to name the destination in the message (id or display name).
    """
    entries = _event_list(webhook_notifications, ON_START, job_id)
    if len(entries) < MAX_DESTINATIONS_PER_EVENT:
        return
    listed = ", ".join(event_destination_ids(webhook_notifications, job_id=job_id)) or "no ids"
    raise WebhookLimitError(
        f"Databricks job {job_id}: webhook_notifications.{ON_START} already has {len(entries)} "
        f"destinations ({listed}), the most Databricks allows per event, and {destination} is "
        f"not one of them. Remove one from the job's start notifications (Jobs UI: Job "
        f"notifications), then run this task again. Nothing was changed."
    )


def wire_on_start(
    webhook_notifications: Mapping[str, Any] | None,
    destination_id: str,
    *,
    job_id: int | str | None = None,
) -> dict[str, Any] | None:
    """The whole new ``webhook_notifications`` with ``destination_id`` in ``on_start``.

    Returns ``None`` when ``on_start`` already lists the destination (nothing to write). Every
    other event, every other ``on_start`` entry and their order are kept; the new entry is
    appended. Raises :class:`WebhookLimitError` when ``on_start`` is full.
    """
    if not destination_id:
        raise DestinationConfigurationError("The notification destination id is empty.")
    if destination_id in event_destination_ids(webhook_notifications, job_id=job_id):
        return None
    check_room_on_start(
        webhook_notifications, job_id=job_id, destination=f"destination {destination_id}"
    )
    wired: dict[str, Any] = copy.deepcopy(dict(webhook_notifications or {}))
    wired[ON_START] = [*(wired.get(ON_START) or []), {"id": destination_id}]
    return wired


# --- the destination side ---------------------------------------------------------------------


def find_destination(
    destinations: Iterable[Mapping[str, Any]], display_name: str
) -> dict[str, Any] | None:
    """The destination whose ``display_name`` is exactly ``display_name``, or ``None``.

    :param destinations: the ``results`` of every page of the destinations list.
    :raises NotificationDestinationError: several destinations carry that name, so the name
        does not say which one to use.
    """
    matches = [
        dict(d)
        for d in destinations
        if isinstance(d, Mapping) and d.get("display_name") == display_name
    ]
    if len(matches) > 1:
        ids = ", ".join(str(d.get("id")) for d in matches)
        raise DestinationConfigurationError(
            f"{len(matches)} Databricks notification destinations are named {display_name!r} "
            f"(ids {ids}), so the name does not say which one to use. Rename or delete the "
            "extra ones in the workspace settings (Notifications), then run this task again."
        )
    if not matches:
        return None
    found = matches[0]
    if not found.get("id"):
        raise NotificationDestinationError(
            f"Databricks listed the notification destination {display_name!r} without an id."
        )
    return found


def webhook_url(host: str | None, schema: str | None, port: int | None, *, conn_id: str) -> str:
    """The webhook URL held by an Airflow connection's host (and schema, port).

    The host should hold the whole URL (``https://hooks.example.com/gradient``). A bare host
    name is completed with the schema as scheme (``http``/``https``, default ``https``) and the
    port. The message of an error never repeats the URL: it may carry a token.
    """
    raw = (host or "").strip()
    if not raw:
        raise DestinationConfigurationError(
            f"Airflow connection {conn_id!r} has no host: set host to the webhook URL "
            "(https://...), login and password to its basic-auth user and password."
        )
    if "://" not in raw:
        scheme = (schema or "https").strip().lower()
        if scheme not in ("http", "https"):
            raise DestinationConfigurationError(
                f"Airflow connection {conn_id!r} has a bare host name and schema {schema!r}, "
                "which is not http or https: put the whole webhook URL (https://...) in host."
            )
        raw = f"{scheme}://{raw}{f':{port}' if port else ''}"
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise DestinationConfigurationError(
            f"Airflow connection {conn_id!r}: host is not an http(s) URL with a host name "
            f"(scheme {parts.scheme or 'none'!r}). Put the whole webhook URL (https://...) in "
            "host, and the basic-auth user and password in login and password."
        )
    if parts.username is not None or parts.password is not None:
        raise DestinationConfigurationError(
            f"Airflow connection {conn_id!r}: the webhook URL in host carries a user or "
            "password. Move them to the connection's login and password fields."
        )
    return raw


def describe_url(url: str) -> str:
    """Only ``scheme://host[:port]`` of a URL, safe to log (paths and queries carry tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme or '?'}://{host}{f':{port}' if port else ''}"
