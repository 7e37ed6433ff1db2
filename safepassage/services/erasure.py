"""`safepassage erase` and `safepassage retention`: erase in the store, then in Prefect.

The store comes first and alone decides: once its transaction commits, the case's data key is
gone. Removing the case's runs and artifacts from Prefect needs the server; if it is down the
command says so, and the next `erase` of the case or the daily `retention` run finishes it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import TypeAdapter, ValidationError

from safepassage.models.clock import utcnow
from safepassage.models.errors import ConfigurationError, FieldProblem, IntakeInvalid
from safepassage.models.intake import Text, problems_from
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import Store, opened_store
from safepassage.models.store.erasure import check_erasable, erase_case, reclaim_erased_space
from safepassage.models.vocabulary import ErasureReason
from safepassage.orchestration.connection import connect
from safepassage.tasks.erasure import purge_and_record, sweep

NOTE = TypeAdapter(Text)
#: The codes `--reason` takes, as the error lists them.
REASON_CODES = ", ".join(code.value for code in ErasureReason)


def reason_code(text: str | None) -> ErasureReason:
    """Return the erasure's reason code, or raise IntakeInvalid naming --reason and the codes.

    The text given is never repeated: it may be just what the codes are there to keep out.
    """
    try:
        return ErasureReason(text or "")
    except ValueError:
        raise IntakeInvalid(
            [FieldProblem("--reason", f"must be one of {REASON_CODES}")], source="the command"
        ) from None


def note_text(text: str | None) -> str | None:
    """Return the note as stored text (None if not given), or raise IntakeInvalid naming --note."""
    if text is None:
        return None
    try:
        return NOTE.validate_python(text)
    except ValidationError as exc:
        raise IntakeInvalid(
            [FieldProblem("--note", p.message) for p in problems_from(exc)], source="the command"
        ) from None


def check_request(reference: str, *, force: bool, reason: str | None, note: str | None) -> None:
    """Refuse, before the confirmation prompt, what `erase` would refuse anyway."""
    reason_code(reason)
    note_text(note)
    with opened_store() as store, store.transaction() as session:
        check_erasable(get_case(session, reference), force=force)


def erase(
    reference: str, *, actor: str, force: bool, reason: str | None, note: str | None = None
) -> dict[str, Any]:
    """Erase the case (idempotent) and remove it from Prefect if the server answers."""
    code, text = reason_code(reason), note_text(note)
    with opened_store() as store:
        with store.transaction() as session:
            case = get_case(session, reference, lock=True)
            erasure = erase_case(
                session, store.master_key, case, actor=actor, now=utcnow(), force=force,
                reason=code, note=text,
            )  # fmt: skip
            purged_at = case.prefect_purged_at
        # After the commit, outside its transaction: see reclaim_erased_space.
        reclaimed = not erasure.already_erased and reclaim_erased_space(store.engine)
        result: dict[str, Any] = {
            **erasure.as_dict(),
            "space_reclaimed": reclaimed,
            "prefect": _purge(store, reference, purged_at),
        }
    return result


def _purge(store: Store, reference: str, purged_at: dt.datetime | None) -> dict[str, Any]:
    if purged_at is not None:
        return {"removed": True, "at": purged_at.isoformat()}
    try:
        connect(get_settings())
    except ConfigurationError as exc:
        return {"removed": False, "why": str(exc)}
    return {"removed": True, **purge_and_record(store, reference).model_dump(exclude={"reference"})}


def retention_now() -> dict[str, Any]:
    """Run the retention sweep here and now (what the daily `retention` run does).

    Without a server the cases are still erased in the store; their Prefect records are
    removed by the next sweep that can reach it.
    """
    try:
        connect(get_settings())
        reachable = True
    except ConfigurationError:
        reachable = False
    with opened_store() as store:
        result = sweep(store, actor="retention (command line)", purge=reachable)
    return {**result.model_dump(), "prefect_reachable": reachable}
