"""The transport of the Gradient hook: everything between an endpoint method and the network.

:class:`BaseGradientHook` holds, once each:

* the credentials, read from the Airflow connection (plain ``http`` to a remote host refused,
  the key masked in logs) and the network extras (``ca_bundle``, ``verify``, ``proxy``);
* the access token, cached per process and credential, one token request in flight at a time,
  renewed once on 401;
* the retry policy (:meth:`BaseGradientHook._retry_wait`): GET, PUT and the token POST retried
  on 429, 5xx and transport errors, waiting the ``Retry-After`` asked for or backing off, each
  retry logged at WARNING, one deadline for the whole call;
* the reply envelopes (``{"result": ...}`` / ``{"error": ...}``, :func:`reply_result`).

The sync and async twins differ only in the send: one ``httpx.Client`` per hook (sync), and
for triggers an ``aiohttp`` session shared per event loop and credential, with connection
lookups shared while in flight, so hundreds of deferred sensors in one triggerer use one pool,
one SSL context and one token request. aiohttp rather than httpx on the async side: its event
loop CPU per poll is several times lower, and it is what the databricks provider's triggers use.

:func:`parse_retry_after`, :func:`log_retry` and :data:`USER_AGENT` are shared with the
Databricks hook.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import json as jsonlib
import logging
import math
import os
import ssl
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

from airflow.providers.common.compat.sdk import BaseHook

from airflow_gradient import __version__
from airflow_gradient._compat import SerialConnectionLookup, mask_secret
from airflow_gradient.exceptions import (
    GradientApiError,
    GradientAuthError,
    GradientError,
    GradientRequestRefusedError,
    GradientTransportError,
    GradientUnexpectedResponseError,
    InsecureConnectionError,
    InvalidArgumentsError,
)

if TYPE_CHECKING:
    import aiohttp
    import httpx
    from airflow.sdk import Connection

DEFAULT_API_URL = "https://api.synccomputing.com"
#: The User-Agent of every request to Gradient (appended to the provider's for Databricks).
USER_AGENT = f"airflow-gradient/{__version__}"
TOKEN_PATH = "/v1/auth/token"
#: Renew a cached token this many seconds before Gradient says it expires.
TOKEN_EXPIRY_MARGIN = 30.0
#: Lifetime assumed for a token whose reply has no readable expiry.
DEFAULT_TOKEN_LIFETIME = 300.0
#: Safe to send again after a failure: reads and PUT (idempotent). Any other POST is sent once
#: (a recommendation request is not idempotent); the token POST changes nothing and retries.
RETRYABLE_METHODS = frozenset({"GET", "PUT"})

log = logging.getLogger("airflow_gradient.hooks.gradient")

# --- credentials and network settings ------------------------------------------------------------


@dataclass(frozen=True)
class GradientCredentials:
    """Where Gradient lives and the API key to reach it with (from an Airflow connection)."""

    base_url: str
    api_key_id: str
    api_key_secret: str = field(repr=False)
    #: ``True`` (system CAs), ``False`` (no verification) or the path of a CA bundle.
    verify: bool | str = True
    #: Proxy URL from the connection; ``None``: the environment's (``HTTPS_PROXY``, ...).
    proxy: str | None = field(default=None, repr=False)

    @property
    def cache_key(self) -> tuple[str, str, str]:
        """Key of the token cache and the shared clients: the secret enters only as a digest."""
        digest = hashlib.sha256(self.api_key_secret.encode()).hexdigest()
        return (self.base_url, self.api_key_id, digest)


def credentials_from_connection(conn: Connection) -> GradientCredentials:
    """Read the base URL, API key and network extras of a ``gradient`` connection, refusing
    unsafe ones. Host is a full URL or a bare host name (then schema, default ``https``, and
    port complete it)."""
    conn_id = conn.conn_id
    if not conn.login or not conn.password:
        raise GradientAuthError(
            f"Connection {conn_id!r} has no API key: set login to the Gradient API key ID and "
            "password to the API key secret."
        )
    host = (conn.host or "").strip().rstrip("/")
    port = f":{conn.port}" if conn.port else ""
    if not host:
        base_url = DEFAULT_API_URL
    elif "://" in host:
        base_url = host
    else:
        base_url = f"{conn.schema or 'https'}://{host}{port}"
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise InsecureConnectionError(
            f"Connection {conn_id!r} has host {base_url!r}: only http(s) URLs are supported."
        )
    extra = conn.extra_dejson or {}
    allow_insecure = extra.get("allow_insecure_http") in (True, "true", "True", "1")
    if parts.scheme == "http" and not _is_loopback(parts.hostname or "") and not allow_insecure:
        raise InsecureConnectionError(
            f"Connection {conn_id!r} points at {base_url!r} over plain http: the API key would "
            "cross the network unencrypted. Use https, or set the extra "
            '{"allow_insecure_http": true} if you really mean it.'
        )
    return GradientCredentials(
        base_url,
        str(conn.login),
        str(conn.password),
        verify=_verify(extra, conn_id),
        proxy=_proxy(extra, conn_id),
    )


def _verify(extra: dict[str, Any], conn_id: str) -> bool | str:
    """``ca_bundle`` (a path), else ``verify`` (``false`` or a path), else ``True``."""
    value = extra.get("ca_bundle")
    if value in (None, ""):
        value = extra.get("verify", True)
    if value in (False, "false", "False", "0"):
        return False
    if value in (True, "true", "True", "1", None, ""):
        return True
    if not isinstance(value, str):
        raise InsecureConnectionError(
            f"Connection {conn_id!r} has extra verify={value!r}: use false, or the path of a CA "
            'bundle in "ca_bundle".'
        )
    if not os.path.isfile(value):
        raise InsecureConnectionError(
            f"Connection {conn_id!r} names CA bundle {value!r}, which is not a file on this "
            "worker. Install the PEM file at that path on every worker, or fix the extra "
            '"ca_bundle".'
        )
    return value


def _proxy(extra: dict[str, Any], conn_id: str) -> str | None:
    value = extra.get("proxy")
    if value in (None, ""):
        return None
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = f"{parts.scheme}://{parts.hostname}" if parts.hostname else "that value"
        raise InsecureConnectionError(
            f"Connection {conn_id!r} has a proxy extra ({shown}) that is not an http(s) URL: "
            'use e.g. "http://proxy.example.com:3128".'
        )
    return str(value)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mask_credentials(creds: GradientCredentials) -> None:
    """Mask the key id as well as the secret (together they are the credential), and the
    proxy's password."""
    mask_secret(creds.api_key_id)
    mask_secret(creds.api_key_secret)
    password = urlsplit(creds.proxy).password if creds.proxy else None
    if password:
        mask_secret(password)


