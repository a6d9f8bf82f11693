"""Notification destinations of the emulated workspace: state and Python API.

Stored with their secrets (for assertions); every view the API gives replaces them with
``*_set`` flags.
"""

from __future__ import annotations

import copy
import threading
import uuid
from typing import Any

from airflow_gradient.sandbox import validation
from airflow_gradient.sandbox.databricks.views import destination_view
from airflow_gradient.sandbox.errors import ConflictError, NotFoundError, ValidationError

DESTINATION_TYPES = {"generic_webhook": "WEBHOOK"}


class DestinationsBackend:
    """The destinations half of :class:`~.backend.DatabricksBackend`.

    :param lock: the sandbox-wide lock guarding all state.
    """

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._destinations: dict[str, dict[str, Any]] = {}

    def _clear_destinations(self) -> None:
        with self._lock:
            self._destinations.clear()

    def _destination(self, destination_id: str) -> dict[str, Any]:
        destination = self._destinations.get(destination_id)
        if destination is None:
            raise NotFoundError(
                f"Notification destination {destination_id} does not exist.",
                status=404,
                code="RESOURCE_DOES_NOT_EXIST",
            )
        return destination

    def create_destination(
        self,
        display_name: str,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        destination_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a generic-webhook destination; return the API view (no secrets)."""
        webhook: dict[str, Any] = {"url": url}
        if username is not None:
            webhook["username"] = username
        if password is not None:
            webhook["password"] = password
        return self.create_destination_from_body(
            {"display_name": display_name, "config": {"generic_webhook": webhook}},
            destination_id,
        )

    def create_destination_from_body(
        self, body: dict[str, Any], destination_id: str | None = None
    ) -> dict[str, Any]:
        """Create a destination from a ``POST /api/2.0/notification-destinations`` body."""
        unknown = set(body) - {"display_name", "config"}
        if unknown:
            raise ValidationError(f"Unknown field '{sorted(unknown)[0]}'")
        display_name = body.get("display_name")
        if not isinstance(display_name, str) or not display_name:
            raise ValidationError("display_name is required")
        kind, inner = validation.check_notification_config(body.get("config"))
        with self._lock:
            if any(d["display_name"] == display_name for d in self._destinations.values()):
                raise ConflictError(
                    f"Notification destination with name {display_name!r} already exists."
                )
            new_id = destination_id or str(uuid.uuid4())
            self._destinations[new_id] = {
                "id": new_id,
                "display_name": display_name,
                "destination_type": DESTINATION_TYPES.get(kind, kind.upper()),
                "kind": kind,
                "config": copy.deepcopy(inner),
            }
            return destination_view(self._destinations[new_id])

    @property
    def destinations(self) -> list[dict[str, Any]]:
        """Every destination as stored, secrets included (for assertions in tests)."""
        with self._lock:
            return [copy.deepcopy(d) for d in self._destinations.values()]

    def destination_summaries(self) -> list[dict[str, Any]]:
        """Every destination as the list endpoint shows it (no config), oldest first."""
        with self._lock:
            return [destination_view(d, summary=True) for d in self._destinations.values()]

    def get_destination(self, destination_id: str) -> dict[str, Any]:
        """A destination as the API shows it (secrets replaced by ``*_set`` flags)."""
        with self._lock:
            return destination_view(self._destination(destination_id))

    def update_destination(self, destination_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a ``PATCH`` body (display name and/or config of the same type)."""
        unknown = set(body) - {"display_name", "config"}
        if unknown:
            raise ValidationError(f"Unknown field '{sorted(unknown)[0]}'")
        with self._lock:
            destination = self._destination(destination_id)
            if "config" in body:
                kind, inner = validation.check_notification_config(body["config"])
                if kind != destination["kind"]:
                    raise ValidationError(
                        f"Cannot change the type of destination {destination['id']} "
                        f"from {destination['kind']} to {kind}"
                    )
                destination["config"].update(copy.deepcopy(inner))
            if "display_name" in body:
                if not isinstance(body["display_name"], str) or not body["display_name"]:
                    raise ValidationError("display_name must be a non-empty string")
                destination["display_name"] = body["display_name"]
            return destination_view(destination)

    def delete_destination(self, destination_id: str) -> None:
        """Delete a destination."""
        with self._lock:
            self._destination(destination_id)
            del self._destinations[destination_id]
