"""The Prefect UI's files, served by the gateway under /prefect/, and the settings it reads.

Why the gateway serves the bundle itself rather than proxying the Prefect server's UI: with a
server `serve` did not start (named by PREFECT_API_URL), the gateway cannot set that server's
PREFECT_UI_SERVE_BASE or PREFECT_UI_API_URL, and an embedded server would rewrite its copy
into a directory every server of the environment shares. Serving a copy per SafePassage home,
rewritten for /prefect, and answering `ui-settings` here works the same in front of any
server: only the API is proxied (prefect_proxy.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Literal

import prefect

UIVersion = Literal["v1", "v2"]
#: Where people open the coordinators' UI, and the V2 UI under it, as Prefect lays them out.
BASE = "/prefect"
BASES: dict[UIVersion, str] = {"v1": BASE, "v2": f"{BASE}/v2"}
_PLACEHOLDER = "/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER"
_REWRITTEN = (".html", ".js", ".css", ".json", ".txt")
_STAMP = "SAFEPASSAGE_UI_BASE"


def _sources() -> dict[UIVersion, Path]:
    return {
        "v1": Path(prefect.__ui_static_path__),
        "v2": Path(prefect.__ui_v2_static_path__),
    }


def prepare_bundles(folder: Path) -> dict[UIVersion, Path]:
    """Return each UI bundle's files, rewritten for /prefect, copying them into `folder` once.

    A copy is redone when Prefect's version changes; it is written beside and renamed into
    place, so a gateway starting while another serves never sees half a bundle.
    """
    ready: dict[UIVersion, Path] = {}
    for version, source in _sources().items():
        if not (source / "index.html").is_file():
            continue
        target = folder / version
        stamp = f"{prefect.__version__}:{BASES[version]}"
        if not _stamped(target, stamp):
            _copy_rewritten(source, target, BASES[version], stamp)
        ready[version] = target
    return ready


def _stamped(target: Path, stamp: str) -> bool:
    try:
        return (target / _STAMP).read_text() == stamp
    except OSError:
        return False


def _copy_rewritten(source: Path, target: Path, base: str, stamp: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(source, fresh)
    for path in fresh.rglob("*"):
        if path.is_file() and path.suffix in _REWRITTEN:
            text = path.read_text(encoding="utf-8")
            if _PLACEHOLDER in text:
                path.write_text(text.replace(_PLACEHOLDER, base), encoding="utf-8")
    (fresh / _STAMP).write_text(stamp)
    stale = target.with_name(f".{target.name}.stale.{os.getpid()}")
    if target.exists():
        target.rename(stale)
    fresh.rename(target)
    shutil.rmtree(stale, ignore_errors=True)


def ui_settings(versions: list[UIVersion]) -> dict[str, Any]:
    """Return what the UI reads from `ui-settings`: its API is the gateway's /prefect/api.

    CSRF is on: the UI then fetches a token from /prefect/api/csrf-token and sends it with
    every write, and the gateway (not the Prefect server) issues and checks it. No `auth`:
    the gateway's session is the sign-in.
    """
    default: UIVersion = (
        "v2" if prefect.settings.get_current_settings().server.ui.v2_enabled else "v1"
    )
    if default not in versions and versions:
        default = versions[0]
    return {
        "api_url": f"{BASE}/api",
        "csrf_enabled": True,
        "auth": None,
        "flags": [],
        "default_ui": default,
        "available_uis": versions,
        "v1_base_url": BASES["v1"] if "v1" in versions else None,
        "v2_base_url": BASES["v2"] if "v2" in versions else None,
    }
