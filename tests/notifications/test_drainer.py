"""The background drainer and the operators' flow deliver through the same function."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from safepassage.notifications import OutboxDrainer
from tests.notifications.conftest import RETRY_BASE_SECONDS, World
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> bool:
    """Return whether `condition` came true within `timeout`; the caller asserts it."""
    return bool(eventually(condition, timeout=timeout, interval=0.01, raising=False))


def test_the_drainer_delivers_in_the_background_and_retries_what_failed(world: World) -> None:
    ref = world.take_in("CZ")
    world.http.down()
    world.queue(ref, "case-accepted")
    drainer = OutboxDrainer(world.store, interval=0.02, clock=world.clock)
    with drainer:
        assert wait_for(lambda: drainer.last_report is not None and drainer.last_report.retrying)
        world.http.up()
        world.clock.advance(RETRY_BASE_SECONDS)
        drainer.wake()
        assert wait_for(lambda: len(world.http.at("/mission-cz")) == 1)
    assert not drainer.running
    assert drainer.errors == 0
    assert len(world.http.at("/mission-cz")) == 1


def test_the_drainer_keeps_going_after_an_error(world: World) -> None:
    ref = world.take_in("CZ")
    world.queue(ref, "case-accepted")
    calls = {"n": 0}

    def flaky_clock() -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database briefly away")
        return world.clock()

    drainer = OutboxDrainer(world.store, interval=0.02, clock=flaky_clock)  # type: ignore[arg-type]
    with drainer:
        assert wait_for(lambda: len(world.http.at("/mission-cz")) == 1)
    assert drainer.errors == 1


def test_the_operators_flow_calls_the_same_drain(world: World) -> None:
    from safepassage.flows.deliver_notifications import deliver_notifications

    ref = world.take_in("CZ")
    world.queue(ref, "case-accepted")
    counts = deliver_notifications.fn(reference=ref)
    assert counts["sent"] == 1
    assert len(world.http.at("/mission-cz")) == 1


def test_only_the_notifications_package_imports_apprise_and_it_never_imports_prefect() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "safepassage").rglob("*.py")
        if "notifications" not in path.relative_to(ROOT / "safepassage").parts[:1]
        and any(
            line.strip().startswith(("import apprise", "from apprise"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == []
    code = "import sys, safepassage.notifications; print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
