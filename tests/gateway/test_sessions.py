"""The gateway's sessions through the services, with the clock in the test's hands: idle
expiry after 30 minutes, and new credentials ending every session at once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from safepassage.models.store.db import Store
from safepassage.models.store.orm import CaseEvent
from safepassage.services.accounts import (
    add_user,
    end_session,
    live_session,
    reset_user,
    start_session,
)

NOW = dt.datetime(2026, 12, 4, 9, tzinfo=dt.UTC)
OPERATOR = "cli:operator"


def test_a_session_idle_for_30_minutes_is_ended(store: Store) -> None:
    add_user("ana", "mission", "RO", actor=OPERATOR, store=store, now=NOW)
    new = start_session("ana", store=store, now=NOW)
    at = NOW + dt.timedelta(minutes=29)
    live = live_session(new.session_id, store=store, now=at)
    assert live is not None
    assert (live.name, live.role, live.mission) == ("ana", "mission", "RO")
    assert live.csrf_token == new.csrf_token
    assert new.session_id not in repr(new)
    # Seen at 09:29, so still live at 09:59 (and seen again then); 31 idle minutes on, ended.
    assert live_session(new.session_id, store=store, now=at + dt.timedelta(minutes=30)) is not None
    late = at + dt.timedelta(minutes=61)
    assert live_session(new.session_id, store=store, now=late) is None
    assert live_session(new.session_id, store=store, now=late) is None
    assert not end_session(new.session_id, store=store, now=late)
    with store.transaction() as session:
        last = session.scalars(select(CaseEvent).order_by(CaseEvent.seq.desc())).first()
        assert last is not None
        assert (last.kind, last.actor, last.detail) == ("sign-out", "ana", {"ended": "idle"})


def test_new_credentials_end_every_session(store: Store) -> None:
    add_user("ana", "coordinator", actor=OPERATOR, store=store, now=NOW)
    first = start_session("ana", store=store, now=NOW)
    second = start_session("ana", store=store, now=NOW)
    reset_user("ana", actor=OPERATOR, store=store, now=NOW)
    assert live_session(first.session_id, store=store, now=NOW) is None
    assert live_session(second.session_id, store=store, now=NOW) is None


def test_an_unknown_or_overlong_session_id_is_no_session(store: Store) -> None:
    assert live_session("", store=store) is None
    assert live_session("x" * 10_000, store=store) is None
    assert not end_session("x" * 10_000, store=store)
