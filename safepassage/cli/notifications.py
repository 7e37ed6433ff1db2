"""`safepassage notifications`, `notifications retry REF` and `notify-test TAG`.

The listing shows where each message stands (reference, event, target label, level, state,
attempts, times) and never a body, a URL or anything personal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from safepassage.cli import common, output

if TYPE_CHECKING:  # apprise and the store: imported in the commands that need them
    from safepassage.notifications import OutboxView

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
    retry, reference = common.action_or_reference(
        words,
        RETRY,
        reference_required=True,
        usage="give at most one case reference (or `retry REF`)",
        action_usage="`retry` takes one case reference: notifications retry REF",
        refused="--failed filters the listing; it does not go with `retry`" if failed else None,
    )
    if retry and reference is not None:
        _retry(reference, as_json=as_json)
        return
    from safepassage.services.notifications import list_notifications  # noqa: PLC0415 - imports apprise; only this command pays

    views = list_notifications(reference=reference, failed_only=failed, limit=limit)
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
    from safepassage.services.notifications import retry_failed  # noqa: PLC0415 - imports apprise; only this command pays

    retry = retry_failed(reference, actor=common.operator_name(None))
    report = retry.delivery
    if as_json:
        output.emit_json(
            {"reference": reference, "requeued": retry.requeued, "delivery": report.as_dict()}
        )
        return
    output.console.print(
        f"{reference}: requeued {retry.requeued} failed deliveries; sent {report.sent}, "
        f"{report.retrying} will be retried, {report.failed} failed again"
    )


def notify_test(
    tag: Annotated[str, typer.Argument(help="The tag to test, e.g. mission-ro or coordinators.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Send a test message, with no case data, to every target with TAG."""
    from safepassage.services.notifications import send_test  # noqa: PLC0415 - imports apprise; only this command pays

    results = send_test(tag)
    if as_json:
        output.emit_json([{"target": label, "sent": ok} for label, ok in results])
    else:
        for label, ok in results:
            output.console.print(f"{label}: {'sent' if ok else 'FAILED'}")
    if not all(ok for _, ok in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the notification commands to the app."""
    app.command("notifications")(notifications)
    app.command("notify-test")(notify_test)
