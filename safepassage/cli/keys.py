"""`safepassage keygen`: print a new master key for SAFEPASSAGE_MASTER_KEY."""

from __future__ import annotations

import typer

from safepassage.models.crypto import generate_key_text


def keygen() -> None:
    """Print a new random master key (store it in your secret manager, not in a file in git)."""
    typer.echo(generate_key_text())


def register(app: typer.Typer) -> None:
    """Add the key generator to the app."""
    app.command("keygen")(keygen)
