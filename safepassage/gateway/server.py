"""Running the gateway: uvicorn in a thread of `safepassage serve`, on a socket bound first.

A thread, not a process: the gateway lives and dies with `serve`, whatever stops it, and
leaves nothing running behind. The socket is bound before uvicorn starts, so a taken port is
a clear error at start rather than a message in a log. The gateway refuses to listen beyond
this machine without TLS: its cookies and forms carry passwords and sessions.
"""

from __future__ import annotations

import errno
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from safepassage.models.errors import ConfigurationError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class GatewayBind:
    """Where the gateway listens, and its certificate when it serves TLS."""

    host: str = "127.0.0.1"
    port: int = 4200
    certfile: Path | None = None
    keyfile: Path | None = None

    @property
    def tls(self) -> bool:
        return self.certfile is not None

    @property
    def origin(self) -> str:
        """The address a browser on this machine opens (SAFEPASSAGE_GATEWAY_URL overrides it)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def check(self) -> None:
        """Refuse a bind that would expose sign-ins in clear, or a half-given certificate."""
        if (self.certfile is None) != (self.keyfile is None):
            raise ConfigurationError(
                "--certfile and --keyfile: give both (the certificate and its private key)"
            )
        if self.host not in LOOPBACK_HOSTS and not self.tls:
            raise ConfigurationError(
                "--gateway-host: listening beyond this machine needs TLS; give --certfile "
                "and --keyfile, or listen on 127.0.0.1 behind the office's TLS proxy"
            )
        if self.tls:
            self._check_certificate()

    def _check_certificate(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(str(self.certfile), str(self.keyfile))
        except (OSError, ssl.SSLError):
            raise ConfigurationError(
                "--certfile/--keyfile: the certificate or its key cannot be read or do not "
                "match; give a PEM certificate chain and its unencrypted PEM private key"
            ) from None


class GatewayServer:
    """The gateway's uvicorn server, serving in a daemon thread until `stop`."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @classmethod
    def start(cls, app: FastAPI, bind: GatewayBind) -> GatewayServer:
        """Bind, start serving `app`, and return once it accepts connections."""
        bind.check()
        sock = _bound_socket(bind.host, bind.port)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,  # paths hold case references only, but a log is one more copy
            ssl_certfile=str(bind.certfile) if bind.certfile else None,
            ssl_keyfile=str(bind.keyfile) if bind.keyfile else None,
            lifespan="off",
            server_header=False,
            forwarded_allow_ips="",  # trust no X-Forwarded-*: the origin is configured
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="safepassage-gateway", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise ConfigurationError(f"the gateway did not start on {bind.origin}")
            time.sleep(0.05)
        return cls(server, thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, finish what is in flight (briefly), and end the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)


def _bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"--gateway-port {port}: something already listens there; stop it or choose "
                "another port"
            ) from None
        raise ConfigurationError(f"--gateway-host {host}: cannot listen there") from None
    sock.listen(128)
    sock.set_inheritable(False)
    return sock