@dataclass(frozen=True)
class ClientOptions:
    """Everything that shapes an HTTP client (sync or async); hashable, part of the key of the
    shared async clients."""

    timeout: float
    #: Connections open at most, all kept between requests: a shared client polling for
    #: hundreds of triggers started together reuses them (1,000 polls at 50 ms drain through
    #: 100 connections in 0.5 s; through 50, in 1 s, late for a 2 s interval).
    max_connections: int = 100
    verify: bool | str = True
    proxy: str | None = field(default=None, repr=False)
    base_url: str = ""

    def network_settings(self) -> dict[str, Any]:
        """``httpx.Client`` keyword arguments of the network extras: User-Agent, ``verify``
        (an SSL context, or ``False``: logged as a WARNING each time), proxy, ``trust_env``
        (without a proxy extra, ``HTTPS_PROXY``/``NO_PROXY``/``SSL_CERT_FILE`` apply)."""
        settings: dict[str, Any] = {"headers": {"User-Agent": USER_AGENT}, "trust_env": True}
        if self.verify is False:
            log.warning(
                "TLS certificate verification is OFF for the Gradient API at %s (connection "
                'extra "verify": false): anyone on the network path can read the API key and '
                'tokens. Use "ca_bundle" with your CA certificates instead.',
                self.base_url,
            )
            settings["verify"] = False
        elif isinstance(self.verify, str):  # read afresh: a rotated private CA is picked up
            settings["verify"] = ssl.create_default_context(cafile=self.verify)
        else:
            settings["verify"] = default_ssl_context()
        if self.proxy:
            settings["proxy"] = self.proxy
        return settings

    def sync_client(self) -> httpx.Client:
        """The sync ``httpx.Client``: explicit timeout, no redirects, the network extras."""
        import httpx

        limits = httpx.Limits(
            max_connections=self.max_connections, max_keepalive_connections=self.max_connections
        )
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            limits=limits,
            follow_redirects=False,
            **self.network_settings(),
        )


