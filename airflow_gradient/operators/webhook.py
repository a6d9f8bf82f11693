"""GradientWebhookOperator: make a Databricks job tell Gradient when each of its runs starts.

Gradient learns from a job's runs through a Databricks notification destination listed in the
job's ``webhook_notifications.on_start``. This operator makes sure the destination exists and
that the job lists it, changing nothing else, and writing nothing when all is in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_gradient.core.webhooks import DEFAULT_DESTINATION_NAME
from airflow_gradient.exceptions import (
    DatabricksJobError,
    DestinationConfigurationError,
    ErrorBoundary,
)
from airflow_gradient.hook_properties import (
    DEFAULT_DATABRICKS_RETRY_DELAY,
    DEFAULT_DATABRICKS_RETRY_LIMIT,
    DatabricksHookProperty,
    GradientHookProperty,
)
from airflow_gradient.links import DatabricksJobLink

if TYPE_CHECKING:
    from airflow.sdk import Context


def _given(value: Any) -> bool:
    return value is not None and value != ""


def _source_problem(
    webhook_conn_id: Any, gradient_workspace_id: Any, destination: Any
) -> str | None:
    """What is wrong with the choice of destination source, or ``None``."""
    from_conn, from_workspace = _given(webhook_conn_id), _given(gradient_workspace_id)
    if from_conn and from_workspace:
        return (
            "give webhook_conn_id (create the destination from a connection) or "
            "gradient_workspace_id (use the destination Gradient registered), not both."
        )
    if not from_conn and not from_workspace:
        return (
            "say where the notification destination comes from: webhook_conn_id (an Airflow "
            "connection holding the webhook URL, user and password) or gradient_workspace_id "
            "(the Gradient workspace whose webhook_id is the destination)."
        )
    if from_workspace and destination is not None:
        return (
            "destination (a display name) goes with webhook_conn_id; with gradient_workspace_id "
            "the workspace's webhook_id picks the destination. Drop destination=."
        )
    if from_conn and destination is not None and not str(destination).strip():
        return "destination (the display name) is empty."
    return None


class GradientWebhookOperator(
    ErrorBoundary, GradientHookProperty, DatabricksHookProperty, BaseOperator
):
    """Make sure a Databricks job's start webhook reaches Gradient.

    Ensures that the notification destination exists and that the job's job-level
    ``webhook_notifications.on_start`` lists it. Idempotent: a destination that exists is
    reused as it is (its URL and credentials are not updated), and a job that lists it
    already is not written. Every other notification of the job (the other ``on_start``
    entries, the other events, ``email_notifications``, task-level notifications) is kept.
    Databricks allows 3 destinations per event: a full ``on_start`` fails the task before
    anything is written. The update is ``jobs/update`` with the whole
    ``webhook_notifications`` object only.

    The destination comes from exactly one source:

    * ``webhook_conn_id``: the destination named ``destination`` is looked up; if there is none
      it is created (workspace admin needed) from the connection: host = webhook URL,
      login/password = basic-auth user and password (both optional).
    * ``gradient_workspace_id``: the destination is the Gradient workspace's ``webhook_id``
      (the one Gradient created when the workspace was onboarded); it must exist.

    Returns (XCom) ``{"job_id", "destination_id", "destination_created", "job_updated"}``.
    The webhook URL, user and password are never logged, returned or put in an error.

    :param job_id: Databricks job id (templated). Give this or ``job_name``.
    :param job_name: Databricks job name (templated), looked up when ``job_id`` is not given.
    :param destination: display name of the notification destination to find or create
        (templated; default ``"Gradient"``). Only with ``webhook_conn_id``.
    :param webhook_conn_id: Airflow connection (type ``http`` or ``generic``) whose host is the
        webhook URL and whose login/password are its basic-auth user and password (templated).
    :param gradient_workspace_id: Databricks workspace id as registered in Gradient (templated);
        its ``webhook_id`` is the destination to wire.
    :param gradient_conn_id: connection of type ``gradient`` (with ``gradient_workspace_id``;
        templated).
    :param databricks_conn_id: connection of type ``databricks`` (templated).
    :param gradient_hook_params: keyword arguments for :class:`GradientHook` (timeouts, retries).
    :param databricks_retry_limit: attempts of each Databricks call in all (default 3), as for
        ``DatabricksRunNowOperator``.
    :param databricks_retry_delay: seconds between Databricks attempts (default 1).
    :param databricks_retry_args: tenacity ``Retrying`` arguments for the Databricks calls,
        replacing ``databricks_retry_limit``/``databricks_retry_delay``.
    :param databricks_hook_params: other keyword arguments for the Databricks hook
        (``timeout_seconds``, ``max_retry_after``). Its retry keys (``retry_limit``,
        ``retry_delay``, ``retry_args``) are deprecated (removed in the next release): they
        still win over the ``databricks_retry_*`` arguments, with a deprecation warning.
    """

    template_fields: Sequence[str] = (
        "job_id",
        "job_name",
        "destination",
        "webhook_conn_id",
        "gradient_workspace_id",
        "gradient_conn_id",
        "databricks_conn_id",
    )
    operator_extra_links = (DatabricksJobLink(),)
    ui_color = "#7B61FF"
    ui_fgcolor = "#fff"

    def __init__(
        self,
        *,
        job_id: int | str | None = None,
        job_name: str | None = None,
        destination: str | None = None,
        webhook_conn_id: str | None = None,
        gradient_workspace_id: str | int | None = None,
        gradient_conn_id: str = "gradient_default",
        databricks_conn_id: str = "databricks_default",
        gradient_hook_params: Mapping[str, Any] | None = None,
        databricks_retry_limit: int = DEFAULT_DATABRICKS_RETRY_LIMIT,
        databricks_retry_delay: float = DEFAULT_DATABRICKS_RETRY_DELAY,
        databricks_retry_args: Mapping[str, Any] | None = None,
        databricks_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if _given(job_id) and _given(job_name):
            raise ValueError(f"{self.task_id}: give job_id or job_name, not both.")
        if not _given(job_id) and not _given(job_name):
            raise ValueError(f"{self.task_id}: give job_id or job_name of the Databricks job.")
        problem = _source_problem(webhook_conn_id, gradient_workspace_id, destination)
        if problem:
            raise ValueError(f"{self.task_id}: {problem}")
        self.job_id = job_id
        self.job_name = job_name
        self.destination = destination
        self.webhook_conn_id = webhook_conn_id
        self.gradient_workspace_id = gradient_workspace_id
        self.gradient_conn_id = gradient_conn_id
        self.databricks_conn_id = databricks_conn_id
        self.gradient_hook_params = dict(gradient_hook_params or {})
        self.set_databricks_hook_params(
            retry_limit=databricks_retry_limit,
            retry_delay=databricks_retry_delay,
            retry_args=databricks_retry_args,
            hook_params=databricks_hook_params,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_gradient.core.webhooks import event_destination_ids, wire_on_start

        problem = _source_problem(
            self.webhook_conn_id, self.gradient_workspace_id, self.destination
        )
        if problem:
            raise DestinationConfigurationError(f"{self.task_id}: after rendering, {problem}")
        hook = self.databricks_hook
        job_id = hook.resolve_job_id(job_id=self.job_id, job_name=self.job_name)
        DatabricksJobLink.persist(context, hook.job_url(job_id))
        notifications = hook.get_job_webhook_notifications(job_id)

        if _given(self.gradient_workspace_id):
            destination, created = self._workspace_destination(), False
        else:
            destination, created = self._named_destination(notifications, job_id)
        destination_id = str(destination["id"])
        label = f"{destination_id} ({destination.get('display_name')!r})"

        wired = wire_on_start(notifications, destination_id, job_id=job_id)
        if wired is None:
            self.log.info(
                "Databricks job %s already sends on_start to destination %s: nothing to write.",
                job_id,
                label,
            )
        else:
            hook.set_job_webhook_notifications(job_id, wired)
            after = event_destination_ids(hook.get_job_webhook_notifications(job_id), job_id=job_id)
            if destination_id not in after:
                raise DatabricksJobError(
                    f"After jobs/update, Databricks job {job_id} does not list destination "
                    f"{destination_id} in webhook_notifications.on_start (found: "
                    f"{', '.join(after) or 'none'}). Another writer changed the job meanwhile; "
                    "run this task again."
                )
            self.log.info(
                "Databricks job %s now sends on_start to destination %s; on_start is %s and "
                "every other notification is unchanged.",
                job_id,
                label,
                after,
            )
        return {
            "job_id": job_id,
            "destination_id": destination_id,
            "destination_created": created,
            "job_updated": wired is not None,
        }

    # --- where the destination comes from ------------------------------------------------------

    def _named_destination(
        self, notifications: Mapping[str, Any], job_id: int
    ) -> tuple[dict[str, Any], bool]:
        """The destination named ``destination``, created from the connection if missing."""
        from airflow_gradient.core.webhooks import (
            check_room_on_start,
            describe_url,
            find_destination,
        )
        from airflow_gradient.exceptions import DestinationExistsError

        hook = self.databricks_hook
        name = str(self.destination or DEFAULT_DESTINATION_NAME)
        found = find_destination(hook.iter_destinations(), name)
        if found is not None:
            self.log.info(
                "Notification destination %r exists (id %s, type %s): reused as it is; its URL "
                "and credentials are not updated from connection %r.",
                name,
                found["id"],
                found.get("destination_type", "unknown"),
                self.webhook_conn_id,
            )
            return found, False

        # A full on_start must fail before anything is written, the destination included.
        check_room_on_start(notifications, job_id=job_id, destination=f"destination {name!r}")
        url, username, password = self._webhook_credentials()
        try:
            created = hook.create_webhook_destination(
                name, url, username=username, password=password
            )
        except DestinationExistsError:
            # Another task created it between our lookup and our create: use theirs.
            found = find_destination(hook.iter_destinations(), name)
            if found is None:
                raise DestinationConfigurationError(
                    f"Databricks refused to create notification destination {name!r} because "
                    "one of that name exists, but the list does not show it. Check that the "
                    "connection's identity can see every destination (workspace admin)."
                ) from None
            self.log.info(
                "Notification destination %r was created meanwhile by another writer (id %s): "
                "reused as it is.",
                name,
                found["id"],
            )
            return found, False
        self.log.info(
            "Created notification destination %r (id %s) for the webhook at %s from connection "
            "%r (user set: %s, password set: %s).",
            name,
            created["id"],
            describe_url(url),
            self.webhook_conn_id,
            bool(username),
            bool(password),
        )
        return created, True

    def _webhook_credentials(self) -> tuple[str, str | None, str | None]:
        """Webhook URL, user and password from ``webhook_conn_id``."""
        from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

        from airflow_gradient.core.webhooks import webhook_url

        conn_id = str(self.webhook_conn_id)
        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            raise DestinationConfigurationError(
                f"Airflow connection {conn_id!r} (webhook_conn_id) does not exist. Create it "
                "(type http) with host = the webhook URL and login/password = its basic-auth "
                "user and password, or pass gradient_workspace_id to use the destination "
                "Gradient registered."
            ) from None
        url = webhook_url(conn.host, conn.schema, conn.port, conn_id=conn_id)
        return url, conn.login or None, conn.password or None

    def _workspace_destination(self) -> dict[str, Any]:
        """The destination named by the Gradient workspace's ``webhook_id``; it must exist."""
        from airflow_gradient.exceptions import GradientApiError

        workspace_id = str(self.gradient_workspace_id)
        try:
            workspace = self.gradient_hook.get_workspace(workspace_id)
        except GradientApiError as err:
            if err.status != 404:
                raise
            raise DestinationConfigurationError(
                f"Gradient knows no Databricks workspace {workspace_id} ({err.api_message}). "
                "Check gradient_workspace_id (the Databricks workspace id as onboarded in "
                f"Gradient) and connection {self.gradient_conn_id!r}."
            ) from err
        webhook_id = workspace.get("webhook_id")
        if not isinstance(webhook_id, str) or not webhook_id.strip():
            raise DestinationConfigurationError(
                f"Gradient workspace {workspace_id} has no webhook_id: Gradient has no "
                "notification destination in this workspace yet. Finish the workspace's "
                "onboarding in Gradient, or pass webhook_conn_id to create the destination "
                "from an Airflow connection instead."
            )
        found = self.databricks_hook.get_destination(webhook_id)
        if found is None:
            raise DestinationConfigurationError(
                f"Gradient workspace {workspace_id} has webhook_id {webhook_id}, but the "
                f"Databricks workspace of connection {self.databricks_conn_id!r} has no "
                "notification destination with that id (deleted, or another workspace). "
                "Re-run the workspace onboarding in Gradient, or check that both connections "
                "point at the same workspace."
            )
        self.log.info(
            "Gradient workspace %s listens on notification destination %s (%r).",
            workspace_id,
            found["id"],
            found.get("display_name"),
        )
        return found
