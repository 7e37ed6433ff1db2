"""A target tagged `secure` must use TLS with a verified certificate, unless it is loopback.

Refusals happen when the configuration loads, name the line, the target's label and the reason,
and never echo the URL (it may hold credentials). Acceptance is shown end to end: a detailed
message really reaches a TLS receiver whose certificate a test CA signed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import get_settings
from safepassage.models.store.db import Store
from safepassage.notifications import clear_targets_cache, load_targets
from tests.cli.helpers import run_cli
from tests.notifications.conftest import World, use_config
from tests.notifications.test_delivery import DETAILS
from tests.notifications.test_targets import GOOD_REST
from tests.receivers import SmtpReceiver, TestCertificates, TlsHttpReceiver

#: A password in every refused URL: it must never appear in an error.
PASSWORD = "Pw-n0t-in-errors"
MAIL = "from=sp@example.org&to=mission-bg@example.org"

REFUSED = {
    "plain json to a remote host": (
        f"json://sp:{PASSWORD}@remote.example:80/bg",
        "does not use TLS: use the jsons:// scheme",
    ),
    "plain xml": (f"xml://sp:{PASSWORD}@remote.example/bg", "use the xmls:// scheme"),
    "plain form": (f"form://sp:{PASSWORD}@remote.example/bg", "use the forms:// scheme"),
    "a look-alike of localhost": (
        f"json://sp:{PASSWORD}@localhost.remote.example/bg",
        "does not use TLS",
    ),
    "mail on port 25 without TLS": (
        f"mailto://sp:{PASSWORD}@remote.example?{MAIL}",
        "sends mail without TLS",
    ),
    "mailtos forced to plain SMTP": (
        f"mailtos://sp:{PASSWORD}@remote.example?{MAIL}&mode=insecure",
        "sends mail without TLS",
    ),
    "a loopback mail domain relaying through a remote server": (
        f"mailto://sp:{PASSWORD}@127.0.0.1?{MAIL}&smtp=remote.example&mode=insecure",
        "sends mail without TLS",
    ),
    "jsons without verification": (
        f"jsons://sp:{PASSWORD}@remote.example/bg?verify=no",
        "its certificate is not verified (verify=no)",
    ),
    "mailtos without verification": (
        f"mailtos://sp:{PASSWORD}@remote.example?{MAIL}&verify=no",
        "its certificate is not verified",
    ),
    "a service calling a plain http endpoint": (
        f"dapnet://sp:{PASSWORD}@DF1ABC",
        "not known to use TLS",
    ),
    "syslog": ("syslog://", "not known to use TLS"),
}

ACCEPTED = {
    "json on 127.0.0.1": "json://127.0.0.1:9/bg",
    "json elsewhere in 127.0.0.0/8": "json://127.8.9.10:9/bg",
    "json on ::1": "json://[::1]:9/bg",
    "json on localhost, even unverified": "json://localhost:9/bg?verify=no",
    "jsons": "jsons://remote.example/bg",
    "xmls": "xmls://remote.example/bg",
    "forms": "forms://remote.example/bg",
    "mailtos": f"mailtos://sp:pw@remote.example?{MAIL}",
    "mailto with STARTTLS": f"mailto://sp:pw@remote.example?{MAIL}&mode=starttls",
    "mail through a relay on this machine": (
        f"mailto://remote.example?{MAIL}&smtp=127.0.0.1&mode=insecure"
    ),
    "slack (always HTTPS)": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
    "telegram (always HTTPS)": "tgram://123456789:abcdefg_hijklmnop/12315544/",
    "a local JSON-lines file": "jsonl://localhost/tmp/safepassage-test/bg.jsonl",
}


def secure_config(url: str) -> str:
    return f'version: 1\nurls:\n  - "{url}":\n      tag: mission-bg, secure\n' + GOOD_REST


def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    use_config(monkeypatch, path)
    return path


@pytest.fixture(autouse=True)
def _fresh_cache(home: Path) -> Iterator[None]:
    clear_targets_cache()
    yield
    clear_targets_cache()


@pytest.mark.parametrize(("url", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_a_secure_target_without_verified_tls_is_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, reason: str
) -> None:
    path = write(tmp_path, monkeypatch, secure_config(url))

    with pytest.raises(ConfigurationError) as caught:
        load_targets(get_settings())

    message = str(caught.value)
    assert message.startswith(f"{path}:3: target mission-bg#"), message
    assert "is tagged `secure` (cleared for personal details) but" in message
    assert reason in message
    for leak in (PASSWORD, "remote.example", "DF1ABC", url):
        assert leak not in message


@pytest.mark.parametrize("url", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_a_secure_target_over_verified_tls_or_loopback_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    write(tmp_path, monkeypatch, secure_config(url))

    (target,) = load_targets(get_settings()).find("mission-bg")

    assert target.secure


def test_the_same_targets_without_the_secure_tag_are_not_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = REFUSED["plain json to a remote host"]
    write(tmp_path, monkeypatch, secure_config(url).replace("mission-bg, secure", "mission-bg"))

    (target,) = load_targets(get_settings()).find("mission-bg")

    assert not target.secure


@pytest.mark.parametrize(
    "name",
    ["plain json to a remote host", "mail on port 25 without TLS", "jsons without verification"],
)
def test_the_cli_refuses_it_with_exit_2_naming_the_target_not_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    url, reason = REFUSED[name]
    path = write(tmp_path, monkeypatch, secure_config(url))

    result = run_cli("notify-test", "coordinators")

    assert result.code == 2, result.stderr
    assert f"error: {path}:3: target mission-bg#" in result.stderr
    assert reason in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert "remote.example" not in result.stderr + result.stdout


# -- delivery over verified TLS ------------------------------------------------------------------

#: Not loopback by name, so the TLS rule (not the loopback exception) is what admits it.
RECEIVER_HOST = "mission-bg.receiver.test"


@pytest.fixture
def certificates(tmp_path: Path) -> TestCertificates:
    return TestCertificates.create(tmp_path, RECEIVER_HOST)


def reach_receiver_host_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolve RECEIVER_HOST to 127.0.0.1, in this process only, and bypass any proxy."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return resolve("127.0.0.1" if host == RECEIVER_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tls(
    certificates: TestCertificates, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TlsHttpReceiver]:
    """A TLS receiver reachable as RECEIVER_HOST, presenting a certificate for that name."""
    reach_receiver_host_locally(monkeypatch)
    with TlsHttpReceiver(certificates) as receiver:
        yield receiver


def tls_world(
    store: Store, tls: TlsHttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> World:
    path = write(tmp_path, monkeypatch, secure_config(tls.jsons_url("/mission-bg")))
    return World(store=store, http=tls, smtp=SmtpReceiver(), config=path)


def test_a_secure_jsons_target_with_a_verified_certificate_receives_details(
    sqlite_store: Store,
    tls: TlsHttpReceiver,
    certificates: TestCertificates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # requests (under Apprise) trusts this CA only through the environment, for this test only.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates.ca))
    world = tls_world(sqlite_store, tls, tmp_path, monkeypatch)
    ref = world.take_in("BG")  # consents to sharing with the mission
    (message_id,) = world.queue(ref, "ticket-booked", details=DETAILS)

    assert world.deliver().detailed == 1

    (payload,) = tls.payloads("/mission-bg")
    assert f"Name: {DETAILS['name']}" in payload["message"]
    assert payload["message_id"] == message_id


def test_the_certificate_is_really_verified(
    sqlite_store: Store, tls: TlsHttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the test CA the receiver's certificate is untrusted: nothing may be sent.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    world = tls_world(sqlite_store, tls, tmp_path, monkeypatch)
    ref = world.take_in("BG")
    world.queue(ref, "ticket-booked", details=DETAILS)

    report = world.deliver()

    assert report.sent == 0
    assert tls.accepted == []


def test_a_certificate_for_another_host_name_is_refused(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Signed by the trusted CA, but for a different name: host name verification must fail it.
    other = TestCertificates.create(tmp_path, "someone-else.receiver.test")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.ca))
    reach_receiver_host_locally(monkeypatch)
    with TlsHttpReceiver(other) as receiver:
        url = f"jsons://{RECEIVER_HOST}:{receiver.port}/mission-bg"
        path = write(tmp_path, monkeypatch, secure_config(url))
        world = World(store=sqlite_store, http=receiver, smtp=SmtpReceiver(), config=path)
        world.queue(world.take_in("BG"), "ticket-booked", details=DETAILS)

        assert world.deliver().sent == 0
        assert receiver.accepted == []
