"""`safepassage users ...` and `safepassage tokens ...`: the office's accounts and mission tokens.

An operator's tool on the server: what it changes is recorded as `cli:<login>`. A password,
a TOTP enrolment URI or a token is printed once, when it is made, on standard output only;
the lists never show a hash or a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from safepassage.cli import common, output
from safepassage.models.json_ready import json_ready

if TYPE_CHECKING:  # the services open the store: imported in the commands that need it
    from safepassage.services.accounts import Credentials

users_app = typer.Typer(
    help="Accounts for the gateway: coordinators, mission officers, auditors.",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="API tokens for the receiving missions' own systems.", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Name = Annotated[str, typer.Argument(help="The account's name, for example ana.petrova.")]
Mission = Annotated[
    str | None,
    typer.Option("--mission", help="The mission's country code (ISO 3166-1), for example RO."),
]

_HAND_OVER = (
    "Give these to {name} in person or by a channel you trust; they are not shown again. "
    "The URI goes into an authenticator app (as a QR code, or typed in)."
)


@users_app.command("add")
def add(
    name: Name,
    role: Annotated[
        str, typer.Option("--role", help="coordinator, mission or auditor.", show_default=False)
    ],
    mission: Mission = None,
    as_json: AsJson = False,
) -> None:
    """Add an account; print its initial password and TOTP enrolment URI, once."""
    from safepassage.services.accounts import add_user  # noqa: PLC0415 - opens the store only here

    _show_credentials(
        add_user(name, role, mission, actor=common.operator_name(None)), as_json, "added"
    )


@users_app.command("list")
def list_users(as_json: AsJson = False) -> None:
    """List the accounts: role, mission, state, last sign-in (never a password or a secret)."""
    from safepassage.services.accounts import list_users as listed  # noqa: PLC0415

    views = [json_ready(v) for v in listed()]
    if as_json:
        output.emit_json({"users": views})
        return
    output.table(
        "accounts",
        ["name", "role", "mission", "state", "last sign-in", "created"],
        [_user_row(v) for v in views],
    )


def _user_row(view: dict[str, object]) -> tuple[str, ...]:
    state = "disabled" if view["disabled"] else "active"
    if view["locked_until"] and not view["disabled"]:
        state = f"locked until {str(view['locked_until'])[:19]}"
    return (str(view["name"]), str(view["role"]), str(view["mission"] or ""), state,
            str(view["signed_in_at"] or "")[:19], str(view["created_at"])[:19])  # fmt: skip


@users_app.command("disable")
def disable(name: Name) -> None:
    """Disable an account: its sign-ins are refused from now on (`users reset` enables it)."""
    from safepassage.services.accounts import disable_user  # noqa: PLC0415

    if disable_user(name, actor=common.operator_name(None)):
        output.console.print("account disabled", markup=False)
    else:
        output.console.print("the account was disabled already", markup=False)


@users_app.command("reset")
def reset(name: Name, as_json: AsJson = False) -> None:
    """Give an account a new password and TOTP secret, printed once; unlock and enable it."""
    from safepassage.services.accounts import reset_user  # noqa: PLC0415

    _show_credentials(reset_user(name, actor=common.operator_name(None)), as_json, "reset")


def _show_credentials(made: Credentials, as_json: bool, done: str) -> None:
    if as_json:
        output.emit_json({"name": made.name, "role": made.role, "mission": made.mission,
                          "password": made.password, "totp_uri": made.totp_uri})  # fmt: skip
        return
    role = f"mission {made.mission}" if made.mission else made.role
    output.console.print(f"account {made.name} ({role}) {done}", markup=False)
    output.console.print(_HAND_OVER.format(name=made.name), markup=False)
    output.console.print(f"  password: {made.password}", markup=False)
    output.console.print(f"  TOTP URI: {made.totp_uri}", markup=False)


@tokens_app.command("create")
def create(
    mission: Annotated[
        str,
        typer.Option(
            "--mission",
            help="The mission's country code (ISO 3166-1), for example RO.",
            show_default=False,
        ),
    ],
    name: Annotated[
        str,
        typer.Option(
            "--name",
            help="What the audit trail calls this system, for example ro-mission-api.",
            show_default=False,
        ),
    ],
    as_json: AsJson = False,
) -> None:
    """Make an API token for a mission's own system; print it once (only its hash is kept)."""
    from safepassage.services.accounts import create_token  # noqa: PLC0415

    made = create_token(mission, name, actor=common.operator_name(None))
    if as_json:
        output.emit_json({"name": made.name, "mission": made.mission, "token": made.token})
        return
    output.console.print(f"token {made.name} made for mission {made.mission}", markup=False)
    output.console.print(
        "Give it to the mission's system administrator by a channel you trust; it is not "
        "shown again.",
        markup=False,
    )
    output.console.print(f"  token: {made.token}", markup=False)


@tokens_app.command("list")
def list_tokens(as_json: AsJson = False) -> None:
    """List the mission tokens, revoked ones included (never a token or its hash)."""
    from safepassage.services.accounts import list_tokens as listed  # noqa: PLC0415

    views = [json_ready(v) for v in listed()]
    if as_json:
        output.emit_json({"tokens": views})
        return
    output.table(
        "mission tokens",
        ["name", "mission", "created", "revoked"],
        [(str(v["name"]), str(v["mission"]), str(v["created_at"])[:19],
          str(v["revoked_at"] or "")[:19]) for v in views],
    )  # fmt: skip


@tokens_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name (see `tokens list`).")],
) -> None:
    """Revoke a mission token at once."""
    from safepassage.services.accounts import revoke_token  # noqa: PLC0415

    if revoke_token(name, actor=common.operator_name(None)):
        output.console.print("token revoked", markup=False)
    else:
        output.console.print("the token was revoked already", markup=False)


def register(app: typer.Typer) -> None:
    """Add the account and token commands to the app."""
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
