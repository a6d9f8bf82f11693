"""Databricks job access for Gradient, built on the databricks provider's ``DatabricksHook``.

Subclassing keeps every auth mode of the provider (PAT, Azure SPN, managed identity, OAuth
M2M, federated tokens) and its retry policy; this module adds only what the provider lacks:
reading a whole job (``jobs/get`` is paged at 100 items), a cluster-only ``jobs/update``,
``Retry-After`` on 429, one error class (:class:`DatabricksJobError`, naming the job) for
every way a call can fail, and :meth:`DatabricksJobsHook.call_time_bound`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException
from airflow.providers.databricks.hooks.databricks import DatabricksHook

from airflow_gradient.exceptions import DatabricksJobError

GET_JOB_ENDPOINT = ("GET", "2.2/jobs/get")
UPDATE_JOB_ENDPOINT = ("POST", "2.2/jobs/update")
#: Arrays of ``settings`` that ``jobs/get`` pages (100 items a page).
PAGED_ARRAYS = ("tasks", "job_clusters", "parameters", "environments")
#: Keyed arrays: Databricks keeps these keys unique within a job.
KEYED_ARRAYS = (("tasks", "task_key"), ("job_clusters", "job_cluster_key"))
#: Guard against a server that never stops handing out page tokens.
MAX_JOB_PAGES = 100
#: Default cap in seconds on a ``Retry-After`` that Databricks asks for on 429/503.
DEFAULT_MAX_RETRY_AFTER = 30.0


def read_paged_job(fetch: Callable[[str | None], Mapping[str, Any]], job_id: int) -> dict[str, Any]:
    """Return a whole ``jobs/get`` reply, following ``next_page_token`` and joining the arrays.

    The joined job must be whole, as Databricks guarantees: ``tasks`` and ``job_clusters``
    with unique keys, and every ``job_cluster_key`` a task names defined in ``job_clusters``.
    A repeated key or a dangling reference means pages overlap or are missing, or the reply is
    not from Databricks; a cluster chosen from such a job could be the wrong one.

    :param fetch: calls ``jobs/get`` with the given page token (``None`` for the first page).
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
    _check_unique_keys(settings, job_id, pages)
    _check_job_cluster_references(settings, job_id, pages)
    first.pop("next_page_token", None)
    first["settings"] = settings
    return first


def _check_unique_keys(settings: Mapping[str, Any], job_id: int, pages: int) -> None:
    for array, key_name in KEYED_ARRAYS:
        entries = settings.get(array)
        if not isinstance(entries, list):
            continue
        seen: set[str] = set()
        for entry in entries:
            key = entry.get(key_name) if isinstance(entry, Mapping) else None
            if not isinstance(key, str):
                continue
            if key in seen:
                raise DatabricksJobError(
                    f"Databricks job {job_id}: jobs/get returned {array} with the "
                    f"{key_name} {key!r} twice (over {pages} page{'s' if pages != 1 else ''}). "
                    "Databricks keeps these keys unique, so the pages overlap or the reply is "
                    "not from Databricks; the job was not changed. Check the Databricks "
                    "connection and the job."
                )
            seen.add(key)


def _check_job_cluster_references(settings: Mapping[str, Any], job_id: int, pages: int) -> None:
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
                    f"cluster {key!r}, which jobs/get (over {pages} page"
                    f"{'s' if pages != 1 else ''}) does not define. Databricks keeps these "
                    "references whole, so a page is missing or the reply is not from "
                    "Databricks; the job was not changed. Check the Databricks connection and "
                    "the job."
                )


def _http_error_facts(err: BaseException) -> tuple[int | None, str, str]:
    """Status, ``error_code`` and ``message`` of the HTTP error behind ``err``, if any."""
    response = getattr(err, "response", None)
    if response is None and err.__cause__ is not None:
        response = getattr(err.__cause__, "response", None)
    if response is None:
        return None, "", ""
    status = getattr(response, "status_code", None)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        return status, str(body.get("error_code") or ""), str(body.get("message") or "")
    return status, "", ""


