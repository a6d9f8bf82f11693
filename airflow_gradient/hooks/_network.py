"""How the Gradient hook's HTTP clients reach the API: User-Agent, TLS verification, proxy.

:func:`network_settings` is the one place these are decided; ``ClientOptions`` (which also keys
the shared async client) builds both the sync and the async ``httpx`` client with it.
Enterprise networks set them in the connection's extras:

* ``ca_bundle``: path of a PEM file with the CA certificates to trust (a private CA, or a
  TLS-inspecting proxy's CA), instead of the system's.
* ``verify``: ``false`` turns certificate verification off (logged as a WARNING each time a
  client is built); a string is taken as ``ca_bundle``.
* ``proxy``: URL of an HTTP(S) proxy (``http://proxy.corp:3128``, credentials allowed in it).

Without ``proxy``, the standard environment variables apply (``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``), as ``httpx`` reads them.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from typing import Any

from airflow_gradient import __version__

#: The User-Agent of every request airflow-gradient sends to Gradient (Databricks requests
#: append it to the databricks provider's own).
USER_AGENT = f"airflow-gradient/{__version__}"

log = logging.getLogger("airflow_gradient.hooks.gradient")


def network_settings(
    *, verify: bool | str = True, proxy: str | None = None, base_url: str = ""
) -> dict[str, Any]:
    """Keyword arguments for ``httpx.Client``/``httpx.AsyncClient`` from the connection's
    network extras: headers (User-Agent), verify, proxy, trust_env."""
    settings: dict[str, Any] = {"headers": {"User-Agent": USER_AGENT}, "trust_env": True}
    if verify is False:
        log.warning(
            "TLS certificate verification is OFF for the Gradient API at %s (connection extra "
            '"verify": false): anyone on the network path can read the API key and tokens. Use '
            '"ca_bundle" with your CA certificates instead.',
            base_url,
        )
        settings["verify"] = False
    elif isinstance(verify, str):
        settings["verify"] = ssl.create_default_context(cafile=verify)
    else:
        settings["verify"] = default_ssl_context()
    if proxy:
        settings["proxy"] = proxy
    return settings


def default_ssl_context() -> ssl.SSLContext:
    """The SSL context httpx would build by default (certifi's CAs, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``), built once per process and those two variables.

    Loading the CA bundle costs tens of milliseconds of CPU, which every client built paid
    again (an apply builds one Gradient client; two read threads waited on it). An SSL context
    is safe to share between clients and threads. A ``ca_bundle`` path is read afresh for
    each client (a rotated private CA is picked up by the next client).
    """
    return _default_ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _default_ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context(verify=True, trust_env=True)
