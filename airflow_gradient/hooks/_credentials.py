"""Where Gradient lives and the API key to reach it with, read from an Airflow connection.

Refuses an API key sent over plain ``http`` to a host that is not loopback, unless the
connection says so explicitly; masks the key in Airflow's logs.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
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
    api_key_secret: str

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
    return GradientCredentials(base_url, str(conn.login), str(conn.password))


def mask_credentials(creds: GradientCredentials) -> None:
    """Mask the key id as well as the secret: together they are the credential."""
    from airflow_gradient._compat import mask_secret

    mask_secret(creds.api_key_id)
    mask_secret(creds.api_key_secret)


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
