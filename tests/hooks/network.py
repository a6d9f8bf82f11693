"""An enterprise network in miniature, on 127.0.0.1: a private CA, a TLS front for the sandbox
signed by it, and a proxy that tunnels ``CONNECT`` and forwards absolute-URI requests.

Every server runs in daemon threads and is stopped by its ``close()`` (context managers).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes from ``source`` to ``target`` until either side closes."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for sock in (source, target):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _join(a: socket.socket, b: socket.socket) -> None:
    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()
    threading.Thread(target=_pipe, args=(b, a), daemon=True).start()


class _Server:
    """A listening socket on 127.0.0.1 whose connections go to :meth:`serve` in threads."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve_safely, args=(conn,), daemon=True).start()

    def _serve_safely(self, conn: socket.socket) -> None:
        try:
            self.serve(conn)
        except (OSError, ssl.SSLError, ValueError):
            conn.close()

    def serve(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        self._closed = True
        self.sock.close()

    def __enter__(self) -> _Server:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Proxy(_Server):
    """An HTTP proxy: ``CONNECT host:port`` opens a tunnel; ``GET http://host/...`` is sent on
    to the host. ``seen`` lists each request line target (``CONNECT 127.0.0.1:443``,
    ``GET http://127.0.0.1:8000/v1/...``) and ``auth`` each ``Proxy-Authorization`` header."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.auth: list[str | None] = []
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(65536)
            if not chunk:
                conn.close()
                return
            head += chunk
        header, rest = head.split(b"\r\n\r\n", 1)
        lines = header.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        self.seen.append(f"{method} {target}")
        self.auth.append(headers.get("Proxy-Authorization"))
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _join(conn, upstream)
            return
        url = urlsplit(target)
        upstream = socket.create_connection((url.hostname or "", url.port or 80))
        path = url.path + (f"?{url.query}" if url.query else "")
        kept = [line for line in lines[1:] if not line.lower().startswith("proxy-")]
        request = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"])
        upstream.sendall(request.encode("latin-1") + b"\r\n\r\n" + rest)
        _join(conn, upstream)


class TlsFront(_Server):
    """TLS on 127.0.0.1 with a certificate from ``ca``, relaying plain bytes to ``backend_port``
    (the sandbox), as a load balancer terminating TLS would."""

    def __init__(self, ca: PrivateCa, backend_port: int) -> None:
        self.backend_port = backend_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(ca.server_cert, ca.server_key)
        super().__init__()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def serve(self, conn: socket.socket) -> None:
        tls = self.context.wrap_socket(conn, server_side=True)
        upstream = socket.create_connection(("127.0.0.1", self.backend_port))
        _join(tls, upstream)


class PrivateCa:
    """A CA made for one test, and a server certificate for 127.0.0.1 and localhost it signed;
    the PEM files are written into ``folder``."""

    def __init__(self, folder: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        def name(text: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name("airflow-gradient test CA"))
            .issuer_name(name("airflow-gradient test CA"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name("127.0.0.1"))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.ca_cert = folder / "ca.pem"
        self.ca_cert.write_bytes(ca_cert.public_bytes(pem))
        self.server_cert = folder / "server.pem"
        self.server_cert.write_bytes(cert.public_bytes(pem))
        self.server_key = folder / "server-key.pem"
        self.server_key.write_bytes(
            key.private_bytes(
                pem,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
