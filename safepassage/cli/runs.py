"""`safepassage serve`, `status` and `resume`: running cases as Prefect flow runs.

Prefect is imported inside the commands: it takes seconds, and the other commands need none of it.
`status` never imports it: it asks the server over its REST API (orchestration/prefect_api.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from safepassage.cli import common, output
from safepassage.deployments.stop_signals import stop_signals
from safepassage.models.settings import get_settings


def serve(
    *,
    host: Annotated[str, typer.Option(help="Address the Prefect server listens on.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(min=1, max=65535, help="The Prefect server's port (people never open it)."),
    ] = 4201,
    gateway_host: Annotated[
        str, typer.Option(help="Address the gateway listens on (beyond loopback: TLS only).")
    ] = "127.0.0.1",
    gateway_port: Annotated[
        int, typer.Option(min=1, max=65535, help="The gateway's port: where people sign in.")
    ] = 4200,
    certfile: Annotated[
        Path | None, typer.Option(help="The gateway's TLS certificate chain (PEM).")
    ] = None,
    keyfile: Annotated[
        Path | None, typer.Option(help="The certificate's private key (PEM).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Flow-run processes at once (default: 2 per core)."),
    ] = None,
) -> None:
    """Start the Prefect server (unless PREFECT_API_URL names one), the gateway in front of it,
    and serve the deployments."""
    # First thing, before the seconds of importing Prefect: from here SIGTERM and SIGHUP stop
    # `serve` as Ctrl-C does, whatever it is doing (deployments/stop_signals.py).
    with stop_signals():
        try:
            from safepassage.deployments.serve import serve as run_serving  # noqa: PLC0415 - imports prefect (3 s); only this command pays
            from safepassage.gateway.server import GatewayBind  # noqa: PLC0415 - imports uvicorn; only this command pays

            bind = GatewayBind(gateway_host, gateway_port, certfile, keyfile)

            def ready(address: Any) -> None:
                output.notice(
                    f"SafePassage is serving. Sign in at {address.ui_url.removesuffix('/prefect')}/"
                    f" (coordinators' Prefect UI: {address.ui_url}/)  (Ctrl-C stops)"
                )

            run_serving(
                get_settings(), host=host, port=port, gateway=bind, limit=limit, on_ready=ready
            )
        except KeyboardInterrupt:  # stopped while starting: what had started is stopped
            pass
    output.notice("stopped; nothing is lost: `safepassage serve` picks up where it left off")


def maintain() -> None:
    """With flows on Prefect workers: retry notifications and restart runs whose worker died."""
    with stop_signals():  # SIGTERM and SIGHUP stop it as Ctrl-C does, from the start
        try:
            from safepassage.deployments.maintain import maintain as run_maintenance  # noqa: PLC0415 - imports prefect (3 s); only this command pays

            output.notice("retrying notifications and watching for orphaned runs (Ctrl-C stops)")
            run_maintenance(get_settings())
        except KeyboardInterrupt:
            pass
    output.notice("stopped")


def status(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show where a case stands and what it waits for."""
    from safepassage.services.checkpoints import case_status  # noqa: PLC0415 - opens the store only here (and asks Prefect over HTTP, without importing it)

    result = case_status(common.reference_argument(reference))
    if as_json:
        output.emit_json(result)
        return
    waiting = result["waiting_for"] or "nothing (running or ended)"
    output.console.print(
        f"{result['reference']}: stage {result['stage']}, {result['status']}; "
        f"waiting for {waiting}\nrun: {result['run_state']}  {result['ui_url'] or ''}",
        markup=False,
    )


def resume(
    reference: Annotated[str, typer.Argument(help="The case reference.")],
    input_file: Annotated[Path, typer.Option("--input", help="The checkpoint answer (JSON).")],
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            help="The checkpoint you answer (a safeguard); `followup-report-N` names follow-up "
            "N, needed when several wait at once.",
        ),
    ] = None,
) -> None:
    """Answer the checkpoint a case waits at, exactly as the Prefect UI form would."""
    from safepassage.models.intake import load_json_document  # noqa: PLC0415 - pydantic; only this command pays
    from safepassage.services.checkpoints import answer_checkpoint  # noqa: PLC0415 - imports prefect (3 s); only this command pays

    ref = common.reference_argument(reference)
    raw = load_json_document(common.read_document(input_file, source="answer"), source="answer")
    if isinstance(raw, dict):  # entered by the operator at this login, whatever the file says
        claimed = raw.get("entered_by")
        raw["entered_by"] = common.operator_name(claimed if isinstance(claimed, str) else None)
    answered = answer_checkpoint(ref, raw, expected=checkpoint)
    output.console.print(f"resumed {ref} at {answered.value}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the run commands to the app."""
    app.command("serve")(serve)
    app.command("maintain")(maintain)
    app.command("status")(status)
    app.command("resume")(resume)
