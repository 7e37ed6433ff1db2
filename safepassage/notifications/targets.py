"""Load, check and cache the notification targets: an Apprise YAML file with our tags.

Apprise only logs a broken configuration and silently skips an entry it cannot use, which here
would mean a receiving mission never hears of a person's arrival. So the file is checked entry
by entry at start-up, and every problem is a ConfigurationError naming the file and the line.
Credentials come from the environment as `${NAME}` and are substituted here, before Apprise
sees the text; nothing that holds a substituted value is ever logged or stored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import apprise
import yaml

from safepassage.models.errors import ConfigurationError
from safepassage.models.settings import Settings, get_settings
from safepassage.notifications import jsonl_target
from safepassage.notifications.events import (
    PROGRAMME_COUNTRIES,
    SECURE_TAG,
    Audience,
    tag_for,
)
from safepassage.notifications.transport import transport_problem

# Apprise logs whole payloads (message bodies, which may be detailed) at DEBUG. A process whose
# root logger is at DEBUG would write personal details to its logs, so Apprise's logger is held
# at INFO here; raise it deliberately, on a test system, to debug a plugin.
_apprise_logger = logging.getLogger(apprise.LOGGER_NAME)
if _apprise_logger.getEffectiveLevel() < logging.INFO:
    _apprise_logger.setLevel(logging.INFO)

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEMES_HELP = "see https://appriseit.com/services/ for each service's URL syntax"


@dataclass(frozen=True, eq=False)
class Target:
    """One Apprise service from the configuration, with a label safe to show and store."""

    label: str
    tags: frozenset[str]
    line: int
    service: Any = field(repr=False)  # an apprise NotifyBase; its URL may hold credentials
    # Sends to one target are serialised: its per-URL settings are adjusted for each message.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def secure(self) -> bool:
        """Return whether the target is cleared to receive personal details."""
        return SECURE_TAG in self.tags


class Targets:
    """The validated targets of one configuration file, matched through Apprise's own tags."""

    def __init__(self, path: Path, targets: Sequence[Target], manager: Any) -> None:
        self.path = path
        self.targets = tuple(targets)
        self._manager = manager  # an apprise.Apprise holding exactly these targets' services
        self._by_service = {id(t.service): t for t in self.targets}
        self._by_label = {t.label: t for t in self.targets}
        self._found: dict[str, list[Target]] = {}

    def find(self, tag: str) -> list[Target]:
        """Return the targets Apprise matches for `tag` (never the `always`-tagged catch-alls).

        `match_always=False`: a target tagged `always` would otherwise receive every event of
        every audience, which the routing table does not allow.
        """
        if tag not in self._found:  # the set never changes, and this runs in every stage
            matched = self._manager.find(tag, match_always=False)
            self._found[tag] = [self._by_service[id(s)] for s in matched]
        return list(self._found[tag])

    def get(self, label: str) -> Target | None:
        """Return the target with `label`, or None if the configuration no longer has it."""
        return self._by_label.get(label)

    def __iter__(self) -> Iterator[Target]:
        return iter(self.targets)

    def __repr__(self) -> str:
        return f"Targets({self.path}, {[t.label for t in self.targets]})"


# -- the embedded default ------------------------------------------------------------------------


#: Ad hoc destinations the embedded default serves too: the example ad hoc case goes to Moldova.
DEMO_ADHOC_COUNTRIES = ("MD",)