def default_ssl_context() -> ssl.SSLContext:
    """The SSL context httpx builds by default (certifi's CAs, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``), once per process and those variables: loading a CA bundle costs tens of
    milliseconds of CPU, and a context is safe to share between clients and threads."""
    return _default_ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _default_ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context(verify=True, trust_env=True)


# --- the token cache ------------------------------------------------------------------------------

CacheKey = tuple[str, str, str]


@dataclass(frozen=True)
class Token:
    """An access token and when it expires (epoch seconds)."""

    value: str
    expires_at: float


class TokenCache:
    """Tokens per credential, shared by every hook of the process; thread-safe.

    One token request per credential is in flight at a time: a sync caller holds the thread
    lock of :meth:`lock_for` around it, an async one the running loop's lock of
    :meth:`alock_for`; whoever waited finds the new token cached.
    """

    def __init__(self) -> None:
        self._tokens: dict[CacheKey, Token] = {}
        self._guard = threading.Lock()
        self._locks: dict[CacheKey, threading.Lock] = {}
        self._alocks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[CacheKey, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def lock_for(self, key: CacheKey) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def alock_for(self, key: CacheKey) -> asyncio.Lock:
        """The running loop's lock (a thread lock would block the loop; a new loop gets new
        locks)."""
        loop = asyncio.get_running_loop()
        with self._guard:
            return self._alocks.setdefault(loop, {}).setdefault(key, asyncio.Lock())

    def get(self, key: CacheKey, now: float) -> str | None:
        """The cached token, unless it expires within :data:`TOKEN_EXPIRY_MARGIN`."""
        token = self._tokens.get(key)
        if token is None or now >= token.expires_at - TOKEN_EXPIRY_MARGIN:
            return None
        return token.value

    def put(self, key: CacheKey, token: Token) -> None:
        self._tokens[key] = token

    def discard(self, key: CacheKey, value: str) -> None:
        """Forget ``value`` unless another caller already replaced it with a newer token."""
        current = self._tokens.get(key)
        if current is not None and current.value == value:
            del self._tokens[key]

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()


TOKEN_CACHE = TokenCache()


def token_from_result(result: Any, conn_id: str) -> Token:
    """The token of a token reply's ``result``; an error naming the connection if it has none."""
    token = result.get("access_token") if isinstance(result, dict) else None
    expires = result.get("expires_at_utc") if isinstance(result, dict) else None
    if not isinstance(token, str) or not token:
        raise GradientUnexpectedResponseError(
            f"Gradient's token reply for connection {conn_id!r} has no access_token."
        )
    return Token(token, parse_expiry(expires))


def parse_expiry(value: Any) -> float:
    """Epoch seconds of an ISO-8601 UTC time; a token with no readable expiry lives 5 minutes."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    return time.time() + DEFAULT_TOKEN_LIFETIME


# --- retry waits and the retry log line (both hooks) ---------------------------------------------


def parse_retry_after(value: Any, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` value (seconds or an HTTP-date, RFC 9110) asks to wait.

    ``None`` when it asks nothing readable (absent, empty, text, ``nan``/``inf``, a date without
    a zone): the hook's own back-off applies. A negative number or a past date: ``0.0``.

    :param now: the wall-clock time (``time.time()``) an HTTP-date is counted from.
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(value) if isinstance(value, (int, float)) else float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a date without a zone is not one
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def bounded_wait(
    asked: float | None,
    backoff: float,
    *,
    max_retry_after: float,
    remaining: float | None = None,
) -> float:
    """The wait before the next attempt: ``asked`` if the server said, else ``backoff``;
    capped by ``max_retry_after`` and by ``remaining`` (seconds before the call's deadline).
    Always finite and ``>= 0``, whatever the inputs."""
    wait = asked if asked is not None else backoff
    if not math.isfinite(wait):
        wait = max_retry_after if wait > 0 else 0.0
    cap = max_retry_after if math.isfinite(max_retry_after) else 0.0
    wait = min(max(wait, 0.0), max(cap, 0.0))
    if remaining is not None:
        wait = min(wait, max(remaining, 0.0) if math.isfinite(remaining) else wait)
    return wait


class WarningLog(Protocol):
    """What :func:`log_retry` needs of a logger (stdlib or Airflow's)."""

    def warning(self, msg: str, /, *args: Any) -> Any: ...


def log_retry(
    log: WarningLog, *, service: str, call: str, attempt: int, reason: str, wait: float
) -> None:
    """The one WARNING line of a retry. ``reason`` is an HTTP status and error code or an
    exception type, never a reply body or header, so no secret reaches the log."""
    log.warning(
        "%s %s failed on attempt %s (%s); retrying in %.2f s", service, call, attempt, reason, wait
    )


# --- reply envelopes ------------------------------------------------------------------------------


class RetryableFailure(Exception):
    """A failure worth another attempt (429, 5xx, no reply); carries the error to raise once the
    attempts run out, a short secret-free ``reason`` for the retry log, and the seconds of
    ``Retry-After``, if any."""

    def __init__(self, error: GradientError, reason: str, retry_after: float | None = None):
        super().__init__(str(error))
        self.error = error
        self.reason = reason
        self.retry_after = retry_after


def transport_failure(method: str, path: str, err: Exception) -> RetryableFailure:
    """A request that got no reply (connect, read or write failed)."""
    error = GradientTransportError(
        f"Gradient API {method} {path} could not be reached: {type(err).__name__}. Check the "
        "connection's host and the network; the call is retried only when it is safe to repeat."
    )
    return RetryableFailure(error, type(err).__name__)


#: HTTP statuses of a request Gradient refuses as such (a wrong id or argument): sending it
#: again gets the same answer, so the error is permanent.
REFUSED_STATUSES = frozenset({400, 404, 405, 410, 413, 422})


UNENVELOPED_SUFFIX = "/paged/submissions"
"""Paths ending so answer ``{"items": [...]}`` without the ``result`` envelope."""


def reply_result(method: str, path: str, response: httpx.Response | Reply, *, conn_id: str) -> Any:
    """The ``result`` of a reply, or its error (:class:`RetryableFailure` when retryable).
    ``paged/submissions`` is returned whole: it has no envelope."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if 200 <= status < 300:
        if status == 204:
            return None
        if path.endswith(UNENVELOPED_SUFFIX) and isinstance(body, dict) and "items" in body:
            return body
        if not isinstance(body, dict) or "result" not in body:
            raise GradientUnexpectedResponseError(
                f"Gradient API {method} {path} answered HTTP {status} with "
                f"{_describe_body(response, body)} instead of a {{'result': ...}} envelope. Is the "
                f"host of connection {conn_id!r} the Gradient API?",
                status=status,
            )
        return body["result"]

    retry_after = parse_retry_after(response.headers.get("retry-after"))
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        unexpected = GradientUnexpectedResponseError(
            f"Gradient API {method} {path} failed with HTTP {status} and "
            f"{_describe_body(response, body)} (no error envelope). Is the host of connection "
            f"{conn_id!r} the Gradient API?",
            status=status,
        )
        if status == 429 or status >= 500:
            raise RetryableFailure(unexpected, f"HTTP {status}", retry_after)
        raise unexpected

    code = str(error.get("code") or "")
    api_message = str(error.get("message") or "")
    said = f"HTTP {status} {code}: {api_message}"
    kind: type[GradientApiError] = GradientApiError
    message = f"Gradient API {method} {path} failed with {said}"
    if status in (401, 403) and path == TOKEN_PATH:
        kind = GradientAuthError
        message = (
            f"Gradient refused the API key of connection {conn_id!r} ({said}). Check that login "
            "holds the API key ID and password the API key secret, and that the key is still "
            "active."
        )
    elif status in (401, 403):
        kind = GradientAuthError
        message = (
            f"Gradient API {method} {path} was not authorized ({said}) even with a fresh token. "
            f"Check the API key of connection {conn_id!r}."
        )
    elif status in REFUSED_STATUSES:
        kind = GradientRequestRefusedError
    api_error = kind(
        message, status=status, code=code, api_message=api_message, detail=error.get("detail")
    )
    if kind is GradientApiError and (status == 429 or status >= 500):
        raise RetryableFailure(api_error, f"HTTP {status} {code}".rstrip(), retry_after)
    raise api_error


def _describe_body(response: httpx.Response | Reply, body: Any) -> str:
    if body is None:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return f"a non-JSON body ({kind}, {len(response.content)} bytes)"
    return f"JSON of type {type(body).__name__}"


# --- the async client, shared per event loop and credential (triggers) --------------------------


@dataclass(frozen=True)
class Reply:
    """A whole async reply, read: what :func:`reply_result` needs."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class AsyncClient:
    """One ``aiohttp.ClientSession`` shaped by the same :class:`ClientOptions` (CA bundle or
    ``verify``, proxy with its credentials, else the environment's) as the sync client."""

    def __init__(self, options: ClientOptions) -> None:
        import aiohttp

        settings = options.network_settings()
        self._proxy: str | None = None
        self._proxy_auth: aiohttp.BasicAuth | None = None
        proxy_url = options.proxy or environment_proxy(options.base_url)
        if proxy_url:
            proxy = urlsplit(proxy_url)
            if proxy.username is not None:
                self._proxy_auth = aiohttp.BasicAuth(
                    unquote(proxy.username), unquote(proxy.password or "")
                )
                proxy = proxy._replace(netloc=proxy.netloc.rpartition("@")[2])
            self._proxy = proxy.geturl()
        connector = aiohttp.TCPConnector(
            limit=options.max_connections,
            ssl=settings["verify"],
            # Below the idle timeouts of common load balancers (60 s and up), so that a kept
            # connection is not reused just as the server side closes it.
            keepalive_timeout=30.0,
        )
        timeout = options.timeout
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=settings["headers"],
            timeout=aiohttp.ClientTimeout(
                total=None, connect=timeout, sock_connect=timeout, sock_read=timeout
            ),
            # The environment is read once, above: trust_env would read it (and ~/.netrc)
            # again in a worker thread for every request, two thread hops per poll.
            trust_env=False,
            auto_decompress=True,
        )

    @property
    def is_closed(self) -> bool:
        return self._session.closed

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str],
    ) -> Reply:
        """Send one request and read the whole reply; :func:`async_transport_errors` when no
        reply came."""
        query = None if params is None else {k: str(v) for k, v in params.items()}
        async with self._session.request(
            method,
            url,
            params=query,
            json=json,
            headers=headers,
            proxy=self._proxy,
            proxy_auth=self._proxy_auth,
            allow_redirects=False,
        ) as response:
            return Reply(response.status, response.headers, await response.read())

    async def aclose(self) -> None:
        await self._session.close()


