"""The one Databricks hook of airflow-gradient: jobs and notification destinations.

:class:`GradientDatabricksHook` subclasses the databricks provider's ``DatabricksHook``, so it
keeps every auth mode of the provider (PAT, Azure SPN, managed identity, OAuth M2M, federated
tokens), its retry policy and its public methods (``update_job``, ``find_job_id_by_name``). It
adds only what the provider lacks: a whole ``jobs/get`` (paged at 100 items), the
``/api/2.0/notification-destinations`` endpoints (paged list), ``Retry-After`` on 429/503, a
WARNING line for every retry, and one error mapping: every failure becomes a
:class:`~airflow_gradient.exceptions.GradientError` that names the object and the remedy.

Secrets: a destination's URL, user name and password go to Databricks in the create request and
nowhere else. They are masked in Airflow's logs before the request is sent, never put in a log
line or an exception message here, and stripped from what the methods return (Databricks
itself only answers ``*_set`` flags for them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

from airflow.providers.common.compat.sdk import AirflowException
from airflow.providers.databricks.hooks.databricks import (
    LIST_JOBS_ENDPOINT,
    UPDATE_ENDPOINT,
    DatabricksHook,
)

from airflow_gradient._compat import SerialConnectionLookup, mask_secret
from airflow_gradient.exceptions import (
    DatabricksJobError,
    DatabricksRequestRefusedError,
    DestinationConfigurationError,
    DestinationExistsError,
    GradientError,
    InvalidJobReferenceError,
    NotificationDestinationError,
)
from airflow_gradient.hooks.gradient_base import (
    USER_AGENT,
    bounded_wait,
    log_retry,
    parse_retry_after,
)

GET_JOB_ENDPOINT = ("GET", "2.2/jobs/get")
LIST_RUNS_ENDPOINT = ("GET", "2.2/jobs/runs/list")
#: runs/list answers at most 25 runs a page.
RUNS_PAGE_SIZE = 25
DESTINATIONS_ENDPOINT = "2.0/notification-destinations"
#: Guards against a server that never stops handing out page tokens.
MAX_DESTINATION_PAGES = 100
MAX_JOB_PAGES = 100
#: Arrays of ``settings`` that ``jobs/get`` pages (100 items a page).
PAGED_ARRAYS = ("tasks", "job_clusters", "parameters", "environments")
#: Keyed arrays: Databricks keeps these keys unique within a job.
KEYED_ARRAYS = (("tasks", "task_key"), ("job_clusters", "job_cluster_key"))
#: Default cap in seconds on a ``Retry-After`` that Databricks asks for on 429/503.
DEFAULT_MAX_RETRY_AFTER = 30.0
#: Error codes Databricks answers for an object that does not exist.
NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
#: HTTP statuses of a request Databricks refuses as such: sending it again gets the same.
REFUSED_STATUSES = frozenset({400, 401, 403, 404, 405, 413, 422})
#: The permanent class of each error class :meth:`GradientDatabricksHook._call` raises.
REFUSED_ERRORS: dict[type[GradientError], type[GradientError]] = {
    DatabricksJobError: DatabricksRequestRefusedError,
    NotificationDestinationError: DestinationConfigurationError,
}
#: Error codes Databricks answers when an object of that name exists already.
CONFLICT_CODES = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS", "RESOURCE_CONFLICT"})


@dataclass(frozen=True)
class DatabricksFailure:
    """What a failed request tells: the HTTP status, Databricks error and ``Retry-After``, if a
    reply came (a ``requests`` error, one chained to an ``AirflowException``, or aiohttp's)."""

    error: BaseException
    status: int | None = None
    code: str = ""
    message: str = ""
    retry_after: float | None = None

    @classmethod
    def of(cls, err: BaseException) -> DatabricksFailure:
        response = getattr(err, "response", None)
        if response is None and err.__cause__ is not None:
            response = getattr(err.__cause__, "response", None)
        status = getattr(response, "status_code", None) or getattr(err, "status", None)
        headers = getattr(response, "headers", None) or getattr(err, "headers", None)
        retry_after = parse_retry_after(headers.get("Retry-After") if headers else None)
        if not isinstance(status, int):
            return cls(err, retry_after=retry_after)
        try:
            body = response.json() if response is not None else None
        except ValueError:
            body = None
        if not isinstance(body, Mapping):
            return cls(err, status, retry_after=retry_after)
        code, message = str(body.get("error_code") or ""), str(body.get("message") or "")
        return cls(err, status, code, message, retry_after)

    @property
    def reason(self) -> str:
        """For the retry log: ``HTTP <status> <error_code>``, or the exception's type when no
        reply came; never the reply's message or a header."""
        if self.status is None:
            return type(self.error).__name__
        return f"HTTP {self.status} {self.code}".rstrip()

    @property
    def request(self) -> str:
        """For the retry log: ``METHOD /path`` of the request (the query left out)."""
        request = getattr(self.error, "request", None)
        if request is None:
            request = getattr(getattr(self.error, "response", None), "request", None)
        method, url = getattr(request, "method", None), getattr(request, "url", None)
        if not method or not isinstance(url, str):
            return "API request"
        return f"{method} {urlsplit(url).path}"

    @property
    def missing(self) -> bool:
        return (
            self.status == 404 or self.code in NOT_FOUND_CODES or "does not exist" in self.message
        )

    @property
    def conflict(self) -> bool:
        return self.status == 409 or self.code in CONFLICT_CODES

    def describe(self, what: str, endpoint: tuple[str, str], conn_id: str, hint: str) -> str:
        """The one message for a failed call on ``what`` (e.g. ``Databricks job 7``)."""
        call = f"{endpoint[0]} /api/{endpoint[1]}"
        hint = f" {hint}" if hint else ""
        if self.status is not None and (self.code or self.message):
            facts = f"HTTP {self.status} {self.code}: {self.message}".replace("  ", " ")
            if self.missing:
                return (
                    f"{what} does not exist ({facts}). Check the id, and that connection "
                    f"{conn_id!r} points at its workspace."
                )
            return f"{what}: {call} failed ({facts}).{hint}"
        if self.status is not None:
            return (
                f"{what}: {call} failed (HTTP {self.status}, and the reply is not a Databricks "
                f"error: {_short(self.error)}). Is the host of connection {conn_id!r} a "
                "Databricks workspace?"
            )
        if isinstance(self.error, AirflowException):  # retries ran out, or the provider refused
            return f"{what}: {call} failed: {_short(self.error, 400)}{hint}"
        return (
            f"{what}: {call} got no usable reply ({type(self.error).__name__}: "
            f"{_short(self.error)}). Check that connection {conn_id!r} points at a Databricks "
            "workspace."
        )


class GradientDatabricksHook(SerialConnectionLookup, DatabricksHook):
    """``DatabricksHook`` plus a whole ``get_job``, notification destinations and a job's
    webhooks, with every failure mapped one way.

    Takes the arguments of ``DatabricksHook`` (``databricks_conn_id``, ``timeout_seconds``,
    ``retry_limit``, ``retry_delay``, ``retry_args``, ``caller``) and:

    :param max_retry_after: cap in seconds on a ``Retry-After`` header honoured between
        retries (the provider's own back-off ignores the header).
    """

    hook_name = "Databricks (Gradient)"

    def __init__(
        self, *args: Any, max_retry_after: float = DEFAULT_MAX_RETRY_AFTER, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_after = float(max_retry_after)
        self.retry_args["wait"] = HonourRetryAfter(
            self.retry_args.get("wait"), self.max_retry_after
        )
        user_before_sleep = self.retry_args.get("before_sleep")

        def before_sleep(retry_state: Any) -> None:
            self._log_retry(retry_state)
            if user_before_sleep is not None:
                user_before_sleep(retry_state)

        self.retry_args["before_sleep"] = before_sleep

    @cached_property
    def user_agent_value(self) -> str:
        """The provider's User-Agent (its version, Python, OS, Airflow, operator) followed by
        ``airflow-gradient/<version>``, so Databricks can tell our requests apart."""
        return f"{super().user_agent_value} {USER_AGENT}"

    def _log_retry(self, retry_state: Any) -> None:
        """WARNING before each retry: which request, which attempt failed, why, the wait."""
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        failure = DatabricksFailure.of(error) if error is not None else None
        next_action = retry_state.next_action
        log_retry(
            self.log,
            service="Databricks",
            call=failure.request if failure is not None else "API request",
            attempt=retry_state.attempt_number,
            reason=failure.reason if failure is not None else "no error",
            wait=float(next_action.sleep) if next_action is not None else 0.0,
        )

    # --- the one error mapping ----------------------------------------------------------------

    def _call(
        self,
        endpoint: tuple[str, str],
        payload: dict[str, Any] | None = None,
        *,
        what: str,
        error: type[GradientError] = DatabricksJobError,
        hint: str = "",
        send: Callable[[], Any] | None = None,
        missing_ok: bool = False,
        conflict: type[GradientError] | None = None,
        secrets: tuple[str | None, ...] = (),
    ) -> Any:
        """Send ``endpoint`` (or run ``send``, a provider method calling it) and map failures.

        The provider raises ``AirflowException`` when retries run out, HTTP errors for other
        statuses, and lets ``requests`` errors through (a reply that is not JSON, a broken
        transfer): each becomes ``error`` naming ``what``, the call and the remedy, with the
        ``secrets`` starred out and no chained cause (the cause could carry them).

        :param missing_ok: return ``None`` when the object does not exist.
        :param conflict: raise this when the object exists already (409).
        """
        try:
            if send is not None:
                return send()
            return self._do_api_call(endpoint, payload, wrap_http_errors=False)
        except GradientError:
            raise
        except (AirflowException, OSError, ValueError) as err:  # requests' errors are OSErrors
            failure = DatabricksFailure.of(err)
        if missing_ok and failure.missing:
            return None
        if conflict is not None and failure.conflict:
            raise conflict(
                f"{what} exists already (HTTP {failure.status} {failure.code})."
            ) from None
        message = failure.describe(what, endpoint, self.databricks_conn_id, hint)
        if failure.status in REFUSED_STATUSES:
            error = REFUSED_ERRORS.get(error, error)
        raise error(_scrub(message, secrets)) from None

    # --- jobs ---------------------------------------------------------------------------------

    def _job_page(self, job_id: int, page_token: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"job_id": job_id}
        if page_token:
            params["page_token"] = page_token
        reply = self._call(GET_JOB_ENDPOINT, params, what=f"Databricks job {job_id}")
        if not isinstance(reply, dict) or not isinstance(reply.get("settings"), dict):
            raise DatabricksJobError(
                f"Databricks job {job_id}: jobs/get returned no settings object. Check that "
                "the Databricks connection points at a Databricks workspace."
            )
        return reply

    def get_job(self, job_id: int) -> dict[str, Any]:
        """``jobs/get`` with every page of tasks, job clusters, parameters and environments."""
        return read_paged_job(lambda token: self._job_page(job_id, token), job_id)

    def update_job(self, job_id: int | str, json: Mapping[str, Any]) -> None:
        """The provider's ``update_job`` (``jobs/update``, never ``jobs/reset``), failures
        mapped: Databricks merges ``tasks`` and ``job_clusters`` by key and leaves every field
        that is not sent as it was.

        Retried by the provider on 5xx, 429 and connection errors: safe, because the body
        replaces whole entries, so sending it twice gives the same job as sending it once.
        """
        # The provider annotates job_id as str; Databricks takes the integer, sent as it is.
        provider_update: Callable[[Any, dict[str, Any]], None] = super().update_job
        self._call(
            UPDATE_ENDPOINT,
            send=lambda: provider_update(job_id, dict(json)),
            what=f"Databricks job {job_id}",
            hint="The connection's identity needs CAN_MANAGE on the job.",
        )

    def job_url(self, job_id: int) -> str:
        """The job's page in the Databricks workspace UI."""
        return str(self._endpoint_url(f"jobs/{job_id}"))  # type: ignore[no-untyped-call]

    def resolve_job_id(self, *, job_id: int | str | None, job_name: str | None) -> int:
        """The numeric job id, looked up by name when only ``job_name`` is given."""
        if job_id not in (None, ""):
            try:
                return int(job_id)
            except (TypeError, ValueError):
                raise InvalidJobReferenceError(
                    f"job_id {job_id!r} is not a Databricks job id (an integer)."
                ) from None
        if not job_name:
            raise InvalidJobReferenceError(
                "Give job_id or job_name of the Databricks job to update."
            )
        found = self._call(
            LIST_JOBS_ENDPOINT,
            send=lambda: self.find_job_id_by_name(job_name),
            what=f"Looking up the Databricks job named {job_name!r}",
        )
        if found is None:
            raise InvalidJobReferenceError(
                f"No Databricks job is named {job_name!r}. Check the name, or pass job_id."
            )
        return int(found)

    def find_job_id(self, job_name: str) -> int | None:
        """The id of the job named exactly ``job_name`` (``jobs/list?name=``), ``None`` if none.

        Several jobs of that name are an error (the provider's lookup refuses to choose).
        """
        found = self._call(
            LIST_JOBS_ENDPOINT,
            send=lambda: self.find_job_id_by_name(job_name),
            what=f"Looking up the Databricks job named {job_name!r}",
        )
        return None if found is None else int(found)

    def find_job(self, job_id: int) -> dict[str, Any] | None:
        """:meth:`get_job`, or ``None`` when the workspace has no such job (first page read
        once, like every other)."""
        what = f"Databricks job {job_id}"
        first = self._call(GET_JOB_ENDPOINT, {"job_id": job_id}, what=what, missing_ok=True)
        if first is None:
            return None
        if not isinstance(first, dict) or not isinstance(first.get("settings"), dict):
            raise DatabricksJobError(
                f"{what}: jobs/get returned no settings object. Check that the Databricks "
                "connection points at a Databricks workspace."
            )
        return read_paged_job(
            lambda token: first if token is None else self._job_page(job_id, token), job_id
        )

    def list_job_runs(self, job_id: int, *, limit: int = 25) -> list[dict[str, Any]]:
        """The job's newest ``limit`` finished runs, newest first, each with the cluster specs it
        used (``runs/list`` with ``completed_only`` and ``expand_tasks``, pages followed)."""
        runs: list[dict[str, Any]] = []
        token: str | None = None
        while len(runs) < limit:
            params: dict[str, Any] = {
                "job_id": job_id,
                "completed_only": "true",
                "expand_tasks": "true",
                "limit": min(RUNS_PAGE_SIZE, limit - len(runs)),
            }
            if token:
                params["page_token"] = token
            reply = self._call(LIST_RUNS_ENDPOINT, params, what=f"Runs of Databricks job {job_id}")
            if not isinstance(reply, dict):
                raise DatabricksJobError(
                    f"Runs of Databricks job {job_id}: runs/list answered "
                    f"{type(reply).__name__}, not an object."
                )
            runs.extend(r for r in reply.get("runs") or [] if isinstance(r, dict))
            token = reply.get("next_page_token") or None
            if token is None:
                break
        return runs[:limit]

    def get_job_webhook_notifications(self, job_id: int) -> dict[str, Any]:
        """The job-level ``webhook_notifications`` (``{}`` when the job has none).

        Reads the first page of ``jobs/get`` only: the field is not one of the paged arrays.
        """
        notifications = self._job_page(job_id, None)["settings"].get("webhook_notifications")
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
        self.update_job(job_id, {"webhook_notifications": dict(webhook_notifications)})

    def call_time_bound(self) -> float | None:
        """Most seconds one API call can take, retries and waits included (PAT auth).

        ``retry_limit`` attempts (from ``retry_args["stop"]`` when that is a
        ``stop_after_attempt``), each up to ``2 * timeout_seconds`` (connect, then the reply:
        ``requests`` applies the timeout to each), and between them the back-off of
        ``retry_args["wait"]`` (the provider's default: ``max(retry_delay, 2**(n-1))`` capped at
        ``2**retry_limit``), or a longer ``Retry-After`` up to ``max_retry_after``. ``None`` when
        custom ``retry_args`` use a stop or wait this cannot bound.
        """
        from tenacity import stop_after_attempt, wait_exponential, wait_fixed

        stop, wait = self.retry_args.get("stop"), self.retry_args.get("wait")
        if not isinstance(stop, stop_after_attempt):
            return None
        attempts = int(stop.max_attempt_number)
        base = wait.base if isinstance(wait, HonourRetryAfter) else wait
        waits = 0.0
        for attempt in range(1, attempts):
            if base is None:
                one = 0.0
            elif isinstance(base, wait_exponential):
                raw = base.multiplier * base.exp_base ** (attempt - 1)
                one = max(0.0, base.min, min(raw, base.max))
            elif isinstance(base, wait_fixed):
                one = float(base.wait_fixed)
            else:
                return None
            waits += max(one, self.max_retry_after) if isinstance(wait, HonourRetryAfter) else one
        return attempts * 2.0 * float(self.timeout_seconds) + waits

    # --- notification destinations --------------------------------------------------------------

    def iter_destinations(self) -> Iterator[dict[str, Any]]:
        """Every notification destination (``id``, ``display_name``, ``destination_type``),
        following ``next_page_token`` over every page of the list."""
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_DESTINATION_PAGES):
            reply = self._call(
                ("GET", DESTINATIONS_ENDPOINT),
                {"page_token": token} if token else {},
                what="Databricks notification destinations",
                error=NotificationDestinationError,
                hint="The connection's identity needs to see the workspace's notification "
                "destinations.",
            )
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

    def get_destination(self, destination_id: str) -> dict[str, Any] | None:
        """One destination (secrets stripped), or ``None`` if Databricks has none of that id."""
        what = f"Databricks notification destination {destination_id}"
        endpoint = ("GET", f"{DESTINATIONS_ENDPOINT}/{quote(destination_id, safe='')}")
        reply = self._call(endpoint, what=what, error=NotificationDestinationError, missing_ok=True)
        if reply is None:
            return None
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
        for secret in (url, password):
            if secret:
                mask_secret(secret)
        webhook: dict[str, Any] = {"url": url}
        if username:
            webhook["username"] = username
        if password:
            webhook["password"] = password
        body = RedactedBody(display_name=display_name, config={"generic_webhook": webhook})
        what = f"Databricks notification destination {display_name!r}"
        reply = self._call(
            ("POST", DESTINATIONS_ENDPOINT),
            body,
            what=what,
            error=NotificationDestinationError,
            hint="Creating destinations needs a workspace admin; an admin can also create it "
            "once by hand with this display name.",
            conflict=DestinationExistsError,
            secrets=(url, username, password),
        )
        if not isinstance(reply, dict) or not reply.get("id"):
            raise NotificationDestinationError(
                f"Databricks created notification destination {display_name!r} but answered "
                "no id. Look it up in the workspace settings (Notifications)."
            )
        return public_destination(reply)


def _scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _short(err: BaseException, limit: int = 200) -> str:
    text = str(err)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class HonourRetryAfter:
    """A tenacity wait: the wrapped wait, or the server's ``Retry-After`` if longer (capped at
    ``cap``). The provider's back-off stays the floor: a ``Retry-After`` of ``0`` or less
    ("retry now") leaves it as it is."""

    def __init__(self, base: Callable[[Any], float] | None, cap: float) -> None:
        self.base = base
        self.cap = cap

    def __call__(self, retry_state: Any) -> float:
        wait = float(self.base(retry_state)) if self.base is not None else 0.0
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = DatabricksFailure.of(error).retry_after if error is not None else None
        if asked is not None:
            wait = max(wait, bounded_wait(asked, 0.0, max_retry_after=self.cap))
        return bounded_wait(None, wait, max_retry_after=max(self.cap, wait))


# --- whole jobs: the pages of jobs/get joined and checked ---------------------------------------


def read_paged_job(fetch: Callable[[str | None], Mapping[str, Any]], job_id: int) -> dict[str, Any]:
    """A whole ``jobs/get`` reply: every page fetched (``fetch(page_token)``, ``None`` for the
    first) and its arrays joined.

    The joined job must be whole, as Databricks guarantees: ``tasks`` and ``job_clusters``
    with unique keys, and every ``job_cluster_key`` a task names defined in ``job_clusters``.
    A repeated key or a dangling reference means pages overlap or are missing, or the reply is
    not from Databricks; a cluster chosen from such a job could be the wrong one.

    :raises DatabricksJobError: endless paging, a repeated key, or a missing job cluster.
    """
    first = dict(fetch(None))
    settings = dict(first.get("settings") or {})
    token = first.get("next_page_token")
    pages = 1
    while token:
        if pages >= MAX_JOB_PAGES:
            raise DatabricksJobError(
                f"Databricks job {job_id}: jobs/get returned more than {MAX_JOB_PAGES} pages; "
                "stopped reading. Is the workspace URL a Databricks workspace?"
            )
        page = fetch(str(token))
        page_settings = page.get("settings") or {}
        for key in PAGED_ARRAYS:
            if page_settings.get(key):
                settings[key] = list(settings.get(key) or []) + list(page_settings[key])
        token = page.get("next_page_token")
        pages += 1
    over = f"over {pages} page{'s' if pages != 1 else ''}"
    _check_unique_keys(settings, job_id, over)
    _check_job_cluster_references(settings, job_id, over)
    first.pop("next_page_token", None)
    first["settings"] = settings
    return first


def _check_unique_keys(settings: Mapping[str, Any], job_id: int, over: str) -> None:
    for array, key_name in KEYED_ARRAYS:
        entries = settings.get(array)
        seen: set[str] = set()
        for entry in entries if isinstance(entries, list) else []:
            key = entry.get(key_name) if isinstance(entry, Mapping) else None
            if not isinstance(key, str):
                continue
            if key in seen:
                raise DatabricksJobError(
                    f"Databricks job {job_id}: jobs/get returned {array} with the "
                    f"{key_name} {key!r} twice ({over}). Databricks keeps these keys unique, so "
                    "the pages overlap or the reply is not from Databricks; the job was not "
                    "changed. Check the Databricks connection and the job."
                )
            seen.add(key)


def _check_job_cluster_references(settings: Mapping[str, Any], job_id: int, over: str) -> None:
    clusters = settings.get("job_clusters")
    defined = {
        entry.get("job_cluster_key")
        for entry in (clusters if isinstance(clusters, list) else [])
        if isinstance(entry, Mapping)
    }
    tasks = settings.get("tasks")
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, Mapping):
            continue
        for_each = task.get("for_each_task")
        nested = for_each.get("task") if isinstance(for_each, Mapping) else None
        for holder in (task, nested):
            key = holder.get("job_cluster_key") if isinstance(holder, Mapping) else None
            if key and key not in defined:
                raise DatabricksJobError(
                    f"Databricks job {job_id}: task {task.get('task_key')!r} runs on the job "
                    f"cluster {key!r}, which jobs/get ({over}) does not define. Databricks "
                    "keeps these references whole, so a page is missing or the reply is not "
                    "from Databricks; the job was not changed. Check the Databricks connection "
                    "and the job."
                )


# --- notification destinations: what is shown of them ------------------------------------------


def public_destination(reply: Mapping[str, Any]) -> dict[str, Any]:
    """A destination as Databricks shows it, minus any value that could be a secret: ``id``,
    ``display_name``, ``destination_type`` and the boolean flags of ``config`` (``url_set``,
    ...); every other config value is dropped."""
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