def default_config_text(home: Path) -> str:
    """Return the embedded default: JSON-lines logs under `home`, no target cleared `secure`."""
    folder = home / "notifications"
    countries = (*PROGRAMME_COUNTRIES, *DEMO_ADHOC_COUNTRIES)
    tags = [tag_for(Audience.MISSION, c) for c in countries]
    tags += [tag_for(Audience.EMBASSY, c) for c in countries]
    tags.append(tag_for(Audience.COORDINATORS, ""))
    urls = [{jsonl_target.url_for(folder / f"{tag}.jsonl"): {"tag": tag}} for tag in tags]
    header = (
        "# SafePassage notification targets (Apprise YAML), created on first use.\n"
        "# This default writes each message as a JSON line to a local file, so the demo needs no\n"
        "# mail server. Replace the entries with real targets (see docs/notifications.md); put\n"
        "# credentials in environment variables and write them here as ${NAME}.\n"
        "# An ad hoc return needs mission-<cc> and embassy-<cc> targets (md: the example).\n"
    )
    return header + yaml.safe_dump({"version": 1, "urls": urls}, sort_keys=False)


def ensure_default_config(settings: Settings) -> Path:
    """Create the default configuration file in SAFEPASSAGE_HOME unless it exists; return it."""
    path = settings.home / "notify.yaml"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process wrote it first: use theirs
        return path
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(default_config_text(settings.home))
    return path


# -- reading and checking ------------------------------------------------------------------------


#: A real configuration is a few kilobytes; the limits stop a hostile file before it costs
#: memory or time (PyYAML's composer recurses, and aliases multiply work: "billion laughs").
MAX_CONFIG_BYTES = 1_000_000
MAX_CONFIG_DEPTH = 16


def _check_shape(text: str, path: Path) -> None:
    """Refuse anchors, aliases and deep nesting, scanning the event stream (no recursion)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ConfigurationError(
                f"{path}:{line}: YAML anchors and aliases (& and *) are not allowed here; "
                "write each target out in full"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                raise ConfigurationError(
                    f"{path}:{line}: nested deeper than {MAX_CONFIG_DEPTH} levels; "
                    "a target entry needs three"
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _compose(text: str, path: Path) -> Any:
    """Return the YAML's node tree (which keeps line numbers), or fail naming the line."""
    try:
        _check_shape(text, path)
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = exc.problem or exc.context or "invalid syntax"
        raise ConfigurationError(
            f"{where}: not valid YAML ({problem}); fix the syntax at that line"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML ({type(exc).__name__})") from None


def _construct(node: Any, path: Path) -> Any:
    """Return the Python data of a composed YAML node tree."""
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigurationError(f"{where}: {exc.problem or 'cannot read this value'}") from None
    finally:
        loader.dispose()


def substitute_environment(node: Any, path: Path, environ: Mapping[str, str]) -> None:
    """Replace each `${NAME}` in the tree's scalars, or fail naming every missing variable.

    Substituting in parsed scalars, not in the text, means comments are left alone and a value
    holding `: ` or `#` cannot change the file's structure.
    """
    problems: list[str] = []

    def value_of(match: re.Match[str], line: int) -> str:
        name = match.group(1)
        if name not in environ:
            problems.append(f"{path}:{line}: the environment variable {name} is not set")
            return ""
        found = environ[name]
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in found):
            problems.append(
                f"{path}:{line}: the environment variable {name} holds a line break or control "
                "character; a value must be one line"
            )
            return ""
        return found

    def walk(current: Any) -> None:
        if isinstance(current, yaml.ScalarNode):
            if "${" in current.value:
                line = current.start_mark.line + 1
                current.value = _VARIABLE.sub(lambda m: value_of(m, line), current.value)
        elif isinstance(current, yaml.SequenceNode):
            for item in current.value:
                walk(item)
        elif isinstance(current, yaml.MappingNode):
            for key, item in current.value:
                walk(key)
                walk(item)

    walk(node)
    if problems:
        raise ConfigurationError(
            "; ".join(problems)
            + " (export each one: credentials come from the environment, never from this file)"
        )