def environment_proxy(base_url: str) -> str | None:
    """The proxy of ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` for ``base_url`` (none if
    ``NO_PROXY`` names its host), as httpx reads them."""
    from urllib.request import getproxies, proxy_bypass

    url = urlsplit(base_url)
    if not url.hostname or proxy_bypass(url.hostname):
        return None
    proxies = getproxies()
    return proxies.get(url.scheme) or proxies.get("all") or None


@functools.cache
def async_transport_errors() -> tuple[type[Exception], ...]:
    """What :meth:`AsyncClient.request` raises when no reply came."""
    import aiohttp

    return (aiohttp.ClientError, TimeoutError)


#: A shared client's key: the credential's cache key and the options the client is built from.
ClientKey = tuple[CacheKey, ClientOptions]


@dataclass
class _Shared:
    client: AsyncClient
    users: int = 0


@dataclass(frozen=True)
class Lease:
    """One hook's use of a shared client: give it back with :meth:`SharedAsyncClients.release`."""

    loop: asyncio.AbstractEventLoop
    key: ClientKey
    client: AsyncClient = field(compare=False)


class SharedAsyncClients:
    """Async clients per event loop (weakly: a closed loop takes its clients with it) and
    :data:`ClientKey`, counted by their users; the last one out closes the client, so a
    cancelled or finished trigger leaves no open socket behind."""

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[ClientKey, _Shared]
        ] = weakref.WeakKeyDictionary()

    def lease(self, key: ClientKey) -> Lease:
        """The running loop's client for ``key`` (built on first use), one more user counted."""
        loop = asyncio.get_running_loop()
        clients = self._loops.setdefault(loop, {})
        shared = clients.get(key)
        if shared is None or shared.client.is_closed:
            shared = clients[key] = _Shared(AsyncClient(key[1]))
        shared.users += 1
        return Lease(loop, key, shared.client)

    async def release(self, lease: Lease) -> None:
        """One user fewer; the last one closes the client (also when its task is cancelled)."""
        clients = self._loops.get(lease.loop, {})
        shared = clients.get(lease.key)
        if shared is None or shared.client is not lease.client:
            return
        shared.users -= 1
        if shared.users > 0:
            return
        del clients[lease.key]
        if lease.loop.is_closed():
            return
        # A cancelled trigger can be cancelled again while it closes, and asyncio.run cancels
        # every task on exit: finish closing the pool, then let the cancellation go on.
        client = lease.client
        closing = asyncio.ensure_future(client.aclose())
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            if closing.cancelled() or not client.is_closed:
                await client.aclose()
            else:
                await closing
            raise

    def open_clients(self) -> list[AsyncClient]:
        """The running loop's shared clients (for tests and benchmarks)."""
        return [s.client for s in self._loops.get(asyncio.get_running_loop(), {}).values()]


