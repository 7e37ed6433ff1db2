"""The words above the reception forms in the Prefect UI: what to do, on whose behalf, by when."""

from __future__ import annotations

from pathlib import Path

from safepassage.flows.forms import RUN_INPUTS, describe
from safepassage.models.checkpoints import FORMS, Checkpoint

REFERENCE = "BG-7Q2K-4MXD"


def test_every_checkpoint_has_a_form_the_ui_can_show() -> None:
    assert set(RUN_INPUTS) == set(FORMS) == set(Checkpoint)


def test_the_reception_form_says_a_coordinator_answers_on_the_missions_behalf(home: Path) -> None:
    text = describe(
        Checkpoint.RECEPTION, reference=REFERENCE, attempt=2, escort_required=False, problems=[]
    )
    assert f"### Case `{REFERENCE}`: reception" in text
    assert "(ask 2)" in text
    assert "normally answers in its own portal" in text
    assert "entered on the mission's behalf" in text
    assert "name of the account you signed in with" in text
    assert "**Time limit:** 3 days; the mission is reminded once halfway" in text


def test_the_decision_form_names_both_choices_and_its_own_time_limit(home: Path) -> None:
    text = describe(
        Checkpoint.RECEPTION_DECISION,
        reference=REFERENCE,
        attempt=1,
        escort_required=False,
        problems=[],
    )
    assert "**retry** asks the mission again" in text
    assert "**stop** ends the return" in text
    assert "**Time limit:** 2 days; coordinators are alerted" in text
    assert "reminded" not in text
