"""The receiving missions' own systems, as the demo plays them: the mission API over HTTP.

Each mission answers its own checkpoints (reception, arrival, follow-up reports) with its
bearer token and the JSON bodies the API documents (/mission/api/v1/docs), as a mission's case
system would; the gateway records each answer under the token's name. The answers are the
same sample answers the coordinator would type, less `entered_by`: the API takes the name
from the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from safepassage.gateway.mission_api import BASE
from safepassage.models.checkpoints import MISSION_CHECKPOINTS, Checkpoint
from safepassage.models.errors import SafePassageError
from safepassage.services.accounts import NewToken

#: Answers that mean "not now, ask again shortly": the case does not wait for this yet (the
#: run is on its way to the checkpoint), or the workflow server is briefly busy.
_TRY_AGAIN = frozenset({409, 503})


class MissionSystems:
    """The missions' systems, one token each, sending their answers to the gateway."""

    def __init__(
        self,
        gateway_url: str,
        tokens: Mapping[str, NewToken],
        *,
        client: httpx.Client | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Talk to the gateway at `gateway_url` (or through `client`, e.g. a test's)."""
        self._tokens = {country.upper(): token for country, token in tokens.items()}
        self._client = client or httpx.Client(base_url=gateway_url.rstrip("/"), timeout=timeout)

    def answers(self, country: str | None, checkpoint: Checkpoint) -> bool:
        """Return whether `country`'s mission answers `checkpoint` itself, through the API."""
        return (
            checkpoint in MISSION_CHECKPOINTS
            and country is not None
            and country.upper() in self._tokens
        )

    def submit(
        self,
        country: str,
        reference: str,
        checkpoint: Checkpoint,
        answer: Mapping[str, Any],
        *,
        attempt: int,
    ) -> str | None:
        """Send a mission's answer; return the token's name it is recorded under.

        Returns None when the case does not wait for it yet (409) or the server is busy (503):
        ask again on the next round. Raises SafePassageError for any other refusal, with the
        fields at fault the API names.
        """
        token = self._tokens[country.upper()]
        path = f"{BASE}/cases/{reference}/{_endpoint(checkpoint, attempt)}"
        body = {name: value for name, value in answer.items() if name != "entered_by"}
        try:
            response = self._client.post(
                path, json=body, headers={"Authorization": f"Bearer {token.token}"}
            )
        except httpx.TransportError as exc:
            raise SafePassageError(
                f"the gateway at {self._client.base_url} does not answer ({type(exc).__name__})"
            ) from None
        if response.status_code == 202:
            return token.name
        if response.status_code in _TRY_AGAIN:
            return None
        raise SafePassageError(
            f"the mission API refused {checkpoint.value} for {reference} "
            f"({response.status_code}): {_why(response)}"
        )

    def close(self) -> None:
        """Close the connections to the gateway."""
        self._client.close()


def _endpoint(checkpoint: Checkpoint, attempt: int) -> str:
    if checkpoint is Checkpoint.FOLLOWUP_REPORT:
        return f"followups/{attempt}"
    if checkpoint is Checkpoint.REINTEGRATION_PLAN:
        return "plan"
    return checkpoint.value  # reception, arrival: the checkpoint's own name


def _why(response: httpx.Response) -> str:
    try:
        refusal = response.json()
        problems = "; ".join(f"{p['field']} {p['message']}" for p in refusal.get("problems", []))
        return f"{refusal['detail']} {problems}".strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return response.reason_phrase