ASYNC_CLIENTS = SharedAsyncClients()


class SharedLookups:
    """Async connection lookups shared while in flight, per event loop and connection id.

    Hundreds of triggers starting at once would otherwise each read the connection (a worker
    thread hop and, on Airflow 3, a supervisor round trip) before their first poll. Nothing is
    kept after a lookup ends; a cancelled caller leaves it running for the others.
    """

    def __init__(self) -> None:
        self._pending: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Future[GradientCredentials]]
        ] = weakref.WeakKeyDictionary()

    async def read(self, conn_id: str) -> GradientCredentials:
        pending = self._pending.setdefault(asyncio.get_running_loop(), {})
        lookup = pending.get(conn_id)
        if lookup is None:
            lookup = pending[conn_id] = asyncio.ensure_future(self._read(conn_id))

            def forget(done: asyncio.Future[GradientCredentials]) -> None:
                if pending.get(conn_id) is done:
                    del pending[conn_id]
                if not done.cancelled():
                    done.exception()  # retrieved: every waiter has raised it already

            lookup.add_done_callback(forget)
        return await asyncio.shield(lookup)

    @staticmethod
    async def _read(conn_id: str) -> GradientCredentials:
        from airflow.providers.common.compat.connection import get_async_connection

        creds = credentials_from_connection(await get_async_connection(conn_id))
        mask_credentials(creds)
        return creds