def _retry_after(exception: BaseException | None) -> float | None:
    """Seconds of the ``Retry-After`` header of a failed request (requests or aiohttp)."""
    if exception is None:
        return None
    response = getattr(exception, "response", None)
    headers = getattr(response, "headers", None) or getattr(exception, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class _HonourRetryAfter:
    """A tenacity wait: the wrapped wait, or the server's ``Retry-After`` if longer (capped)."""

    def __init__(self, base: Callable[[Any], float] | None, cap: float) -> None:
        self.base = base
        self.cap = cap

    def __call__(self, retry_state: Any) -> float:
        wait = float(self.base(retry_state)) if self.base is not None else 0.0
        outcome = retry_state.outcome
        asked = _retry_after(outcome.exception() if outcome is not None else None)
        if asked is not None:
            wait = max(wait, min(asked, self.cap))
        return wait


class DatabricksJobsHook(DatabricksHook):
    """``DatabricksHook`` plus a paged ``get_job`` and a settings-only ``update_job_settings``.

    Takes the arguments of ``DatabricksHook`` (``databricks_conn_id``, ``timeout_seconds``,
    ``retry_limit``, ``retry_delay``, ``retry_args``, ``caller``) and:

    :param max_retry_after: cap in seconds on a ``Retry-After`` header honoured between
        retries (the provider's own back-off ignores the header).
    """

    hook_name = "Databricks (Gradient job access)"

    def __init__(
        self, *args: Any, max_retry_after: float = DEFAULT_MAX_RETRY_AFTER, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_after = float(max_retry_after)
        base = self.retry_args.get("wait")
        self.retry_args["wait"] = _HonourRetryAfter(base, self.max_retry_after)

    def _call(self, endpoint: tuple[str, str], payload: dict[str, Any], *, what: str) -> Any:
        """``_do_api_call``, with every failure turned into a :class:`DatabricksJobError`.

        The provider raises ``AirflowException`` when retries run out, ``DatabricksApiError``
        for other HTTP errors, and lets ``requests`` errors through (a reply that is not JSON,
        a broken transfer): all of them say here which call on which job failed.
        """
        method, path = endpoint[0], f"/api/{endpoint[1]}"
        try:
            return self._do_api_call(endpoint, payload)
        except DatabricksJobError:
            raise
        except AirflowException as err:
            status, code, message = _http_error_facts(err)
            if status is not None and (code or message):
                detail = f"HTTP {status} {code}: {message}".replace("  ", " ")
            elif status is not None:
                detail = (
                    f"HTTP {status}, and the reply is not a Databricks error ({_short(err)}). Is "
                    f"the host of connection {self.databricks_conn_id!r} a Databricks workspace?"
                )
            else:
                detail = str(err)
            raise DatabricksJobError(f"{what}: {method} {path} failed: {detail}") from err
        except (OSError, ValueError) as err:  # requests' errors are OSErrors; bad JSON too
            raise DatabricksJobError(
                f"{what}: {method} {path} got no usable reply ({type(err).__name__}: "
                f"{_short(err)}). Check that the Databricks connection points at a Databricks "
                "workspace."
            ) from err

    def get_job(self, job_id: int) -> dict[str, Any]:
        """``jobs/get`` with every page of tasks, job clusters, parameters and environments."""
        what = f"Databricks job {job_id}"

        def fetch(page_token: str | None) -> Mapping[str, Any]:
            params: dict[str, Any] = {"job_id": job_id}
            if page_token:
                params["page_token"] = page_token
            reply = self._call(GET_JOB_ENDPOINT, params, what=what)
            if not isinstance(reply, dict) or not isinstance(reply.get("settings"), dict):
                raise DatabricksJobError(
                    f"Databricks job {job_id}: jobs/get returned no settings object. Check that "
                    "the Databricks connection points at a Databricks workspace."
                )
            return reply

        return read_paged_job(fetch, job_id)

    def update_job_settings(self, job_id: int, new_settings: Mapping[str, Any]) -> None:
        """``jobs/update`` (never ``jobs/reset``): Databricks merges ``tasks`` and
        ``job_clusters`` by key and leaves every field that is not sent as it was.

        Retried by the provider on 5xx, 429 and connection errors: safe, because the body
        replaces whole entries, so sending it twice gives the same job as sending it once.
        """
        self._call(
            UPDATE_JOB_ENDPOINT,
            {"job_id": job_id, "new_settings": dict(new_settings)},
            what=f"Databricks job {job_id}",
        )

    def job_url(self, job_id: int) -> str:
        """The job's page in the Databricks workspace."""
        url: str = self._endpoint_url(f"jobs/{job_id}")  # type: ignore[no-untyped-call]
        return url

    def resolve_job_id(self, *, job_id: int | str | None, job_name: str | None) -> int:
        """The numeric job id, looked up by name when only ``job_name`` is given."""
        if job_id not in (None, ""):
            try:
                return int(job_id)
            except (TypeError, ValueError):
                raise DatabricksJobError(
                    f"job_id {job_id!r} is not a Databricks job id (an integer)."
                ) from None
        if not job_name:
            raise DatabricksJobError("Give job_id or job_name of the Databricks job to update.")
        try:
            found = self.find_job_id_by_name(job_name)
        except AirflowException as err:
            if isinstance(err, DatabricksJobError):
                raise
            raise DatabricksJobError(
                f"Looking up the Databricks job named {job_name!r} failed: {err}"
            ) from err
        if found is None:
            raise DatabricksJobError(
                f"No Databricks job is named {job_name!r}. Check the name, or pass job_id."
            )
        return int(found)

    def call_time_bound(self) -> float | None:
        """Most seconds one API call can take, retries and waits included (PAT auth).

        ``retry_limit`` attempts (from ``retry_args["stop"]`` when that is a
        ``stop_after_attempt``), each up to ``2 * timeout_seconds`` (connect, then the reply:
        ``requests`` applies the timeout to each), and between them the back-off of
        ``retry_args["wait"]`` (the provider's default: ``max(retry_delay, 2**(n-1))`` capped at
        ``2**retry_limit``), or a longer ``Retry-After`` up to ``max_retry_after``. ``None`` when
        custom ``retry_args`` use a stop or wait this cannot bound.
        """
        attempts, waits = _attempts_and_waits(self.retry_args, self.max_retry_after)
        if attempts is None or waits is None:
            return None
        return attempts * 2.0 * float(self.timeout_seconds) + sum(waits[: attempts - 1])


def _attempts_and_waits(
    retry_args: Mapping[str, Any], max_retry_after: float
) -> tuple[int | None, list[float] | None]:
    """Attempts of a tenacity ``stop_after_attempt`` and the longest wait after each failure."""
    from tenacity import stop_after_attempt, wait_exponential, wait_fixed

    stop = retry_args.get("stop")
    if not isinstance(stop, stop_after_attempt):
        return None, None
    attempts = int(stop.max_attempt_number)
    wait = retry_args.get("wait")
    base = wait.base if isinstance(wait, _HonourRetryAfter) else wait
    waits: list[float] = []
    for attempt in range(1, attempts):
        if base is None:
            one = 0.0
        elif isinstance(base, wait_exponential):
            raw = base.multiplier * base.exp_base ** (attempt - 1)
            one = max(0.0, base.min, min(raw, base.max))
        elif isinstance(base, wait_fixed):
            one = float(base.wait_fixed)
        else:
            return attempts, None
        if isinstance(wait, _HonourRetryAfter):
            one = max(one, max_retry_after)
        waits.append(float(one))
    return attempts, waits


def _short(err: BaseException, limit: int = 200) -> str:
    text = str(err)
    return text if len(text) <= limit else text[: limit - 3] + "..."
