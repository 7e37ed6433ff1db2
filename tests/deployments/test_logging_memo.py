"""The warm parent's memo of Prefect's logging configuration (deployments/warm/logging_memo.py)
gives what Prefect's own reading gives, whatever the settings and overrides, and reads again
whenever one of them differs."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from prefect.logging.configuration import DEFAULT_LOGGING_SETTINGS_PATH
from prefect.settings import PREFECT_LOGGING_LEVEL, temporary_settings

from safepassage.deployments.warm import logging_memo


@pytest.fixture(autouse=True)
def empty_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging_memo, "_memo", {})


def test_prefects_default_template_names_only_settings_the_memo_knows() -> None:
    names = string.Template(DEFAULT_LOGGING_SETTINGS_PATH.read_text()).get_identifiers()
    assert set(names) <= logging_memo.SETTINGS_BY_VARIABLE.keys()
    assert logging_memo.memo_key(DEFAULT_LOGGING_SETTINGS_PATH) is not None


def test_the_memo_gives_prefects_configuration_as_settings_and_overrides_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = DEFAULT_LOGGING_SETTINGS_PATH
    seen = []
    for level in ("INFO", "DEBUG", "INFO"):
        with temporary_settings(updates={PREFECT_LOGGING_LEVEL: level}):
            got = logging_memo.load_logging_config(path)
            assert got == logging_memo._prefect_load(path)
            seen.append(got)
    assert seen[0] == seen[2] != seen[1]
    monkeypatch.setenv("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "ERROR")
    overridden = logging_memo.load_logging_config(path)
    assert overridden == logging_memo._prefect_load(path)
    assert overridden["handlers"]["console"]["level"] == "ERROR"
    assert len(logging_memo._memo) == 3  # INFO, DEBUG, and INFO with the override


def test_each_call_gets_its_own_copy() -> None:
    first = logging_memo.load_logging_config(DEFAULT_LOGGING_SETTINGS_PATH)
    first["root"] = "changed by setup_logging"
    again = logging_memo.load_logging_config(DEFAULT_LOGGING_SETTINGS_PATH)
    assert again["root"] != "changed by setup_logging"


def test_a_template_naming_another_setting_is_read_as_prefect_reads_it(tmp_path: Path) -> None:
    custom = tmp_path / "logging.yml"
    custom.write_text(
        DEFAULT_LOGGING_SETTINGS_PATH.read_text() + "\n# ${PREFECT_HOME}\n", encoding="utf-8"
    )
    assert logging_memo.memo_key(custom) is None
    assert logging_memo.load_logging_config(custom) == logging_memo._prefect_load(custom)
    assert logging_memo._memo == {}
