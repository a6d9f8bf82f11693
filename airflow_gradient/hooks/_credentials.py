"""Where Gradient lives and the API key to reach it with, read from an Airflow connection.

Refuses an API key sent over plain ``http`` to a host that is not loopback, unless the
connection says so explicitly; masks the key in Airflow's logs. Also reads the network extras
(``ca_bundle``, ``verify``, ``proxy``; see :mod:`airflow_gradient.hooks._network`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_gradient.exceptions import GradientAuthError, InsecureConnectionError

if TYPE_CHECKING:
    from airflow.sdk import Connection

DEFAULT_API_URL = "https://api.synccomputing.com"


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
        """Key of the token cache: the secret enters only as a digest."""
        digest = hashlib.sha256(self.api_key_secret.encode()).hexdigest()
        return (self.base_url, self.api_key_id, digest)


def credentials_from_connection(conn: Connection) -> GradientCredentials:
    """Read the base URL and API key from a ``gradient`` connection, refusing unsafe ones.

    Host may be a full URL (``https://api.synccomputing.com``) or a bare host name, in which
    case the connection's schema (default ``https``) and port complete it.
    """
    conn_id = conn.conn_id
    if not conn.login or not conn.password:
        raise GradientAuthError(
            f"Connection {conn_id!r} has no API key: set login to the Gradient API key ID and "
            "password to the API key secret."
        )
    base_url = _base_url(conn)
    scheme = urlsplit(base_url).scheme
    if scheme not in ("http", "https"):
        raise InsecureConnectionError(
            f"Connection {conn_id!r} has host {base_url!r}: only http(s) URLs are supported."
        )
    extra = conn.extra_dejson or {}
    allow_insecure = extra.get("allow_insecure_http") in (True, "true", "True", "1")
    host = urlsplit(base_url).hostname or ""
    if scheme == "http" and not _is_loopback(host) and not allow_insecure:
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


def mask_credentials(creds: GradientCredentials) -> None:
    """Mask the key id as well as the secret: together they are the credential."""
    from airflow_gradient._compat import mask_secret

    mask_secret(creds.api_key_id)
    mask_secret(creds.api_key_secret)
    password = urlsplit(creds.proxy).password if creds.proxy else None
    if password:
        mask_secret(password)


def _base_url(conn: Connection) -> str:
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        return DEFAULT_API_URL
    if "://" in host:
        return host
    scheme = conn.schema or "https"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