CREDENTIAL_LOOKUPS = SharedLookups()


# --- the hook's transport ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """One request, built once, sent by either twin: what to send, how often, until when."""

    method: str
    path: str
    url: str
    headers: dict[str, str]
    params: Mapping[str, Any] | None
    json: Any
    attempts: int
    deadline: float


class BaseGradientHook(SerialConnectionLookup, BaseHook):
    """Connection, token, retries and reply envelopes of the Gradient API.

    The endpoints, and the parameters, are in
    :class:`~airflow_gradient.hooks.gradient.GradientHook`: the split of the databricks
    provider's ``BaseDatabricksHook`` (transport) and ``DatabricksHook`` (endpoints).
    """

    conn_name_attr = "gradient_conn_id"
    default_conn_name = "gradient_default"
    conn_type = "gradient"

    def __init__(
        self,
        gradient_conn_id: str = default_conn_name,
        *,
        timeout: float = 30.0,
        retry_limit: int = 4,
        retry_delay: float = 0.5,
        max_retry_after: float = 30.0,
        total_timeout: float = 120.0,
    ) -> None:
        super().__init__()
        if retry_limit < 1:
            raise InvalidArgumentsError("retry_limit must be at least 1")
        self.gradient_conn_id = gradient_conn_id
        self.timeout = timeout
        self.retry_limit = retry_limit
        self.retry_delay = retry_delay
        self.max_retry_after = max_retry_after
        self.total_timeout = total_timeout
        self._async_credentials: GradientCredentials | None = None
        self._lease: Lease | None = None

    # --- connection and clients -----------------------------------------------------------

    @cached_property
    def credentials(self) -> GradientCredentials:
        """Credentials from the connection (sync lookup), masked in logs from here on."""
        creds = credentials_from_connection(self.get_connection(self.gradient_conn_id))
        mask_credentials(creds)
        return creds

    def get_conn(self) -> httpx.Client:
        """The hook's ``httpx.Client`` (one per hook)."""
        return self._client

    def _client_options(self, creds: GradientCredentials) -> ClientOptions:
        return ClientOptions(
            timeout=self.timeout, verify=creds.verify, proxy=creds.proxy, base_url=creds.base_url
        )

    @cached_property
    def _client(self) -> httpx.Client:
        return self._client_options(self.credentials).sync_client()

    def close(self) -> None:
        """Close the HTTP client, if one was opened."""
        if "_client" in self.__dict__:
            self._client.close()
            del self.__dict__["_client"]

    async def aclose(self) -> None:
        """Give back the shared async client (the last user closes it), if one was leased."""
        lease, self._lease = self._lease, None
        if lease is not None:
            await ASYNC_CLIENTS.release(lease)

    # --- shared by the twins: deadline, request building, the retry policy ----------------

    def call_time_bound(self) -> float:
        """Most seconds one API call can take: token, one renewal, retries and waits included.

        No attempt starts after ``total_timeout`` (counted from the start of the call), and an
        attempt lasts at most ``2 * timeout`` (connect, then the reply; a server that trickles
        bytes can stretch a read timeout, which Airflow's ``execution_timeout`` backs up).
        """
        return self.total_timeout + 2.0 * self.timeout

    def _prepare(
        self,
        creds: GradientCredentials,
        method: str,
        path: str,
        *,
        token: str | None,
        deadline: float,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> _Request:
        """Build a request; refuse to start one past the call's deadline."""
        if time.monotonic() >= deadline:
            raise GradientTransportError(
                f"Gradient API {method} {path} was not sent: the call already took its "
                f"total_timeout of {self.total_timeout:g} s (token, retries and waits included)."
            )
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        retryable = method in RETRYABLE_METHODS or path == TOKEN_PATH
        return _Request(
            method=method,
            path=path,
            url=creds.base_url + path,
            headers=headers,
            params=params,
            json=json,
            attempts=self.retry_limit if retryable else 1,
            deadline=deadline,
        )

    def _token_request(self, creds: GradientCredentials, deadline: float) -> _Request:
        body = {"api_key_id": creds.api_key_id, "api_key_secret": creds.api_key_secret}
        return self._prepare(creds, "POST", TOKEN_PATH, token=None, json=body, deadline=deadline)

    def _store_token(self, creds: GradientCredentials, result: Any) -> str:
        token = token_from_result(result, self.gradient_conn_id)
        mask_secret(token.value)
        TOKEN_CACHE.put(creds.cache_key, token)
        return token.value

    def _retry_wait(self, request: _Request, attempt: int, failure: RetryableFailure) -> float:
        """THE retry policy: the seconds to wait after ``attempt`` failed, logged at WARNING;
        or, when the attempts are spent or the wait would cross the call's deadline, the
        failure's error raised.

        The wait is the ``Retry-After`` asked for, else ``retry_delay`` doubled per attempt,
        capped at ``max_retry_after``.
        """
        backoff = self.retry_delay * 2 ** (attempt - 1)
        wait = bounded_wait(failure.retry_after, backoff, max_retry_after=self.max_retry_after)
        if attempt >= request.attempts or time.monotonic() + wait > request.deadline:
            raise failure.error from failure.__cause__
        log_retry(
            self.log,
            service="Gradient API",
            call=f"{request.method} {request.path}",
            attempt=attempt,
            reason=failure.reason,
            wait=wait,
        )
        return wait

    # --- the sync twin ----------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Send an authenticated request; on 401 renew the token once and send it again.
        Token, renewal and every retry share one deadline (see :meth:`call_time_bound`)."""
        creds = self.credentials
        deadline = time.monotonic() + self.total_timeout
        token = self._token(creds, deadline)
        kwargs = {"params": params, "json": json, "deadline": deadline}
        try:
            return self._send(self._prepare(creds, method, path, token=token, **kwargs))
        except GradientAuthError:
            TOKEN_CACHE.discard(creds.cache_key, token)
            token = self._token(creds, deadline)
            return self._send(self._prepare(creds, method, path, token=token, **kwargs))

    def _token(self, creds: GradientCredentials, deadline: float) -> str:
        """The cached token, or a new one; one token request per credential at a time."""
        with TOKEN_CACHE.lock_for(creds.cache_key):
            cached = TOKEN_CACHE.get(creds.cache_key, time.time())
            if cached is not None:
                return cached
            return self._store_token(creds, self._send(self._token_request(creds, deadline)))

    def _send(self, request: _Request) -> Any:
        """Send with retries: the reply's result, or the last failure's error."""
        import httpx

        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    response = self._client.request(
                        request.method,
                        request.url,
                        params=request.params,
                        json=request.json,
                        headers=request.headers,
                    )
                except httpx.TransportError as err:
                    raise transport_failure(request.method, request.path, err) from err
                return reply_result(
                    request.method, request.path, response, conn_id=self.gradient_conn_id
                )
            except RetryableFailure as failure:
                wait = self._retry_wait(request, attempt, failure)
            time.sleep(wait)

    # --- the async twin ---------------------------------------------------------------------

    async def _acall(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Async :meth:`_call`, over the event loop's client shared by every hook with these
        credentials and client options (leased until :meth:`aclose`)."""
        if self._async_credentials is None:
            self._async_credentials = await CREDENTIAL_LOOKUPS.read(self.gradient_conn_id)
        creds = self._async_credentials
        lease = self._lease
        if lease is None or lease.loop is not asyncio.get_running_loop():
            key = (creds.cache_key, self._client_options(creds))
            lease = self._lease = ASYNC_CLIENTS.lease(key)
        deadline = time.monotonic() + self.total_timeout
        token = await self._atoken(lease.client, creds, deadline)
        kwargs = {"params": params, "json": json, "deadline": deadline}
        try:
            request = self._prepare(creds, method, path, token=token, **kwargs)
            return await self._asend(lease.client, request)
        except GradientAuthError:
            TOKEN_CACHE.discard(creds.cache_key, token)
            token = await self._atoken(lease.client, creds, deadline)
            request = self._prepare(creds, method, path, token=token, **kwargs)
            return await self._asend(lease.client, request)

    async def _atoken(
        self, client: AsyncClient, creds: GradientCredentials, deadline: float
    ) -> str:
        """Async :meth:`_token`, under the loop's lock of the credential."""
        cached = TOKEN_CACHE.get(creds.cache_key, time.time())
        if cached is not None:
            return cached
        async with TOKEN_CACHE.alock_for(creds.cache_key):
            cached = TOKEN_CACHE.get(creds.cache_key, time.time())
            if cached is not None:
                return cached
            result = await self._asend(client, self._token_request(creds, deadline))
            return self._store_token(creds, result)

    async def _asend(self, client: AsyncClient, request: _Request) -> Any:
        """Async :meth:`_send`."""
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    response = await client.request(
                        request.method,
                        request.url,
                        params=request.params,
                        json=request.json,
                        headers=request.headers,
                    )
                except async_transport_errors() as err:
                    raise transport_failure(request.method, request.path, err) from err
                return reply_result(
                    request.method, request.path, response, conn_id=self.gradient_conn_id
                )
            except RetryableFailure as failure:
                wait = self._retry_wait(request, attempt, failure)
            await asyncio.sleep(wait)
