"""`safepassage keygen` and `safepassage keys rotate|retire|list`: the master-key ring."""

from __future__ import annotations

from typing import Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.json_ready import json_ready

keys_app = typer.Typer(
    help="The master-key ring: rotate daily, retire versions older than the backup window.",
    no_args_is_help=True,
)

By = Annotated[str | None, typer.Option("--by", help="Who is acting (default: your login).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def keygen() -> None:
    """Print a new random master key (store it in your secret manager, not in a file in git)."""
    from safepassage.models.crypto import generate_key_text  # noqa: PLC0415 - imports cryptography; only this command pays

    typer.echo(generate_key_text())


@keys_app.command("rotate")
def rotate(by: By = None, as_json: AsJson = False) -> None:
    """Make a new master-key version and re-wrap every live case's data key under it."""
    from safepassage.services.keys import rotate_keys  # noqa: PLC0415 - opens the store only here

    done = rotate_keys(actor=common.operator_name(by))
    if as_json:
        output.emit_json(json_ready(done))
        return
    output.console.print(
        f"master-key version {done.version} is current; {done.rewrapped} live case(s) re-wrapped",
        markup=False,
    )
    if done.unreadable:
        output.console.print(
            f"{len(done.unreadable)} case(s) could not be opened to re-wrap: "
            + ", ".join(done.unreadable),
            markup=False,
        )


@keys_app.command("retire")
def retire(
    now: Annotated[
        bool, typer.Option("--now", help="Retire every version but the current one at once.")
    ] = False,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Destroy versions replaced longer than SAFEPASSAGE_KEY_BACKUP_DAYS ago (all old: --now).

    Every backup's copy of a data key wrapped under a destroyed version is unreadable for good.
    """
    from safepassage.services.keys import retire_keys  # noqa: PLC0415 - opens the store only here

    retired = retire_keys(actor=common.operator_name(by), at_once=now)
    if as_json:
        output.emit_json({"retired": retired})
        return
    if retired:
        shown = ", ".join(str(n) for n in retired)
        output.console.print(f"retired master-key version(s) {shown}", markup=False)
    else:
        output.console.print("no master-key version is due to retire", markup=False)


@keys_app.command("list")
def list_versions(as_json: AsJson = False) -> None:
    """List the ring's versions (ids and dates, never a key)."""
    from safepassage.services.keys import key_versions  # noqa: PLC0415 - opens the store only here

    views = [json_ready(v) for v in key_versions()]
    if as_json:
        output.emit_json({"versions": views})
        return
    output.table(
        "master-key versions",
        ["version", "key id", "created", "current", "retire after"],
        [_row(v) for v in views],
    )


def _row(view: dict[str, object]) -> tuple[str, ...]:
    retire_after = str(view["retire_after"] or "")[:19]
    current = "yes" if view["current"] else ""
    return (str(view["version"]), str(view["key_id"]), str(view["created"])[:19], current,
            retire_after)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the key commands to the app."""
    app.command("keygen")(keygen)
    app.add_typer(keys_app, name="keys")
