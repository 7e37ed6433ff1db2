"""SAFEPASSAGE_GATEWAY_URL: the gateway's address, which the notifications to a mission link to.

The link goes into minimal messages, to channels nobody cleared, so the setting is refused if
it could carry anything but an address: a user, a password, a query, a fragment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import get_settings


def settings_with(monkeypatch: pytest.MonkeyPatch, value: str) -> str | None:
    monkeypatch.setenv("SAFEPASSAGE_GATEWAY_URL", value)
    get_settings.cache_clear()
    return get_settings().gateway_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://safepassage.example.org", "https://safepassage.example.org"),
        ("https://safepassage.example.org/", "https://safepassage.example.org"),
        ("http://127.0.0.1:8080/office/", "http://127.0.0.1:8080/office"),
        ("  ", None),
    ],
)
def test_a_gateway_address_is_kept_without_its_trailing_slash(
    home: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None
) -> None:
    assert settings_with(monkeypatch, value) == expected


def test_the_case_link_carries_the_reference_only_and_none_without_a_gateway(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert get_settings().mission_case_url("RO-7Q2K-4MXD") is None
    settings_with(monkeypatch, "https://safepassage.example.org/")
    assert (
        get_settings().mission_case_url("RO-7Q2K-4MXD")
        == "https://safepassage.example.org/mission/cases/RO-7Q2K-4MXD"
    )


@pytest.mark.parametrize(
    "value",
    [
        "safepassage.example.org",  # no scheme
        "ftp://safepassage.example.org",
        "javascript:alert(1)",
        "https://",  # no host
        "https://officer:Secr3tPassw0rd@safepassage.example.org",
        "https://safepassage.example.org/?token=Secr3tPassw0rd",
        "https://safepassage.example.org/#Secr3tPassw0rd",
        "https://safepassage.example.org:99999",
        "https://safe passage.example.org",
    ],
)
def test_anything_but_an_http_address_is_refused_naming_the_setting_not_the_value(
    home: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ConfigurationError, match=r"SAFEPASSAGE_GATEWAY_URL: .*https://") as bad:
        settings_with(monkeypatch, value)
    assert "Secr3tPassw0rd" not in str(bad.value)
