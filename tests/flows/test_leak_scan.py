"""The leak scan: cases with distinctive details run to their end, one is erased, then every
place Prefect and SafePassage keep or send data is searched for those details.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from safepassage.demo.coordinator import play
from safepassage.demo.sample_answers import Scenario, sample_answer
from safepassage.models.checkpoints import Checkpoint
from safepassage.models.errors import KeyUnavailable
from safepassage.models.settings import get_settings
from safepassage.models.store.cases import get_case, read_intake_for_stage
from safepassage.models.store.db import open_store
from safepassage.models.store.orm import OutboxItem, SealedRecord
from safepassage.services.accounts import add_user, create_token
from safepassage.services.interventions import withdraw
from tests.cli.helpers import run_cli
from tests.factories import PERSONAL_VALUES, intake_document
from tests.flows import leak_scan
from tests.flows.conftest import World
from tests.flows.helpers import take

#: A second and a third person, as distinctive as the first (PERSONAL_VALUES).
WITHDRAWN_PERSON = {
    "given_name": "Ottoline",
    "family_name": "Brackenridge",
    "date_of_birth": "1987-09-03",
    "home_locality": "Slobozia-Mare-Nord",
    "phone": "+40 744 318 205",
    "decision_reference": "NRM-RG-55183",
}
REFUSED_PERSON = {
    "given_name": "Perpetua",
    "family_name": "Vandermolen",
    "date_of_birth": "1979-02-11",
    "home_locality": "Ungheni-Vest",
    "phone": "+373 69 402 117",
    "decision_reference": "NRM-CG-31974",
}


def _person(values: dict[str, str]) -> dict[str, Any]:
    return {
        "beneficiary__given_name": values["given_name"],
        "beneficiary__family_name": values["family_name"],
        "beneficiary__date_of_birth": values["date_of_birth"],
        "beneficiary__home_locality": values["home_locality"],
        "beneficiary__phone": values["phone"],
        "identification__decision_reference": values["decision_reference"],
    }


def test_no_detail_leaks_anywhere_and_an_erased_case_is_gone_for_good(
    served: World, tmp_path: Path
) -> None:
    env = {"PREFECT_API_URL": served.api_url}
    # 1. A Bulgarian case to its end, through a missed flight (the secrets in its answers too).
    travelled = take("BG", Scenario(missed_flights=1))
    # 2. A Romanian case withdrawn while its travel document is awaited, then erased. The
    # person declined to share with the embassy: no receiver ever had their details.
    withdrawn = take("RO", Scenario(embassy_consent=False), **_person(WITHDRAWN_PERSON))
    # 3. A case without consent to return: refused at intake, taken in through the CLI twice.
    refused_file = tmp_path / "refused.json"
    refused_file.write_text(
        json.dumps(
            intake_document("ADHOC", consent__voluntary_return=False, **_person(REFUSED_PERSON))
        )
    )
    first = run_cli("intake", str(refused_file), "--json", env=env)
    assert first.code == 0, first.stderr
    refused_ref = first.json()["reference"]
    assert first.json()["decision"]["outcome"] == "ineligible"
    second = run_cli("intake", str(refused_file), env=env)
    assert second.code == 2
    assert f"already taken in as case {refused_ref}" in second.stderr

    play([withdrawn], stop_at={Checkpoint.TRAVEL_DOCUMENT}, timeout=240)
    withdraw(withdrawn.reference, "Decided to stay: family reasons.", actor="AB")
    play([travelled], timeout=400)
    assert travelled.stage == "reintegration"

    erased = run_cli(
        "erase", withdrawn.reference, "--reason", "consent-withdrawn", "--yes", "--json",
        "--by", "dpo", env=env,
    )  # fmt: skip
    assert erased.code == 0, erased.stderr
    assert erased.json()["prefect"]["removed"] is True
    assert erased.json()["prefect"]["flow_runs_deleted"] >= 2  # its return and withdrawal runs

    today = dt.date.today()
    document = sample_answer(
        Checkpoint.TRAVEL_DOCUMENT, attempt=1, scenario=Scenario(), today=today
    )
    ticket = sample_answer(Checkpoint.TICKET, attempt=1, scenario=Scenario(), today=today)
    answered = [document["document_number"], ticket["booking_reference"]]
    everyone = [*PERSONAL_VALUES.values(), *WITHDRAWN_PERSON.values(), *REFUSED_PERSON.values()]

    cli_output = "\n".join(
        run_cli(*args, env=env).stdout
        for args in (
            ("cases",),
            ("case", travelled.reference),
            ("case", withdrawn.reference, "--json"),
            ("case", refused_ref),
            ("status", travelled.reference, "--json"),
            ("audit", travelled.reference),
            ("audit", withdrawn.reference, "--json"),
            ("notifications", travelled.reference),
            ("followups", "--json"),
            ("report", "--json"),
        )
    )
    # A mission's system and a coordinator through the gateway: what they see without a
    # disclosure holds nothing personal; the one consented view is a disclosure on record.
    bg_system = create_token("BG", "bg-system", actor="test").token
    coordinator = add_user("ana", "coordinator", actor="test")
    through_gateway = leak_scan.gateway_dump(served, token=bg_system, coordinator=coordinator)
    bearer = {"Authorization": f"Bearer {bg_system}"}
    with httpx.Client(base_url=served.serving.gateway_url, timeout=60) as gateway:
        ro_case = gateway.get(f"/mission/api/v1/cases/{withdrawn.reference}", headers=bearer)
        shown = gateway.get(f"/mission/api/v1/cases/{travelled.reference}", headers=bearer)
    assert ro_case.status_code == 404
    assert shown.status_code == 200
    assert PERSONAL_VALUES["family_name"] in shown.text  # consented: the mission sees them
    disclosures = run_cli("audit", travelled.reference, "--json", env=env).json()["entries"]
    assert any(e["who"] == "bg-system" for e in disclosures if e["what"] == "revealed")
    haystacks = {
        "the gateway's responses": through_gateway + ro_case.text,
        "Prefect's API": leak_scan.prefect_api_dump(served),
        "Prefect's database": leak_scan.prefect_database_dump(served),
        "the logs": leak_scan.logs_dump(served),
        "Prefect's result files": leak_scan.result_files_dump(served),
        "the case store's files": leak_scan.case_store_dump(served),
        "uncleared receivers": leak_scan.uncleared_deliveries(served),
        "the CLI's output": cli_output,
    }
    assert travelled.reference in haystacks["Prefect's API"]  # the scan sees Prefect's data
    assert travelled.reference in haystacks["the CLI's output"]
    for place, text in haystacks.items():
        for value in [*everyone, *answered]:
            assert value not in text, f"{value!r} found in {place}"
    # The withdrawn person was sent to no cleared receiver either: nothing of theirs anywhere.
    for value in WITHDRAWN_PERSON.values():
        assert value not in leak_scan.all_deliveries(served)

    _assert_erased_for_good(served, withdrawn.reference)


def _assert_erased_for_good(served: World, reference: str) -> None:
    """Nothing of the case opens, even with the master key; Prefect holds none of its runs."""
    store = open_store(get_settings())
    try:
        with store.transaction() as session:
            case = get_case(session, reference)
            assert case.data_key is None
            try:
                read_intake_for_stage(session, store.master_key, case)
            except KeyUnavailable:
                pass
            else:  # pragma: no cover - the point of the test
                raise AssertionError("the erased intake still opened")
            sealed = select(func.count()).select_from(SealedRecord)
            assert session.scalar(sealed.where(SealedRecord.case_id == case.id)) == 0
            bodies = select(func.count()).select_from(OutboxItem)
            assert (
                session.scalar(
                    bodies.where(OutboxItem.case_id == case.id, OutboxItem.sealed_body.is_not(None))
                )
                == 0
            )
            assert (case.programme, case.stage) == ("RO", "withdrawn")  # statistics remain
    finally:
        store.dispose()
    with httpx.Client(base_url=served.api_url, timeout=30) as api:
        runs = api.post(
            "/flow_runs/filter", json={"flow_runs": {"name": {"like_": reference}}}
        ).json()
        artifacts = api.post(
            "/artifacts/filter", json={"artifacts": {"key": {"like_": reference.lower()}}}
        ).json()
    assert runs == []
    assert artifacts == []
