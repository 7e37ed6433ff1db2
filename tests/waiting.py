"""Waiting for something another process or thread does: poll until it holds, or fail naming it.

    status = eventually(lambda: case_status(ref), until=lambda s: s["waiting_for"] == "ticket",
                        timeout=120, what=f"{ref} to wait at the ticket")

A test never sleeps a fixed time and hopes: it waits for the condition it needs, as long as a
slow machine needs and no longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    predicate: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.3,
    what: str = "the condition",
    until: Callable[[T], object] = bool,
    ignoring: type[BaseException] | tuple[type[BaseException], ...] = (),
    raising: bool = True,
) -> T:
    """Call `predicate` every `interval` seconds until `until` holds for what it returns.

    Return the first value for which `until(value)` is truthy (by default: the first truthy
    value). When `timeout` seconds pass first, raise AssertionError naming `what`, the timeout
    and the last value seen; or, with `raising=False`, return that last value so the caller can
    assert on it (if the predicate never returned one, it raises all the same).

    An exception of a type in `ignoring` counts as "not yet" (a server that does not know the
    object yet); when time runs out it is the cause of the AssertionError. Any other exception
    propagates at once. The predicate is always called at least once.
    """
    deadline = time.monotonic() + timeout
    seen: list[T] = []  # the last value the predicate returned, once it has returned one
    error: BaseException | None = None  # what the last call raised, if it raised
    while True:
        try:
            value = predicate()
        except ignoring as caught:
            error = caught
        else:
            if until(value):
                return value
            seen[:], error = [value], None
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if seen and not raising:
        return seen[-1]
    last = f"; last seen: {seen[-1]!r}" if seen else ""
    if error is not None:
        last += f"; last raised: {error!r}"
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{last}") from error
