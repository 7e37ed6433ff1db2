"""The poll woken by the server's events (deployments/prompt_start.py), without a server: events
that arrive during a poll fold into one more poll, and a stream that cannot connect neither
raises nor polls (the runner's own poll is the fallback). With a real server:
tests/flows/test_prompt_start.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from safepassage.deployments import prompt_start
from safepassage.deployments.prompt_start import PollWaker, woken_by_events


class _Burst:
    """An events subscriber that delivers `count` events at once, then stays quiet."""

    def __init__(self, count: int) -> None:
        self.count = count

    async def __aenter__(self) -> _Burst:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> AsyncIterator[object]:
        return self._events()

    async def _events(self) -> AsyncIterator[object]:
        for _ in range(self.count):
            yield object()
        await anyio.sleep_forever()


def test_a_burst_of_events_folds_into_the_polls_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt_start, "get_events_subscriber", lambda **_: _Burst(50))
    polls: list[float] = []

    async def slow_poll() -> None:
        polls.append(anyio.current_time())
        await anyio.sleep(0.1)

    async def main() -> None:
        with anyio.move_on_after(2.5):
            await PollWaker(slow_poll).run()

    anyio.run(main)
    # One event's polls: at once, then after each pause (the burst's other 49 fold into them).
    assert len(polls) == 1 + len(prompt_start.REPOLL_PAUSES_S)


def test_a_stream_that_cannot_connect_neither_raises_nor_polls() -> None:
    polls: list[int] = []

    async def poll() -> None:
        polls.append(1)

    async def main() -> None:
        with anyio.move_on_after(2.5):
            await PollWaker(poll).run()

    # Nothing listens on port 9 (discard) here: every connection is refused.
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        anyio.run(main)
    assert polls == []


def test_the_served_side_ends_and_raises_as_it_would_without_the_waker() -> None:
    class Stop(Exception):
        pass

    async def serving() -> Any:
        await anyio.sleep(0.1)
        raise Stop

    async def main() -> None:
        await woken_by_events(serving(), lambda: None)

    with pytest.raises(Stop):  # not wrapped in an exception group
        anyio.run(main)
