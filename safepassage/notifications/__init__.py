"""Tell receiving missions, embassies and coordinators of every stage, through Apprise.

The public surface; the modules behind it are small and private in spirit:

    events.py        the events, who hears of each, and the next action expected (tables)
    targets.py       the Apprise YAML configuration: loaded, checked and cached per process
    render.py        the minimal and detailed texts, from Jinja2 templates
    outbox.py        queueing in the caller's transaction; listing and requeueing
    deliver.py       claiming, sending and recording, with retries and backoff
    drainer.py       a daemon thread that delivers what is due in a serving process
    jsonl_target.py  the `jsonl://` scheme of the embedded default (local JSON-lines logs)
    transport.py     whether a target's transport may carry details (`secure`: verified TLS)

This is the only package that imports `apprise`, and it never imports `prefect`.
"""

from __future__ import annotations

from safepassage.notifications.deliver import (
    DeliveryReport,
    deliver_due,
    deliver_now,
    send_message,
    send_test_message,
)
from safepassage.notifications.drainer import OutboxDrainer
from safepassage.notifications.events import (
    AUDIENCE_EVENTS,
    NEXT_ACTION,
    Audience,
    Event,
    audiences_for,
    next_action,
    tag_for,
)
from safepassage.notifications.outbox import (
    OutboxView,
    Queued,
    State,
    list_outbox,
    queue_notifications,
    requeue_failed,
)
from safepassage.notifications.render import Level
from safepassage.notifications.targets import (
    Target,
    Targets,
    clear_targets_cache,
    load_targets,
)

__all__ = [
    "AUDIENCE_EVENTS",
    "NEXT_ACTION",
    "Audience",
    "DeliveryReport",
    "Event",
    "Level",
    "OutboxDrainer",
    "OutboxView",
    "Queued",
    "State",
    "Target",
    "Targets",
    "audiences_for",
    "clear_targets_cache",
    "deliver_due",
    "deliver_now",
    "list_outbox",
    "load_targets",
    "next_action",
    "queue_notifications",
    "requeue_failed",
    "send_message",
    "send_test_message",
    "tag_for",
]
