"""Databricks notification destinations, and the one job field that points at them.

:class:`NotificationDestinationsHook` extends
:class:`~airflow_gradient.hooks.databricks_jobs.DatabricksJobsHook` (hence the databricks
provider's ``DatabricksHook``: every auth mode, its retry policy) with the
``/api/2.0/notification-destinations`` endpoints and a read/write of a job's
``webhook_notifications``. One hook, one connection and one token serve both APIs.

Secrets: a destination's URL, user name and password go to Databricks in the create request
and nowhere else. They are masked in Airflow's logs before the request is sent, are never put
in a log line or an exception message here, and are stripped from what the methods return
(Databricks itself only answers ``*_set`` flags for them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_gradient.exceptions import (
    DatabricksJobError,
    DestinationExistsError,
    NotificationDestinationError,
)
from airflow_gradient.hooks.databricks_jobs import (
    GET_JOB_ENDPOINT,
    UPDATE_JOB_ENDPOINT,
    DatabricksJobsHook,
)

if TYPE_CHECKING:
    import requests

DESTINATIONS_ENDPOINT = "2.0/notification-destinations"
#: Guard against a server that never stops handing out page tokens.
MAX_DESTINATION_PAGES = 100
#: Error codes Databricks answers for a destination that does not exist.
NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
#: Error codes Databricks answers when a destination of that name exists already.
CONFLICT_CODES = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS", "RESOURCE_CONFLICT"})


def _error_facts(err: requests.HTTPError) -> tuple[int, str, str]:
    """HTTP status, Databricks ``error_code`` and ``message`` of a failed reply."""
    response = err.response
    status = response.status_code if response is not None else 0
    try:
        body = response.json() if response is not None else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        return status, str(body.get("error_code") or ""), str(body.get("message") or "")
    return status, "", ""


def _scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


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


class _RedactedBody(dict[str, Any]):
    """A request body that shows no secret when printed.

    ``DatabricksHook._do_api_call`` logs each payload at DEBUG level with ``%s``; ``requests``
    still serializes the real content, as for any dict. The user name is not something Airflow
    masks (short or common words would be starred out all over the log), hence this.
    """

    def __repr__(self) -> str:
        kinds = dict.fromkeys(self.get("config") or {}, "<redacted>")
        return repr({"display_name": self.get("display_name"), "config": kinds})

    __str__ = __repr__


def _mask(secret: str | None) -> None:
    if secret:
        from airflow_gradient._compat import mask_secret

        mask_secret(secret)


class NotificationDestinationsHook(DatabricksJobsHook):
    """``DatabricksJobsHook`` plus notification destinations and a job's webhooks.

    Takes the same arguments as ``DatabricksHook`` (``databricks_conn_id``, ``retry_limit``,
    ``retry_delay``, ``retry_args``, ``timeout_seconds``, ``caller``).
    """

    hook_name = "Databricks (Gradient notification destinations)"

    def _request(self, endpoint: tuple[str, str], payload: dict[str, Any] | None = None) -> Any:
        """``_do_api_call`` that leaves HTTP errors unwrapped, so their status can be read."""
        return self._do_api_call(endpoint, payload, wrap_http_errors=False)

    # --- destinations -------------------------------------------------------------------------

    def iter_destinations(self) -> Iterator[dict[str, Any]]:
        """Every notification destination (``id``, ``display_name``, ``destination_type``),
        following ``next_page_token`` over every page of the list."""
        import requests

        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_DESTINATION_PAGES):
            params = {"page_token": token} if token else {}
            try:
                reply = self._request(("GET", DESTINATIONS_ENDPOINT), params)
            except requests.HTTPError as err:
                status, code, message = _error_facts(err)
                raise NotificationDestinationError(
                    f"Listing the Databricks notification destinations failed (HTTP {status} "
                    f"{code}: {message}). The connection's identity needs to see the workspace's "
                    "notification destinations."
                ) from None
            if not isinstance(reply, dict):
                raise NotificationDestinationError(
                    "Databricks answered the notification destinations list with "
                    f"{type(reply).__name__}, not an object. Is the connection's host a "
                    "Databricks workspace?"
                )
            for item in reply.get("results") or []:
                if isinstance(item, dict):
                    yield public_destination(item)
            token = reply.get("next_page_token") or None
            if token is None:
                return
            if token in seen:
                break
            seen.add(token)
        raise NotificationDestinationError(
            f"The Databricks notification destinations list did not end after "
            f"{MAX_DESTINATION_PAGES} pages; stopped reading. Is the connection's host a "
            "Databricks workspace?"
        )

    def list_destinations(self) -> list[dict[str, Any]]:
        """Every notification destination, all pages joined (see :meth:`iter_destinations`)."""
        return list(self.iter_destinations())

    def get_destination(self, destination_id: str) -> dict[str, Any] | None:
        """One destination (secrets stripped), or ``None`` if Databricks has none of that id."""
        import requests

        try:
            reply = self._request(
                ("GET", f"{DESTINATIONS_ENDPOINT}/{quote(destination_id, safe='')}")
            )
        except requests.HTTPError as err:
            status, code, message = _error_facts(err)
            if status == 404 or code in NOT_FOUND_CODES:
                return None
            raise NotificationDestinationError(
                f"Reading Databricks notification destination {destination_id} failed (HTTP "
                f"{status} {code}: {message})."
            ) from None
        if not isinstance(reply, dict) or not reply.get("id"):
            raise NotificationDestinationError(
                f"Databricks answered notification destination {destination_id} with no id. "
                "Is the connection's host a Databricks workspace?"
            )
        return public_destination(reply)

    def create_webhook_destination(
        self,
        display_name: str,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> dict[str, Any]:
        """Create a generic-webhook destination; return it with its secrets stripped.

        The provider's hook logs request payloads at DEBUG level: the body prints redacted, and
        the URL and password are also given to Airflow's secrets masker first.

        :raises DestinationExistsError: a destination named ``display_name`` exists already.
        """
        import requests

        _mask(url)
        _mask(password)
        webhook: dict[str, Any] = {"url": url}
        if username:
            webhook["username"] = username
        if password:
            webhook["password"] = password
        body = _RedactedBody(display_name=display_name, config={"generic_webhook": webhook})
        try:
            reply = self._request(("POST", DESTINATIONS_ENDPOINT), body)
        except requests.HTTPError as err:
            status, code, message = _error_facts(err)
            message = _scrub(message, (url, username, password))
            if status == 409 or code in CONFLICT_CODES:
                raise DestinationExistsError(
                    f"Databricks notification destination {display_name!r} exists already "
                    f"(HTTP {status} {code})."
                ) from None
            raise NotificationDestinationError(
                f"Creating Databricks notification destination {display_name!r} failed (HTTP "
                f"{status} {code}: {message}). Creating destinations needs a workspace admin; "
                "an admin can also create it once by hand with this display name."
            ) from None
        if not isinstance(reply, dict) or not reply.get("id"):
            raise NotificationDestinationError(
                f"Databricks created notification destination {display_name!r} but answered "
                "no id. Look it up in the workspace settings (Notifications)."
            )
        return public_destination(reply)

    def job_url(self, job_id: int) -> str:
        """The job's page in the Databricks workspace UI."""
        return str(self._endpoint_url(f"jobs/{job_id}"))  # type: ignore[no-untyped-call]

    # --- the job's webhook_notifications -------------------------------------------------------

    def get_job_webhook_notifications(self, job_id: int) -> dict[str, Any]:
        """The job-level ``webhook_notifications`` (``{}`` when the job has none).

        Reads the first page of ``jobs/get`` only: the field is not one of the paged arrays.
        """
        import requests

        try:
            reply = self._request(GET_JOB_ENDPOINT, {"job_id": job_id})
        except requests.HTTPError as err:
            status, code, message = _error_facts(err)
            if status == 404 or code in NOT_FOUND_CODES or "does not exist" in message:
                raise DatabricksJobError(
                    f"Databricks job {job_id} does not exist (HTTP {status} {code}: {message}). "
                    "Check job_id, and that the connection points at the job's workspace."
                ) from None
            raise DatabricksJobError(
                f"Reading Databricks job {job_id} failed (HTTP {status} {code}: {message})."
            ) from None
        settings = reply.get("settings") if isinstance(reply, dict) else None
        if not isinstance(settings, dict):
            raise DatabricksJobError(
                f"Databricks job {job_id}: jobs/get returned no settings object. Check that "
                "the Databricks connection points at a Databricks workspace."
            )
        notifications = settings.get("webhook_notifications")
        if notifications is None:
            return {}
        if not isinstance(notifications, dict):
            raise DatabricksJobError(
                f"Databricks job {job_id}: webhook_notifications is a "
                f"{type(notifications).__name__}, not an object."
            )
        return notifications

    def set_job_webhook_notifications(
        self, job_id: int, webhook_notifications: Mapping[str, Any]
    ) -> None:
        """``jobs/update`` with the whole ``webhook_notifications`` object and nothing else.

        It is a top-level field: Databricks replaces it whole and keeps every other setting.
        """
        import requests

        try:
            new_settings = {"webhook_notifications": dict(webhook_notifications)}
            self._request(UPDATE_JOB_ENDPOINT, {"job_id": job_id, "new_settings": new_settings})
        except requests.HTTPError as err:
            status, code, message = _error_facts(err)
            raise DatabricksJobError(
                f"Updating webhook_notifications of Databricks job {job_id} failed (HTTP "
                f"{status} {code}: {message}). The connection's identity needs CAN_MANAGE on "
                "the job."
            ) from None
