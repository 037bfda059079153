"""Who may call the key service: ``<data_dir>/callers.json`` holds, per caller (an
organisation or an index), the SHA-256 of its API key (issued for the key service alone, never
the index's key) and its rate limit. The key itself is shown once, when it is issued."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from verwijsindex.errors import ConfigurationError, InvalidInput
from verwijsindex.keys import _write_private
from verwijsindex.keyservice.settings import KeyServiceSettings

CALLERS_FILE = "callers.json"
KEY_PREFIX = "vks_"
_CALLER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Caller:
    id: str
    key_hash: str
    rate_per_minute: int | None
    created_at: str


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def _path(settings: KeyServiceSettings) -> Path:
    return settings.data_dir / CALLERS_FILE


def read_callers(settings: KeyServiceSettings) -> list[Caller]:
    path = _path(settings)
    if not path.exists():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [Caller(**entry) for entry in document["callers"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{CALLERS_FILE} is unreadable or malformed") from exc


def _write(settings: KeyServiceSettings, callers: list[Caller]) -> None:
    path = _path(settings)
    staging = path.with_suffix(".json.new")
    staging.unlink(missing_ok=True)
    _write_private(staging, json.dumps({"callers": [asdict(c) for c in callers]}, indent=2))
    staging.replace(path)


def issue(
    settings: KeyServiceSettings, caller_id: str, *, rate_per_minute: int | None, replace: bool
) -> str:
    """Issue (or with ``replace`` re-issue) the caller's API key; returns it (shown once)."""
    if not _CALLER_ID.fullmatch(caller_id):
        raise InvalidInput("a caller id is 1-64 letters, digits, '.', '_' or '-'")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise InvalidInput("the rate limit is at least 1 per minute")
    callers = read_callers(settings)
    if any(c.id == caller_id for c in callers) and not replace:
        raise InvalidInput(f"caller {caller_id} exists; pass --replace to issue a new key")
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    entry = Caller(
        id=caller_id,
        key_hash=hash_key(api_key),
        rate_per_minute=rate_per_minute,
        created_at=datetime.now(UTC).isoformat(),
    )
    _write(settings, [c for c in callers if c.id != caller_id] + [entry])
    return api_key


def remove(settings: KeyServiceSettings, caller_id: str) -> None:
    callers = read_callers(settings)
    if not any(c.id == caller_id for c in callers):
        raise InvalidInput(f"no caller {caller_id}")
    _write(settings, [c for c in callers if c.id != caller_id])
