"""Real local receivers for notification tests: an HTTP server for `json://`, SMTP for `mailto://`.

Both record what arrived so tests can assert on what a mission or coordinator would see. The
HTTP receiver can fail its first N requests or be down (its port closed) and come back. The TLS
variant serves `jsons://` with a certificate from a throwaway test CA (`TestCertificates`).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class HttpRequest:
    """One request the HTTP receiver accepted."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        """Return the whole request (headers and body) as text, for leak searches."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.path}\n{head}\n\n{self.body.decode('utf-8', 'replace')}"


class HttpReceiver:
    """A threaded HTTP server recording every POST; `json_url(path)` names it for Apprise."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.accepted: list[HttpRequest] = []
        self.refused = 0
        self._fail_next = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def json_url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}{path}"

    def fail_next(self, count: int) -> None:
        """Answer the next `count` requests with 503 (and record none of them)."""
        with self._lock:
            self._fail_next = count

    def start(self) -> Self:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    failing = receiver._fail_next > 0
                    if failing:
                        receiver._fail_next -= 1
                        receiver.refused += 1
                    else:
                        receiver.accepted.append(
                            HttpRequest(self.path, dict(self.headers.items()), body)
                        )
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._secure(self._server)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def _secure(self, server: ThreadingHTTPServer) -> None:
        """Plain HTTP: nothing to do (the TLS variant wraps the listening socket here)."""

    def stop(self) -> None:
        """Close the port: a sender gets `connection refused`, as from a receiver that is down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    down = stop

    def up(self) -> None:
        """Listen again on the same port."""
        self.start()

    def at(self, path: str) -> list[HttpRequest]:
        """Return the requests accepted at `path`, in arrival order."""
        with self._lock:
            return [r for r in self.accepted if r.path == path]

    def payloads(self, path: str) -> list[dict[str, Any]]:
        """Return the JSON bodies accepted at `path`."""
        return [r.json() for r in self.at(path)]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class TestCertificates:
    """A throwaway CA and a server certificate it signed for `host`, as PEM files."""

    __test__ = False  # not a pytest test class, despite the name

    host: str
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def create(cls, folder: Path, host: str) -> TestCertificates:
        """Write the CA and a certificate for `host` (a DNS name or IP address) to `folder`."""
        now = dt.datetime.now(dt.UTC)
        ca_key, key = (
            ec.generate_private_key(ec.SECP256R1()),
            ec.generate_private_key(ec.SECP256R1()),
        )
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "SafePassage test CA")])
        ca = (
            _certificate(ca_name, ca_name, ca_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        cert = (
            _certificate(x509.Name([]), ca_name, key.public_key(), now)
            .add_extension(x509.SubjectAlternativeName([_general_name(host)]), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        paths = cls(host, folder / "ca.pem", folder / "server.pem", folder / "server.key")
        paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return paths


def _certificate(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class TlsHttpReceiver(HttpReceiver):
    """The HTTP receiver over TLS, presenting `certificates`' server certificate (on 127.0.0.1).

    `jsons_url` names it by the certificate's host, which the test must resolve to 127.0.0.1.
    """

    def __init__(self, certificates: TestCertificates, port: int | None = None) -> None:
        super().__init__(port)
        self.certificates = certificates

    def jsons_url(self, path: str) -> str:
        return f"jsons://{self.certificates.host}:{self.port}{path}"

    def _secure(self, server: ThreadingHTTPServer) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificates.cert, self.certificates.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)


class _Handler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.receiver._lock:
            self.receiver.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 with no TLS and no login, recording every message."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def mailto_url(self, to: str, sender: str = "safepassage@example.org") -> str:
        """Return the Apprise URL for plain SMTP to this server (mode=insecure: no STARTTLS)."""
        return f"mailto://127.0.0.1:{self.port}?from={sender}&to={to}&mode=insecure"

    def to(self, address: str) -> list[EmailMessage]:
        """Return the messages delivered to `address`, in arrival order."""
        with self._lock:
            return [m for rcpts, m in self.messages if address in rcpts]

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def body_of(message: EmailMessage) -> str:
    """Return an email's text, whatever parts Apprise built it from."""
    part = message.get_body(preferencelist=("plain", "html"))
    return "" if part is None else str(part.get_content())


def everything(message: EmailMessage) -> Iterator[str]:
    """Yield the email's headers and every part's content, for leak searches."""
    for key, value in message.items():
        yield f"{key}: {value}"
    for part in message.walk():
        if not part.is_multipart():
            yield str(part.get_content())
