"""The notification commands (`notifications`, `notifications retry`, `notify-test`) as run."""

from __future__ import annotations

from pathlib import Path

import pytest

from safepassage.models.store.db import Store
from tests.cli.helpers import run_cli
from tests.factories import PERSONAL_VALUES
from tests.notifications.conftest import (
    MAX_ATTEMPTS,
    RETRY_BASE_SECONDS,
    World,
    use_config,
    write_config,
)
from tests.receivers import HttpReceiver, SmtpReceiver


@pytest.fixture
def cli_world(
    sqlite_store: Store,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    """The test world on the embedded SQLite store, which the subprocess opens too."""
    path = write_config(tmp_path, http, smtp)
    use_config(monkeypatch, path)
    return World(store=sqlite_store, http=http, smtp=smtp, config=path)


def test_the_listing_shows_each_delivery_without_personal_data(cli_world: World) -> None:
    ref = cli_world.take_in("BG")
    cli_world.queue(ref, "ticket-booked", details={"name": PERSONAL_VALUES["given_name"]})
    cli_world.deliver()

    result = run_cli("notifications", ref, "--json")

    assert result.code == 0, result.stderr
    rows = result.json()
    assert {(r["event"], r["level"], r["state"], r["attempts"]) for r in rows} == {
        ("ticket-booked", "detailed", "sent", 1),
        ("ticket-booked", "minimal", "sent", 1),
    }
    assert all(r["target"].startswith("mission-bg#") for r in rows)
    for value in PERSONAL_VALUES.values():
        assert value not in result.stdout
    table = run_cli("notifications")
    assert table.code == 0
    assert ref in table.stdout
    assert "ticket-booked" in table.stdout


def test_retry_requeues_failed_deliveries_and_sends_them(cli_world: World) -> None:
    ref = cli_world.take_in("CZ")
    cli_world.http.down()
    cli_world.queue(ref, "case-accepted")
    for _ in range(MAX_ATTEMPTS):
        cli_world.deliver()
        cli_world.clock.advance(RETRY_BASE_SECONDS * 2**MAX_ATTEMPTS)
    failed = run_cli("notifications", "--failed", "--json")
    assert [(r["reference"], r["state"]) for r in failed.json()] == [(ref, "failed")]

    cli_world.http.up()
    result = run_cli("notifications", "retry", ref, "--json")

    assert result.code == 0, result.stderr
    assert result.json()["requeued"] == 1
    assert len(cli_world.http.at("/mission-cz")) == 1
    assert run_cli("notifications", ref, "--failed", "--json").json() == []


def test_an_unknown_reference_is_exit_2(cli_world: World) -> None:
    result = run_cli("notifications", "retry", "CZ-AAAA-AAAA")
    assert result.code == 2
    assert "no case with reference CZ-AAAA-AAAA" in result.stderr


def test_notify_test_sends_to_every_target_with_the_tag(cli_world: World) -> None:
    result = run_cli("notify-test", "mission-bg", "--json")
    assert result.code == 0, result.stderr
    assert sorted(r["sent"] for r in result.json()) == [True, True]
    (request,) = cli_world.http.at("/mission-bg")
    assert request.json()["title"] == "SafePassage test: mission-bg"
    assert len(cli_world.smtp.to("mission-bg@example.org")) == 1


def test_notify_test_of_a_tag_no_target_has_is_exit_2(cli_world: World) -> None:
    result = run_cli("notify-test", "mission-xx")
    assert result.code == 2
    assert "no notification target is tagged mission-xx" in result.stderr
    assert result.stdout == ""


def test_notify_test_to_a_target_that_is_down_is_exit_1(cli_world: World) -> None:
    result = run_cli("notify-test", "mission-hu")
    assert result.code == 1
    assert "FAILED" in result.stdout


def test_a_broken_configuration_is_exit_2_naming_file_and_line(
    cli_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nurls:\n  - json://h/x:\n      tag: [mission-bg\n")
    use_config(monkeypatch, broken)
    result = run_cli("notify-test", "mission-bg")
    assert result.code == 2
    assert f"error: {broken}:" in result.stderr
    assert "not valid YAML" in result.stderr
