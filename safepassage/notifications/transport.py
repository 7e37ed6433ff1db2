"""Whether a target's transport may carry personal details: TLS with a verified certificate.

A target tagged `secure` receives names, dates of birth and flights. Over plain HTTP or SMTP
anyone on the path reads them, and without certificate verification anyone on the path can pose
as the recipient. So `secure` needs TLS with verification; the only exception is a target on
this machine (loopback, or our local `jsonl://` file), where no network is crossed.

The rules are read from Apprise's parsed plugin object, not from the URL text, so they judge
what Apprise will actually do. Apprise's `secure` flag alone is not enough (checked against the
installed Apprise 2.0.1 source):

- mail: `mailtos://...?mode=insecure` is `secure` yet sends in clear; `secure_mode` decides.
- services with only one scheme (slack, tgram, ...) have `secure` False although they speak
  HTTPS, while some (dapnet, kavenegar) call a plain `http://` endpoint: their declared
  endpoint URLs decide, and a service that declares none is refused (we cannot tell).
- `smpps://` only changes the port; it never starts TLS.

Anything these rules do not recognise is refused: a wrong refusal costs an operator a config
edit, a wrong acceptance discloses a victim's details.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from apprise.plugins.email import NotifyEmail

from safepassage.notifications import jsonl_target

#: Apprise's generic webhooks, whose URL host is the host connected to (so loopback is real).
_WEBHOOKS = frozenset({"json", "xml", "form"})

#: Mail modes that encrypt the session (`insecure` is plain SMTP). STARTTLS that the server
#: does not offer fails the send in smtplib; it never falls back to clear text.
_TLS_MAIL_MODES = frozenset({"ssl", "starttls"})

#: Plugins with a plain/secure scheme pair whose secure scheme is not TLS.
_SECURE_SCHEME_IS_NOT_TLS = frozenset({"smpp"})

#: Class attributes naming a service's web pages rather than where messages are sent.
_NOT_ENDPOINTS = frozenset({"service_url", "setup_url", "image_url"})


def transport_problem(service: Any) -> str | None:
    """Return why `service` (an Apprise plugin) may not carry personal details, or None."""
    if _on_this_machine(service):
        return None
    if not getattr(service, "verify_certificate", False):
        return "its certificate is not verified (verify=no): remove verify=no"
    if isinstance(service, NotifyEmail):
        if service.secure_mode in _TLS_MAIL_MODES:
            return None
        return "it sends mail without TLS: use mailtos:// (or mode=ssl or mode=starttls)"
    plugin = type(service)
    if plugin.protocol and plugin.secure_protocol:
        return _scheme_pair_problem(service)
    if not plugin.protocol and _endpoints_all_https(plugin):
        return None
    return "this service is not known to use TLS; use jsons://, mailtos:// or an HTTPS service"


def _scheme_pair_problem(service: Any) -> str | None:
    # A plugin with two schemes (json/jsons, gotify/gotifys, ...) connects with TLS exactly when
    # written with its secure scheme, which Apprise records as `secure`.
    plugin = type(service)
    if _names(plugin.protocol) & _SECURE_SCHEME_IS_NOT_TLS:
        return "this service's secure scheme does not use TLS"
    if service.secure:
        return None
    secure_scheme = min(_names(plugin.secure_protocol))
    return f"it does not use TLS: use the {secure_scheme}:// scheme"


def _endpoints_all_https(plugin: type[Any]) -> bool:
    """Return whether a one-scheme service declares endpoints, all of them https://."""
    urls = [url for name in dir(plugin) for url in _endpoint_urls(plugin, name)]
    return bool(urls) and all(url.startswith("https://") for url in urls)


def _endpoint_urls(plugin: type[Any], name: str) -> Iterator[str]:
    if not name.endswith("_url") or name in _NOT_ENDPOINTS:
        return
    value = getattr(plugin, name, None)
    values = value.values() if isinstance(value, dict) else [value]
    yield from (v for v in values if isinstance(v, str) and "://" in v)


def _on_this_machine(service: Any) -> bool:
    plugin = type(service)
    if plugin.secure_protocol == jsonl_target.SCHEME:  # our local file, never a network
        return True
    if isinstance(service, NotifyEmail):
        return _is_loopback(service.smtp_host)  # the host connected to, not the mail domain
    if _names(plugin.protocol) & _WEBHOOKS:
        return _is_loopback(service.host)
    # Elsewhere the URL's host may be a token or a topic, not where messages go: no exception.
    return False


def _is_loopback(host: object) -> bool:
    """Return whether `host` names this machine: 127.0.0.0/8, ::1 or localhost."""
    if not isinstance(host, str) or not host:
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _names(protocol: object) -> frozenset[str]:
    # Apprise gives a plugin's scheme(s) as a string or a tuple/list of strings.
    if isinstance(protocol, str):
        return frozenset({protocol})
    if isinstance(protocol, list | tuple):
        return frozenset(p for p in protocol if isinstance(p, str))
    return frozenset()