def _url_of(entry: Any) -> str | None:
    """Return the URL of one `urls:` entry: the string itself, or the mapping's URL key."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        for key in entry:
            if isinstance(key, str) and "://" in key:
                return key
    return None


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].strip().lower()


def _entry_lines(root: Any) -> list[int]:
    """Return the 1-based line of each entry under `urls:` in the composed YAML."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "urls" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _check_jsonl(url: str, where: str) -> None:
    parts = urlsplit(url)
    try:
        jsonl_target.jsonl_path({"host": parts.hostname or "", "fullpath": parts.path})
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def _label(tags: frozenset[str], raw_url: str, index: int) -> str:
    # Tags say what the target is for; the digest of the entry as written (before substituting
    # credentials) tells two targets with the same tags apart, stays the same when a password is
    # rotated, and shows nothing of the URL.
    audience = "+".join(sorted(tags - {SECURE_TAG})) or "untagged"
    digest = hashlib.sha256(f"{raw_url}\0{index}".encode()).hexdigest()[:6]
    return f"{audience[:100]}#{digest}"


def _lost_its_host(service: Any) -> bool:
    # Apprise builds a service without a host from a mapping entry whose URL it cannot parse,
    # logging an error and carrying on: a target that can never deliver. Catch it here.
    token = getattr(type(service), "template_tokens", {}).get("host", {})
    return bool(token.get("required")) and not getattr(service, "host", None)


def _check_secure_transport(service: Any, label: str, where: str) -> None:
    # Checked when the file loads, not when sending: a target cleared for details that would
    # send them in clear must stop the process before any message is queued for it.
    problem = transport_problem(service)
    if problem is not None:
        raise ConfigurationError(
            f"{where}: target {label} is tagged `secure` (cleared for personal details) but "
            f"{problem}; a `secure` target needs TLS with a verified certificate unless it is "
            "on this machine (127.0.0.1, ::1, localhost), or remove its `secure` tag"
        )


def _asset() -> Any:
    # Apprise's own ${...} templates are off: we substitute from the environment ourselves and
    # fail loudly on a missing name, where Apprise would skip the entry. Persistent storage
    # stays in memory: nothing about our messages is written to Apprise's cache folders.
    return apprise.AppriseAsset(allow_templates=False, storage_mode="memory")


def _pace(service: Any, settings: Settings) -> None:
    """Apply the timeout cap and the optional pacing setting to one Apprise service."""
    for name in ("socket_connect_timeout", "socket_read_timeout"):
        current = getattr(service, name, None)
        if isinstance(current, int | float):
            setattr(service, name, min(current, settings.notify_timeout_seconds))
    if settings.notify_min_interval_seconds is not None:
        service.request_rate_per_sec = settings.notify_min_interval_seconds


