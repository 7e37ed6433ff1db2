"""Notifications as people handle them: where each delivery stands, a retry, a test message.

Nothing here talks to Prefect: deliveries go straight from this process through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from safepassage.models.clock import utcnow
from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.models.store.db import opened_store
from safepassage.notifications import (
    DeliveryReport,
    OutboxView,
    deliver_due,
    list_outbox,
    load_targets,
    requeue_failed,
    send_test_message,
)


def list_notifications(
    *, reference: str | None = None, failed_only: bool = False, limit: int | None = None
) -> list[OutboxView]:
    """Return deliveries, newest first (of one case, or only failed ones): never a body or URL."""
    with opened_store() as store, store.transaction() as session:
        if reference is not None:
            get_case(session, reference)  # CaseNotFound rather than an empty list
        return list_outbox(session, reference=reference, failed_only=failed_only, limit=limit)


@dataclass(frozen=True)
class Retry:
    """What a retry did: how many failed deliveries were requeued, and how sending them went."""

    requeued: int
    delivery: DeliveryReport


def retry_failed(reference: str, *, actor: str) -> Retry:
    """Requeue a case's failed deliveries with fresh attempts, and send them now."""
    settings = get_settings()
    with opened_store() as store:
        targets = load_targets(settings)  # a broken configuration stops us before we requeue
        with store.transaction() as session:
            case = get_case(session, reference)
            count = requeue_failed(session, case, actor=actor, now=utcnow())
        report = deliver_due(store, reference=reference, targets=targets, settings=settings)
    return Retry(requeued=count, delivery=report)


def send_test(tag: str) -> list[tuple[str, bool]]:
    """Send a test message, with no case data, to every target tagged `tag`; say which got it.

    Returns each target's label with whether it was sent; raises ConfigurationError if no
    target has the tag.
    """
    tag = tag.strip().lower()
    targets = load_targets(get_settings())
    if not targets.find(tag):
        raise ConfigurationError(
            f"no notification target is tagged {tag} in {targets.path}: check the spelling, or "
            f"add an entry with `tag: {tag}`"
        )
    return [(target.label, sent) for target, sent in send_test_message(targets, tag, now=utcnow())]
