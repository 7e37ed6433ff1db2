"""Everything Prefect and SafePassage keep or send, as text, for tests to search for leaks."""

from __future__ import annotations

import base64
import json
import sqlite3

import httpx

from safepassage.services.accounts import Credentials
from tests.flows.conftest import MISSION_BG_MAILBOX, World
from tests.gateway.missions import code_now, form_csrf
from tests.receivers import everything

#: Receivers cleared (`secure`) for details in tests/flows/conftest.py's FLOW_TARGETS.
CLEARED_PATHS = {"/mission-hu", "/embassy-ro"}


def prefect_api_dump(world: World) -> str:
    """Return what Prefect's API shows: runs, task runs, inputs, graphs, artifacts, logs, events."""
    parts: list[str] = []
    with httpx.Client(base_url=world.api_url, timeout=30) as api:
        for resource in ("flow_runs", "task_runs", "artifacts", "deployments", "variables"):
            parts.append(api.post(f"/{resource}/filter", json={"limit": 200}).text)
        parts.append(api.post("/logs/filter", json={"limit": 200}).text)
        for run in api.post("/flow_runs/filter", json={"limit": 200}).json():
            parts.append(
                api.post(
                    f"/flow_runs/{run['id']}/input/filter", json={"prefix": "", "limit": 100}
                ).text
            )
            parts.append(api.get(f"/flow_runs/{run['id']}/graph-v2").text)
        parts.append(api.post("/events/filter", json={"limit": 200}).text)
    return "\n".join(parts)


def prefect_database_dump(world: World) -> str:
    """Return a logical dump of Prefect's SQLite database, and its files' raw bytes."""
    database = world.home / "prefect" / "prefect.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        dump = "\n".join(connection.iterdump())
    raw = b"".join(p.read_bytes() for p in database.parent.glob("prefect.db*"))
    return dump + raw.decode("utf-8", "replace")


def result_files_dump(world: World) -> str:
    """Return Prefect's stored results (and the pickles inside them) as text."""
    texts = []
    for path in (world.home / "prefect").rglob("*"):
        if not path.is_file() or path.suffix in {".db", ".log"} or "prefect.db" in path.name:
            continue
        raw = path.read_bytes()
        texts.append(raw.decode("utf-8", "replace"))
        try:  # persisted results are JSON with a base64 cloudpickle payload: look inside too
            payload = json.loads(raw)["result"]
            texts.append(base64.b64decode(payload).decode("utf-8", "replace"))
        except (ValueError, KeyError, TypeError):
            continue
    return "\n".join(texts)


def logs_dump(world: World) -> str:
    """Return every log file under the served home (serve's, the server's, the runs')."""
    return "\n".join(p.read_text(errors="replace") for p in world.home.rglob("*.log"))


def case_store_dump(world: World) -> str:
    """Return the raw bytes of the case store's SQLite files (database and write-ahead log)."""
    files = [p for p in world.home.glob("*.db*") if p.is_file()]
    assert files, "the case store's files were not found"
    return b"".join(p.read_bytes() for p in files).decode("utf-8", "replace")


def uncleared_deliveries(world: World) -> str:
    """Return every message delivered to a receiver not cleared for details."""
    return "\n".join(r.text for r in world.http.accepted if r.path not in CLEARED_PATHS)


def all_deliveries(world: World) -> str:
    """Return every message delivered anywhere, cleared receivers and mailboxes included."""
    mails = ["\n".join(everything(m)) for m in world.smtp.to(MISSION_BG_MAILBOX)]
    return "\n".join([*(r.text for r in world.http.accepted), *mails])


def gateway_dump(world: World, *, token: str, coordinator: Credentials) -> str:
    """Return what the gateway shows without disclosing: a mission's case list (API and portal
    need no consent: references, stages and deadlines only), another mission's case (a 404),
    and what the coordinators' Prefect UI reads through it."""
    parts: list[str] = []
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=world.serving.gateway_url, timeout=60) as gateway:
        parts.append(gateway.get("/mission/api/v1/cases", headers=bearer).text)
        parts.append(gateway.get("/login").text)
        signed_in = gateway.post(
            "/login",
            data={"csrf": form_csrf(gateway.get("/login").text), "username": coordinator.name,
                  "password": coordinator.password, "code": code_now(coordinator)},
        )  # fmt: skip
        assert signed_in.status_code == 303, signed_in.text
        client = "leak-scan"
        token_for_ui = gateway.get(f"/prefect/api/csrf-token?client={client}").json()["token"]
        ui = {"Prefect-Csrf-Token": token_for_ui, "Prefect-Csrf-Client": client,
              "Origin": world.serving.gateway_url}  # fmt: skip
        for resource in ("flow_runs", "task_runs", "artifacts", "logs", "events", "deployments"):
            answer = gateway.post(
                f"/prefect/api/{resource}/filter",
                json={"limit": 50 if resource == "events" else 200},  # events allow 50 at most
                headers=ui,
            )
            assert answer.status_code == 200, (resource, answer.text)
            parts.append(answer.text)
        parts.append(gateway.get("/").text)
    return "\n".join(parts)
