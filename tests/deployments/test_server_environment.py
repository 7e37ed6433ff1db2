"""The embedded Prefect server listens on the network: it must never hold the master key.

A hostile review found `server_process` handing the whole environment (SAFEPASSAGE_MASTER_KEY
and the store's URL included) to `prefect server start`. Read back from the running server's
own /proc environment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from safepassage.demo.background import free_port
from safepassage.deployments.server_process import ServerProcess, server_environment

SECRET = "c2VjcmV0LWtleS10aGF0LW11c3Qtbm90LWxlYXZlLXRoZS1wcm9jZXNz"


def test_the_server_environment_keeps_prefects_settings_and_drops_safepassages() -> None:
    kept = server_environment(
        {
            "PATH": "/usr/bin",
            "HOME": "/root",
            "PREFECT_HOME": "/p",
            "PYTHONPATH": "/x",
            "SAFEPASSAGE_MASTER_KEY": SECRET,
            "SAFEPASSAGE_DATABASE_URL": "postgresql://u:pw@h/db",
            "AWS_SECRET_ACCESS_KEY": "other",
        }
    )
    assert kept == {"PATH": "/usr/bin", "HOME": "/root", "PREFECT_HOME": "/p", "PYTHONPATH": "/x"}


def test_a_running_server_holds_no_safepassage_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFEPASSAGE_MASTER_KEY", SECRET)
    monkeypatch.setenv("SAFEPASSAGE_DATABASE_URL", "postgresql://u:pw@127.0.0.1/db")
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    server = ServerProcess.start(host="127.0.0.1", port=free_port(), log_path=tmp_path / "s.log")
    try:
        environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
    finally:
        server.stop()
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert "PREFECT_API_URL" in names
    assert not {n for n in names if n.startswith("SAFEPASSAGE_")}
    assert SECRET.encode() not in b"\0".join(environ)
