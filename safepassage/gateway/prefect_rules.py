"""Which Prefect API requests a coordinator's browser may make through the gateway.

The Prefect UI is Prefect's: it can do anything the API can, and the open-source server has
no roles. The gateway lets through what a coordinator needs and nothing else:

- reads (GET, and the POSTs the UI reads with: `.../filter`, `/count`, `/paginate`,
  `/history`, `/lateness`, `/ui/...`, `/events/count-by/...`);
- resuming a run (`/flow_runs/{id}/resume`), its answer signed with the coordinator's name;
- cancelling a run (`set_state` to CANCELLING, never forced);
- starting a run of an existing deployment (`create_flow_run`, without job variables, which
  would let a browser choose the command a worker runs).

Everything else is refused: creating or changing deployments (their pull steps run code on
workers), blocks, variables, work pools, automations, writes to a run's inputs, deletes. Some
reads are refused too: a checkpoint's pending answer (`...-response` inputs, and the input
filter that returns them) holds personal data until the flow seals it; blocks can hold
secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: What the refusal says; the same for every refused request, so it reveals nothing.
REFUSED = (
    "Refused by the SafePassage gateway: coordinators may read, resume, cancel and start "
    "runs of existing deployments here; anything else is done by an operator on the server."
)

_READ_POST_ENDINGS = frozenset({"filter", "count", "paginate", "history", "lateness"})
_RUN = r"/flow_runs/[0-9a-fA-F-]{36}"
_RESUME = re.compile(rf"^{_RUN}/resume$")
_SET_STATE = re.compile(rf"^{_RUN}/set_state$")
_START = re.compile(r"^/deployments/[0-9a-fA-F-]{36}/create_flow_run$")
_RUN_INPUT = re.compile(rf"^{_RUN}/input(/|$)")
#: The form and its words, which the UI needs to show the Resume form; never the answer.
_FORM_INPUT = re.compile(rf"^{_RUN}/input/[A-Za-z0-9_.-]+-(schema|description)$")
_NEVER_READ = (re.compile(r"^/block_"),)


@dataclass(frozen=True)
class Verdict:
    """Whether a request may pass, and what kind of write it is if it is one."""

    allowed: bool
    action: str = "read"  # "read", "resume", "cancel" or "start"


REFUSE = Verdict(allowed=False, action="refused")


def judge(method: str, path: str, body: Any = None) -> Verdict:
    """Judge one request to the Prefect API; `path` is relative to `/api`, `body` its JSON."""
    method = method.upper()
    if not path.startswith("/") or ".." in path or "//" in path:
        return REFUSE
    if any(pattern.match(path) for pattern in _NEVER_READ):
        return REFUSE
    if _RUN_INPUT.match(path):
        # Only the Resume form's own parts may be read; nothing here may be written.
        return Verdict(True) if method in {"GET", "HEAD"} and _FORM_INPUT.match(path) else REFUSE
    if method in {"GET", "HEAD", "OPTIONS"}:
        return Verdict(True)
    if method != "POST":
        return REFUSE
    if _is_read_post(path):
        return Verdict(True)
    if _RESUME.match(path):
        return Verdict(True, "resume")
    if _SET_STATE.match(path):
        return Verdict(True, "cancel") if _is_cancel(body) else REFUSE
    if _START.match(path):
        return Verdict(True, "start") if _is_plain_start(body) else REFUSE
    return REFUSE


def _is_read_post(path: str) -> bool:
    return (
        path.rsplit("/", 1)[-1] in _READ_POST_ENDINGS
        or path.startswith("/ui/")
        or path.startswith("/events/count-by/")
    )


def _is_cancel(body: Any) -> bool:
    if not isinstance(body, dict) or body.get("force"):
        return False
    state = body.get("state")
    return isinstance(state, dict) and state.get("type") == "CANCELLING"


def _is_plain_start(body: Any) -> bool:
    if body is None:
        return True
    return isinstance(body, dict) and not body.get("job_variables")


def signed_resume(body: Any, name: str) -> dict[str, Any]:
    """Return a resume's body with the answer's `entered_by` set to the signed-in `name`.

    Whatever the form said: the audit trail records who was signed in, not who they typed.
    """
    resumed: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
    answer = resumed.get("run_input")
    if isinstance(answer, dict):
        resumed["run_input"] = {**answer, "entered_by": name}
    return resumed
