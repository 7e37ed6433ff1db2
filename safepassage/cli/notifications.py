"""`safepassage notifications`, `notifications retry REF` and `notify-test TAG`.

The listing shows where each message stands (reference, event, target label, level, state,
attempts, times) and never a body, a URL or anything personal.
"""

from __future__ import annotations

from typing import Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case
from safepassage.notifications import (
    OutboxView,
    deliver_due,
    list_outbox,
    load_targets,
    requeue_failed,
    send_test_message,
)

RETRY = "retry"


def notifications(
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[REF | retry REF]",
            help="A case reference to list only its deliveries, or `retry REF` to requeue "
            "the case's failed deliveries and send them now.",
            show_default=False,
        ),
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="List only deliveries that gave up.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many.")] = 200,
) -> None:
    """List notification deliveries and their state; `retry REF` resends a case's failed ones."""
    # One command with a free argument list rather than a group: click parses a group's own
    # argument before its subcommand, so `notifications REF` and `notifications retry REF`
    # could not both work. A reference can never be the word `retry`.
    args = list(words or [])
    if args and args[0].lower() == RETRY:
        if len(args) != 2:
            raise typer.BadParameter("`retry` takes one case reference: notifications retry REF")
        if failed:
            raise typer.BadParameter("--failed filters the listing; it does not go with `retry`")
        _retry(common.reference_argument(args[1]), as_json=as_json)
        return
    if len(args) > 1:
        raise typer.BadParameter("give at most one case reference (or `retry REF`)")
    reference = common.reference_argument(args[0]) if args else None
    _list(reference, failed=failed, as_json=as_json, limit=limit)


def _list(reference: str | None, *, failed: bool, as_json: bool, limit: int) -> None:
    store = common.store()
    try:
        with store.transaction() as session:
            if reference is not None:
                get_case(session, reference)  # CaseNotFound (exit 2) rather than an empty list
            views = list_outbox(session, reference=reference, failed_only=failed, limit=limit)
    finally:
        store.dispose()
    if as_json:
        output.emit_json([v.as_dict() for v in views])
        return
    if not views:
        output.console.print("no failed deliveries" if failed else "no notifications yet")
        return
    output.table(
        None,
        ["reference", "event", "target", "level", "state", "attempts", "queued", "sent / next"],
        [_row(v) for v in views],
    )


def _row(view: OutboxView) -> tuple[str, ...]:
    when = (
        view.sent_at if view.sent_at else view.next_attempt_at if view.state == "pending" else None
    )
    return (
        view.reference,
        view.event,
        view.target,
        view.level_sent or view.level,
        view.state,
        str(view.tries),
        f"{view.created_at:%Y-%m-%d %H:%M}",
        f"{when:%Y-%m-%d %H:%M}" if when else "",
    )


def _retry(reference: str, *, as_json: bool) -> None:
    settings = get_settings()
    store = common.store()
    try:
        targets = load_targets(settings)  # a broken configuration stops us before we requeue
        with store.transaction() as session:
            case = get_case(session, reference)
            count = requeue_failed(
                session, case, actor=common.operator_name(None), now=common.now()
            )
        report = deliver_due(store, reference=reference, targets=targets, settings=settings)
    finally:
        store.dispose()
    if as_json:
        output.emit_json({"reference": reference, "requeued": count, "delivery": report.as_dict()})
        return
    output.console.print(
        f"{reference}: requeued {count} failed deliveries; sent {report.sent}, "
        f"{report.retrying} will be retried, {report.failed} failed again"
    )


def notify_test(
    tag: Annotated[str, typer.Argument(help="The tag to test, e.g. mission-ro or coordinators.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Send a test message, with no case data, to every target with TAG."""
    tag = tag.strip().lower()
    targets = load_targets(get_settings())
    if not targets.find(tag):
        raise ConfigurationError(
            f"no notification target is tagged {tag} in {targets.path}: check the spelling, or "
            f"add an entry with `tag: {tag}`"
        )
    results = send_test_message(targets, tag, now=common.now())
    if as_json:
        output.emit_json([{"target": t.label, "sent": ok} for t, ok in results])
    else:
        for target, ok in results:
            output.console.print(f"{target.label}: {'sent' if ok else 'FAILED'}")
    if not all(ok for _, ok in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the notification commands to the app."""
    app.command("notifications")(notifications)
    app.command("notify-test")(notify_test)
