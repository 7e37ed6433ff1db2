"""The targets file: the embedded default, environment variables, and errors naming the line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import get_settings
from safepassage.models.store.db import Store
from safepassage.notifications import clear_targets_cache, deliver_due, load_targets
from safepassage.notifications.events import PROGRAMME_COUNTRIES
from safepassage.notifications.targets import DEMO_ADHOC_COUNTRIES
from tests.notifications.conftest import START, use_config
from tests.receivers import HttpReceiver, SmtpReceiver

GOOD_REST = """\
  - json://127.0.0.1:9/mission-cz:
      tag: mission-cz
  - json://127.0.0.1:9/mission-ro:
      tag: mission-ro
  - json://127.0.0.1:9/mission-hu:
      tag: mission-hu
  - json://127.0.0.1:9/coordinators:
      tag: coordinators
"""


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    use_config(monkeypatch, path)
    return path


@pytest.fixture(autouse=True)
def _fresh_cache(home: Path) -> None:
    clear_targets_cache()


def test_the_default_is_created_on_first_use_with_local_logs_and_nothing_cleared(
    home: Path,
) -> None:
    targets = load_targets(get_settings())
    path = home / "notify.yaml"
    assert targets.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tags = {tag for t in targets for tag in t.tags}
    countries = (*PROGRAMME_COUNTRIES, *DEMO_ADHOC_COUNTRIES)  # the example ad hoc case's too
    assert tags == {
        *(f"mission-{c.lower()}" for c in countries),
        *(f"embassy-{c.lower()}" for c in countries),
        "coordinators",
    }
    assert not any(t.secure for t in targets)


def test_the_default_delivers_json_lines_to_files_under_home(
    sqlite_store: Store, home: Path
) -> None:
    from tests.notifications.conftest import World

    world = World(sqlite_store, HttpReceiver(), SmtpReceiver(), home / "notify.yaml")
    ref = world.take_in("RO")
    (message_id,) = world.queue(ref, "case-accepted")
    assert deliver_due(sqlite_store, now=START).sent == 1
    log = home / "notifications" / "mission-ro.jsonl"
    (line,) = log.read_text().splitlines()
    record = json.loads(line)
    assert record["title"] == f"SafePassage {ref}: case-accepted"
    assert message_id in record["body"]
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_a_yaml_error_names_the_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = load(tmp_path, monkeypatch, "version: 1\nurls:\n  - json://a/b:\n      tag: [x\n")
    with pytest.raises(ConfigurationError, match=rf"{path}:\d+: not valid YAML"):
        load_targets(get_settings())


def test_a_missing_programme_mission_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = load(tmp_path, monkeypatch, "version: 1\nurls:\n" + GOOD_REST)
    with pytest.raises(ConfigurationError, match=rf"{path}: no target is tagged mission-bg"):
        load_targets(get_settings())


def test_an_unknown_scheme_is_named_by_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "version: 1\nurls:\n  - nosuchservice://x/y:\n      tag: mission-bg\n" + GOOD_REST
    path = load(tmp_path, monkeypatch, text)
    with pytest.raises(
        ConfigurationError, match=rf"{path}:3: Apprise does not accept .*nosuchservice"
    ):
        load_targets(get_settings())


def test_an_untagged_target_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "version: 1\nurls:\n  - json://127.0.0.1:9/x\n" + GOOD_REST
    path = load(tmp_path, monkeypatch, text)
    with pytest.raises(ConfigurationError, match=rf"{path}:3: this target has no audience tag"):
        load_targets(get_settings())


def test_includes_are_refused_because_they_escape_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(tmp_path, monkeypatch, "version: 1\ninclude: http://x/y.yaml\nurls:\n" + GOOD_REST)
    with pytest.raises(ConfigurationError, match="include"):
        load_targets(get_settings())


def test_a_missing_environment_variable_is_named_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SP_TEST_MISSION_BG_PASSWORD", raising=False)
    text = (
        "version: 1\n# ${NOT_READ}: comments are left alone\nurls:\n"
        "  - json://sp:${SP_TEST_MISSION_BG_PASSWORD}@127.0.0.1:9/bg:\n"
        "      tag: mission-bg\n" + GOOD_REST
    )
    path = load(tmp_path, monkeypatch, text)
    with pytest.raises(
        ConfigurationError, match="SP_TEST_MISSION_BG_PASSWORD is not set"
    ) as caught:
        load_targets(get_settings())
    assert str(caught.value).startswith(
        f"{path}:4: the environment variable SP_TEST_MISSION_BG_PASSWORD is not set"
    )
    assert "NOT_READ" not in str(caught.value)


def test_credentials_come_from_the_environment_and_stay_out_of_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: SmtpReceiver
) -> None:
    monkeypatch.setenv("SP_TEST_SMTP_PORT", str(smtp.port))
    # Substituted after parsing, so ": " and "#" cannot change the YAML; in a URL they must be
    # percent-encoded like in any URL.
    monkeypatch.setenv("SP_TEST_PASSWORD", "pa%3A%20ss%23word")
    text = (
        "version: 1\nurls:\n"
        '  - "mailto://127.0.0.1:${SP_TEST_SMTP_PORT}?from=sp@example.org'
        '&to=mission-bg@example.org&mode=insecure"'
        ":\n      tag: mission-bg\n"
        "  - json://user:${SP_TEST_PASSWORD}@127.0.0.1:9/x:\n      tag: embassy-bg\n" + GOOD_REST
    )
    load(tmp_path, monkeypatch, text)
    targets = load_targets(get_settings())
    (mission,) = targets.find("mission-bg")
    assert mission.service.port == smtp.port
    (embassy,) = targets.find("embassy-bg")
    assert embassy.service.password == "pa: ss#word"
    assert "word" not in embassy.label
    assert "127.0.0.1" not in embassy.label
    assert embassy.label.startswith("embassy-bg#")


def test_a_configuration_file_that_does_not_exist_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_config(monkeypatch, tmp_path / "nowhere.yaml")
    with pytest.raises(
        ConfigurationError, match=r"SAFEPASSAGE_NOTIFY_CONFIG names .*nowhere\.yaml"
    ):
        load_targets(get_settings())


def test_a_catch_all_always_tag_receives_nothing_it_was_not_routed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "version: 1\nurls:\n  - json://127.0.0.1:9/bg:\n      tag: mission-bg\n"
        "  - json://127.0.0.1:9/all:\n      tag: always, archive\n" + GOOD_REST
    )
    load(tmp_path, monkeypatch, text)
    assert [t.label.split("#")[0] for t in load_targets(get_settings()).find("mission-bg")] == [
        "mission-bg"
    ]


def test_the_configuration_is_read_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = load(
        tmp_path,
        monkeypatch,
        "version: 1\nurls:\n  - json://h/bg:\n      tag: mission-bg\n" + GOOD_REST,
    )
    first = load_targets(get_settings())
    path.write_text("broken: [")
    assert load_targets(get_settings()) is first
    clear_targets_cache()
    with pytest.raises(ConfigurationError, match=rf"{path}:1: not valid YAML"):
        load_targets(get_settings())


def test_two_identical_targets_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "version: 1\nurls:\n" + "  - json://h/bg:\n      tag: mission-bg\n" * 2 + GOOD_REST
    path = load(tmp_path, monkeypatch, text)
    with pytest.raises(
        ConfigurationError, match=rf"{path}:5: this target repeats the one at line 3"
    ):
        load_targets(get_settings())


def test_a_url_apprise_cannot_read_is_refused_not_kept_without_a_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SP_TEST_PASSWORD", "pass#word")  # a raw # ends the URL early
    text = (
        "version: 1\nurls:\n  - json://127.0.0.1:9/bg:\n      tag: mission-bg\n"
        "  - json://user:${SP_TEST_PASSWORD}@127.0.0.1:9/x:\n      tag: embassy-bg\n" + GOOD_REST
    )
    path = load(tmp_path, monkeypatch, text)
    with pytest.raises(ConfigurationError, match=rf"{path}:5: Apprise could not read the URL"):
        load_targets(get_settings())
