"""Checkpoint answers from an attacker, through the flow's own validation (`accept_answer`).

Any value in any field of any form, and extra fields: the answer is accepted or refused with
the field named, never an unhandled exception, and no submitted value reaches an error
message, a log line, the refusal's audit event or the PII-free summary the flow branches on.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.store.case_transaction import case_transaction
from safepassage.models.store.db import Store
from safepassage.models.store.events import case_events
from safepassage.tasks.checkpoints import _judge
from tests.factories import TODAY
from tests.stored import stored_case

#: Every string the attacker submits carries this, so a leak of any of them is found.
CANARY = "Qx7CanaryVal"

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "{{ 7*7 }}",
            "{% for x in range(9**9) %}x{% endfor %}",
            "${HOME}",
            "$(touch /tmp/pwned)",
            "`id`",
            "\x00\x1b[31m\r\n",
            "A" * 5000,
            "'; DROP TABLE cases; --",
        ]
    ),
).map(lambda text: f"{CANARY}{text}")
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_value = st.recursive(
    leaf,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
_ATTEMPTS = itertools.count(1)


def _mutated(checkpoint: Checkpoint, data: st.DataObject) -> dict[str, Any]:
    raw: dict[str, Any] = sample_answer(checkpoint, attempt=1, scenario=Scenario(), today=TODAY)
    for field in data.draw(st.lists(st.sampled_from(sorted(raw)), max_size=3, unique=True)):
        raw[field] = data.draw(json_value)
    if data.draw(st.booleans()):
        raw[f"{CANARY}extra"] = data.draw(json_value)
    return raw


@pytest.mark.parametrize("checkpoint", list(Checkpoint))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_answer_is_accepted_or_refused_by_field_and_nothing_submitted_leaks(
    stage_store: Store,
    caplog: pytest.LogCaptureFixture,
    checkpoint: Checkpoint,
    data: st.DataObject,
) -> None:
    reference = _case(stage_store)
    raw = _mutated(checkpoint, data)
    attempt = next(_ATTEMPTS)
    caplog.clear()
    with caplog.at_level(logging.DEBUG), case_transaction(reference) as (store, session, case):
        result = _judge(session, store.master_key, case, checkpoint, attempt=attempt, raw=raw)
        refusals = [e.detail for e in case_events(session, reference)]
    if not result.accepted:
        assert result.problems
    assert CANARY not in json.dumps(result.problems)
    assert CANARY not in caplog.text
    assert CANARY not in json.dumps(refusals, default=str)
    summary = {k: v for k, v in (result.summary or {}).items() if k != "entered_by"}
    assert CANARY not in json.dumps(summary, default=str)


_CASES: dict[int, str] = {}


def _case(store: Store) -> str:
    """One case per store (the store is new for each database, reused across examples)."""
    if id(store) not in _CASES:
        _CASES[id(store)] = stored_case(store, "HU")
    return _CASES[id(store)]
