"""How :class:`~airflow_gradient.hooks.gradient.GradientHook` sends a request: the base class.

Request building (:meth:`GradientTransport._prepare`), the retry policy
(:meth:`GradientTransport._retry_policy`, every retry logged at WARNING) and reply handling
(:func:`~airflow_gradient.hooks._replies.reply_result`) exist once; the sync and async twins
differ only in the send loop and the token step around it. One deadline bounds a call: its
token, one renewal after a 401, every retry and wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_gradient._compat import SerialConnectionLookup
from airflow_gradient.exceptions import GradientAuthError, GradientTransportError
from airflow_gradient.hooks._clients import ASYNC_CLIENTS, ClientOptions, Lease, build_client
from airflow_gradient.hooks._credentials import (
    GradientCredentials,
    credentials_from_connection,
    mask_credentials,
)
from airflow_gradient.hooks._lookups import CREDENTIAL_LOOKUPS
from airflow_gradient.hooks._network import USER_AGENT
from airflow_gradient.hooks._replies import RetryableFailure, reply_result, transport_failure
from airflow_gradient.hooks._retries import log_retry
from airflow_gradient.hooks._retry_after import bounded_wait
from airflow_gradient.hooks._token import (
    TOKEN_CACHE,
    TOKEN_PATH,
    store_token,
    token_request_body,
)

if TYPE_CHECKING:
    import httpx

#: Methods that are safe to send again after a failure: reads, and PUT (idempotent).
#: POST is never retried blindly (a recommendation request is not idempotent); the token
#: POST is the one exception, as it changes nothing on the server.
RETRYABLE_METHODS = frozenset({"GET", "PUT"})


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


class GradientTransport(SerialConnectionLookup, BaseHook):
    """Credentials, HTTP clients and the request machinery of the Gradient hook.

    The subclass sets the attributes below in its ``__init__``.
    """

    gradient_conn_id: str
    timeout: float
    retry_limit: int
    retry_delay: float
    max_retry_after: float
    total_timeout: float
    _async_credentials: GradientCredentials | None
    _lease: Lease | None = None

    # --- connection and clients -----------------------------------------------------------

    @cached_property
    def credentials(self) -> GradientCredentials:
        """Credentials from the connection (sync lookup), masked in logs from here on."""
        creds = credentials_from_connection(self.get_connection(self.gradient_conn_id))
        mask_credentials(creds)
        return creds

    async def _acredentials(self) -> GradientCredentials:
        """Credentials from the connection, read asynchronously; hooks of one loop that ask
        for the same connection at once share one lookup (see
        :class:`~airflow_gradient.hooks._lookups.SharedLookups`)."""
        if self._async_credentials is None:
            self._async_credentials = await CREDENTIAL_LOOKUPS.read(self.gradient_conn_id)
        return self._async_credentials

    def get_conn(self) -> httpx.Client:
        """Return the hook's ``httpx.Client`` (one per hook, explicit timeouts)."""
        return self._client

    def _client_options(self, creds: GradientCredentials) -> ClientOptions:
        """What shapes this hook's clients (and keys the shared async client): timeouts and
        the connection's network extras (CA bundle or ``verify``, proxy)."""
        return ClientOptions(
            timeout=self.timeout, verify=creds.verify, proxy=creds.proxy, base_url=creds.base_url
        )

    @cached_property
    def _client(self) -> httpx.Client:
        return build_client(self._client_options(self.credentials), asynchronous=False)

    def _aclient(self, creds: GradientCredentials) -> Lease:
        """The running loop's async client shared by every hook with these credentials and
        client options (one pool, one SSL context), leased until :meth:`aclose`."""
        lease = self._lease
        if lease is None or lease.loop is not asyncio.get_running_loop():
            lease = self._lease = ASYNC_CLIENTS.lease(
                (creds.cache_key, self._client_options(creds))
            )
        return lease

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

    # --- shared by the twins: deadline, request building, retry policy ------------------

    def call_time_bound(self) -> float:
        """Most seconds one API call can take: token, one renewal, retries and waits included.

        No attempt starts after ``total_timeout`` (counted from the start of the call), and an
        attempt lasts at most ``2 * timeout`` (connect, then the reply; a server that trickles
        bytes can stretch a read timeout, which Airflow's ``execution_timeout`` backs up).
        """
        return self.total_timeout + 2.0 * self.timeout

    def _deadline(self) -> float:
        """The deadline of a call starting now: its token, renewal and retries share it."""
        return time.monotonic() + self.total_timeout

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
        """Build a request; refuse to start one past the call's deadline.

        Retryable: GET and PUT, and the token POST (it changes nothing); any other POST is
        sent once.
        """
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
        body = token_request_body(creds)
        return self._prepare(creds, "POST", TOKEN_PATH, token=None, json=body, deadline=deadline)

    def _retry_policy(self, request: _Request) -> dict[str, Any]:
        """``tenacity`` settings for one request: retry :class:`RetryableFailure` only, wait the
        ``Retry-After`` the server asks for (capped at ``max_retry_after``) or back off
        exponentially, stop when the attempts are spent or the wait would cross the call's
        deadline, and log each retry at WARNING. The last failure is re-raised as it is."""
        from tenacity import RetryCallState, retry_if_exception_type

        def asked(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            after = failure.retry_after if isinstance(failure, RetryableFailure) else None
            backoff = float(self.retry_delay * 2 ** (state.attempt_number - 1))
            return bounded_wait(after, backoff, max_retry_after=self.max_retry_after)

        def wait(state: RetryCallState) -> float:
            remaining = request.deadline - time.monotonic()
            return bounded_wait(
                asked(state), 0.0, max_retry_after=self.max_retry_after, remaining=remaining
            )

        def stop(state: RetryCallState) -> bool:
            return (
                state.attempt_number >= request.attempts
                or time.monotonic() + asked(state) > request.deadline
            )

        def before_sleep(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            log_retry(
                self.log,
                service="Gradient API",
                call=f"{request.method} {request.path}",
                attempt=state.attempt_number,
                reason=failure.reason if isinstance(failure, RetryableFailure) else "unknown",
                wait=state.next_action.sleep if state.next_action else 0.0,
            )

        return {
            "retry": retry_if_exception_type(RetryableFailure),
            "wait": wait,
            "stop": stop,
            "before_sleep": before_sleep,
            "reraise": True,
        }

    # --- the sync twin ----------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Send an authenticated request; on 401 renew the token once and send it again.

        Token, renewal and every retry share one deadline (``total_timeout``): see
        :meth:`call_time_bound`.
        """
        creds = self.credentials
        deadline = self._deadline()
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
            result = self._send(self._token_request(creds, deadline))
            return store_token(creds, result, self.gradient_conn_id)

    def _send(self, request: _Request) -> Any:
        import httpx
        from tenacity import Retrying

        try:
            for attempt in Retrying(**self._retry_policy(request)):
                with attempt:
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
            raise failure.error from failure.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    # --- the async twin ---------------------------------------------------------------------

    async def _acall(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Async :meth:`_call`."""
        creds = await self._acredentials()
        client = self._aclient(creds)
        deadline = self._deadline()
        token = await self._atoken(client, creds, deadline)
        kwargs = {"params": params, "json": json, "deadline": deadline}
        try:
            request = self._prepare(creds, method, path, token=token, **kwargs)
            return await self._asend(client, request)
        except GradientAuthError:
            TOKEN_CACHE.discard(creds.cache_key, token)
            token = await self._atoken(client, creds, deadline)
            request = self._prepare(creds, method, path, token=token, **kwargs)
            return await self._asend(client, request)

    async def _atoken(self, client: Lease, creds: GradientCredentials, deadline: float) -> str:
        """Async :meth:`_token`: the loop's lock of the credential, not the thread lock (which
        would block the event loop). Waiters find the token the first one fetched."""
        cached = TOKEN_CACHE.get(creds.cache_key, time.time())
        if cached is not None:
            return cached
        async with TOKEN_CACHE.alock_for(creds.cache_key):
            cached = TOKEN_CACHE.get(creds.cache_key, time.time())
            if cached is not None:
                return cached
            result = await self._asend(client, self._token_request(creds, deadline))
            return store_token(creds, result, self.gradient_conn_id)

    async def _asend(self, client: Lease, request: _Request) -> Any:
        """Send with retries. The first attempt goes without tenacity (a trigger's poll almost
        always succeeds at once, and building the retry machinery for every poll cost about a
        tenth of its CPU); a retryable failure hands over to the same policy as the sync
        twin, its attempt 1 being the failure already seen."""
        try:
            return await self._aattempt(client, request)
        except RetryableFailure as failure:
            if request.attempts <= 1:
                raise failure.error from failure.__cause__
            seen: RetryableFailure | None = failure
        from tenacity import AsyncRetrying

        try:
            async for attempt in AsyncRetrying(**self._retry_policy(request)):
                with attempt:
                    if seen is not None:
                        replay, seen = seen, None
                        raise replay
                    return await self._aattempt(client, request)
        except RetryableFailure as failure:
            raise failure.error from failure.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _aattempt(self, client: Lease, request: _Request) -> Any:
        """One attempt: the reply's result, or its error (:class:`RetryableFailure` if
        retryable)."""
        from airflow_gradient.hooks._async_client import transport_errors

        try:
            response = await client.client.request(
                request.method,
                request.url,
                params=request.params,
                json=request.json,
                headers=request.headers,
            )
        except transport_errors() as err:
            raise transport_failure(request.method, request.path, err) from err
        return reply_result(request.method, request.path, response, conn_id=self.gradient_conn_id)