def parse_targets(
    text: str,
    path: Path,
    *,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
) -> Targets:
    """Check the configuration `text` (read from `path`) and return its targets.

    Each entry is handed to Apprise on its own, so an entry Apprise rejects is named by its line
    instead of vanishing from the set. Programme missions and coordinators must all be there.
    """
    # Composed twice: once kept as written (for entry lines and labels), once substituted.
    raw_root = _compose(text, path)
    root = _compose(text, path)
    substitute_environment(root, path, os.environ if environ is None else environ)
    raw_data, data = _construct(raw_root, path), _construct(root, path)
    if not isinstance(data, dict) or not isinstance(data.get("urls"), list):
        raise ConfigurationError(
            f"{path}: must be an Apprise YAML mapping with a `urls:` list of targets; "
            "see docs/notifications.md for an example"
        )
    if data.get("version", 1) != 1:
        raise ConfigurationError(f"{path}: `version:` must be 1 (Apprise's YAML format)")
    if "include" in data:
        raise ConfigurationError(
            f"{path}: `include:` is not allowed: every target must be in this file so that it "
            "can be checked at start-up"
        )
    entries: list[Any] = data["urls"]
    raw_entries: list[Any] = raw_data["urls"]
    lines = _entry_lines(raw_root)
    shared = {k: v for k, v in data.items() if k != "urls"}
    asset = _asset()
    found: list[Target] = []
    seen: dict[str, int] = {}
    for entry, raw_entry, line in zip(entries, raw_entries, lines, strict=True):
        where = f"{path}:{line}"
        url, raw_url = _url_of(entry), _url_of(raw_entry)
        if url is None or raw_url is None:
            raise ConfigurationError(
                f"{where}: this entry has no URL (scheme://...); {_SCHEMES_HELP}"
            )
        if _scheme(url) == jsonl_target.SCHEME:
            _check_jsonl(url, where)
        single = yaml.safe_dump({**shared, "urls": [entry]}, sort_keys=False)
        services: list[Any] = apprise.ConfigBase.config_parse_yaml(single, asset=asset)[0]
        if not services:
            raise ConfigurationError(
                f"{where}: Apprise does not accept the URL of this entry (scheme "
                f"{_scheme(url)}://): the scheme is unknown or the URL is malformed; "
                f"{_SCHEMES_HELP}"
            )
        for index, service in enumerate(services):
            if _lost_its_host(service):
                raise ConfigurationError(
                    f"{where}: Apprise could not read the URL of this entry (it has no host "
                    "left): percent-encode characters such as @ : / # ? in user names, passwords "
                    "and environment variable values"
                )
            tags = frozenset(str(t).lower() for t in service.tags)
            if not tags - {SECURE_TAG}:
                raise ConfigurationError(
                    f"{where}: this target has no audience tag, so no notification would reach "
                    "it; add one, e.g. `tag: mission-ro` (see docs/notifications.md)"
                )
            label = _label(tags, raw_url, index)
            if label in seen:
                raise ConfigurationError(
                    f"{where}: this target repeats the one at line {seen[label]} with the same "
                    "tags; remove one of them"
                )
            seen[label] = line
            if SECURE_TAG in tags:
                _check_secure_transport(service, label, where)
            _pace(service, settings)
            found.append(Target(label=label, tags=tags, line=line, service=service))
    manager = apprise.Apprise(asset=asset)
    manager.add([t.service for t in found])
    targets = Targets(path, found, manager)
    required = [tag_for(Audience.MISSION, c) for c in PROGRAMME_COUNTRIES]
    required.append(tag_for(Audience.COORDINATORS, ""))
    missing = [tag for tag in required if not targets.find(tag)]
    if missing:
        raise ConfigurationError(
            f"{path}: no target is tagged {', '.join(missing)}; every programme's receiving "
            "mission and the coordinators need one (add an entry with that `tag:`)"
        )
    return targets


_cache: dict[tuple[str, float | None, float], Targets] = {}
_cache_lock = threading.Lock()


def load_targets(settings: Settings | None = None) -> Targets:
    """Return the configured targets, read and checked once per process.

    A configuration error stops the caller at start-up with the file and line to fix, rather
    than losing messages later. Call `clear_targets_cache` after changing the file in-process.
    """
    settings = settings or get_settings()
    path = settings.effective_notify_config
    key = (str(path), settings.notify_min_interval_seconds, settings.notify_timeout_seconds)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        if settings.notify_config is None:
            ensure_default_config(settings)
        try:
            if path.stat().st_size > MAX_CONFIG_BYTES:
                raise ConfigurationError(
                    f"the notification configuration {path} is larger than "
                    f"{MAX_CONFIG_BYTES:,} bytes: that is not a list of targets; check the file"
                )
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigurationError(
                f"SAFEPASSAGE_NOTIFY_CONFIG names {path}, which does not exist: create it or "
                "unset the setting to use the default in SAFEPASSAGE_HOME"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the notification configuration {path}: {type(exc).__name__}"
            ) from None
        targets = parse_targets(text, path, settings=settings)
        _cache[key] = targets
        return targets


def clear_targets_cache() -> None:
    """Forget the loaded configurations (tests, or a process that reloads its settings)."""
    with _cache_lock:
        _cache.clear()
