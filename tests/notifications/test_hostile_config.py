"""A notification configuration written by an attacker is refused with its line, never run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import get_settings
from safepassage.notifications import clear_targets_cache, load_targets
from safepassage.notifications.targets import MAX_CONFIG_BYTES
from tests.notifications.test_targets import GOOD_REST, load

GOOD_BG = "  - json://127.0.0.1:9/mission-bg:\n      tag: mission-bg\n"


@pytest.fixture(autouse=True)
def _fresh_cache(home: Path) -> None:
    clear_targets_cache()


def test_a_file_larger_than_any_configuration_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    padding = "# " + "x" * 100 + "\n"
    text = "version: 1\nurls:\n" + GOOD_BG + GOOD_REST + padding * (MAX_CONFIG_BYTES // 100)
    load(tmp_path, monkeypatch, text)
    with pytest.raises(ConfigurationError, match="larger than"):
        load_targets(get_settings())


def test_deep_nesting_is_refused_with_its_line_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    path = load(tmp_path, monkeypatch, f"version: 1\nextra: {deep}\nurls:\n" + GOOD_BG + GOOD_REST)
    with pytest.raises(ConfigurationError, match=rf"{path}:2: nested deeper than"):
        load_targets(get_settings())


def test_a_billion_laughs_is_refused_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]")
    text = "version: 1\n" + "\n".join(lines) + "\nurls:\n" + GOOD_BG + GOOD_REST
    path = load(tmp_path, monkeypatch, text)
    started = time.monotonic()
    with pytest.raises(ConfigurationError, match=rf"{path}:2: YAML anchors and aliases"):
        load_targets(get_settings())
    assert time.monotonic() - started < 5


def test_python_tags_are_never_constructed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    text = (
        f"version: 1\nhook: !!python/object/apply:os.system ['touch {marker}']\nurls:\n"
        + GOOD_BG
        + GOOD_REST
    )
    path = load(tmp_path, monkeypatch, text)
    with pytest.raises(ConfigurationError, match=rf"{path}:2"):
        load_targets(get_settings())
    assert not marker.exists()


def test_an_environment_value_is_substituted_once_never_expanded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISSION_BG_PATH", "${SECRET_ELSEWHERE}")
    monkeypatch.setenv("SECRET_ELSEWHERE", "should-not-appear")
    text = (
        "version: 1\nurls:\n  - json://127.0.0.1:9/${MISSION_BG_PATH}:\n      tag: mission-bg\n"
        + GOOD_REST
    )
    load(tmp_path, monkeypatch, text)
    (target,) = load_targets(get_settings()).find("mission-bg")
    url = target.service.url(privacy=False)
    assert "should-not-appear" not in url
    assert "SECRET_ELSEWHERE" in url  # kept as the literal text it was
