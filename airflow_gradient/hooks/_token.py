"""Gradient access tokens: the per-process cache, the token request, and reading its reply.

One cache for the whole process, keyed by credential (base URL, key id, a digest of the
secret), so every hook of a worker shares a token. One token request per credential is in
flight at a time: the sync hook holds the credential's thread lock
(:meth:`TokenCache.lock_for`) around it, the async hook the credential's ``asyncio.Lock`` of
the running loop (:meth:`TokenCache.alock_for`); whoever waited finds the new token cached. So
200 triggers starting at once send one token request, not 200.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_gradient.exceptions import GradientUnexpectedResponseError

if TYPE_CHECKING:
    from airflow_gradient.hooks._credentials import GradientCredentials

TOKEN_PATH = "/v1/auth/token"
#: Renew a cached token this many seconds before Gradient says it expires.
TOKEN_EXPIRY_MARGIN = 30.0
#: Lifetime assumed for a token whose reply has no readable expiry.
DEFAULT_TOKEN_LIFETIME = 300.0

CacheKey = tuple[str, str, str]


@dataclass(frozen=True)
class Token:
    """An access token and when it expires (epoch seconds)."""

    value: str
    expires_at: float


class TokenCache:
    """Tokens per credential, shared by every hook of the process; thread-safe."""

    def __init__(self) -> None:
        self._tokens: dict[CacheKey, Token] = {}
        self._guard = threading.Lock()
        self._locks: dict[CacheKey, threading.Lock] = {}
        self._alocks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[CacheKey, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def lock_for(self, key: CacheKey) -> threading.Lock:
        """The thread lock a sync caller holds while it requests a token for ``key``."""
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def alock_for(self, key: CacheKey) -> asyncio.Lock:
        """The running loop's lock an async caller holds while it requests a token for ``key``
        (a thread lock would block the loop; a new loop gets new locks)."""
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


def token_request_body(creds: GradientCredentials) -> dict[str, str]:
    """Body of ``POST /v1/auth/token``."""
    return {"api_key_id": creds.api_key_id, "api_key_secret": creds.api_key_secret}


def store_token(creds: GradientCredentials, result: Any, conn_id: str) -> str:
    """Read a token reply, mask the token and cache it for the credential; return it."""
    from airflow_gradient._compat import mask_secret

    token = token_from_result(result, conn_id)
    mask_secret(token.value)
    TOKEN_CACHE.put(creds.cache_key, token)
    return token.value


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
