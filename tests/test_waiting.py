"""`eventually`, which every test that waits for another process or thread relies on."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.waiting import eventually


def test_it_returns_the_first_value_that_holds_and_stops_calling() -> None:
    calls = itertools.count(1)
    assert eventually(lambda: next(calls) >= 3 and "ready", timeout=5, interval=0.01) == "ready"
    assert next(calls) == 4  # called three times, not once more


def test_until_keeps_the_whole_value_and_returns_it() -> None:
    calls = itertools.count(1)
    got = eventually(lambda: [0] * next(calls), until=lambda v: len(v) >= 2, timeout=5, interval=0)
    assert got == [0, 0]


def test_running_out_of_time_names_what_was_awaited_the_timeout_and_the_last_value() -> None:
    started = time.monotonic()
    with pytest.raises(
        AssertionError, match=r"timed out after 0\.2s waiting for the door; last seen: \[\]"
    ):
        eventually(list, timeout=0.2, interval=0.05, what="the door")
    assert 0.2 <= time.monotonic() - started < 2


def test_without_raising_the_last_value_is_returned_for_the_caller_to_assert_on() -> None:
    calls = itertools.count(1)
    assert eventually(lambda: -next(calls), until=lambda v: v > 0, timeout=0.1, raising=False) < 0
    assert eventually(lambda: 0, timeout=0, raising=False) == 0  # called once even with no time


def test_ignored_exceptions_mean_not_yet_and_become_the_cause_when_time_runs_out() -> None:
    calls = itertools.count(1)

    def flaky() -> int:
        if (n := next(calls)) < 3:
            raise LookupError(f"not there yet ({n})")
        return n

    assert eventually(flaky, timeout=5, interval=0, ignoring=LookupError) == 3

    def never() -> int:
        raise LookupError("never there")

    with pytest.raises(AssertionError, match=r"waiting for it; last raised: LookupError") as caught:
        eventually(never, timeout=0.05, interval=0.01, what="it", ignoring=(LookupError,))
    assert isinstance(caught.value.__cause__, LookupError)


def test_other_exceptions_propagate_at_once() -> None:
    calls = itertools.count(1)

    def broken() -> int:
        next(calls)
        raise ValueError("a bug, not a wait")

    with pytest.raises(ValueError, match="a bug"):
        eventually(broken, timeout=5, ignoring=LookupError)
    assert next(calls) == 2
