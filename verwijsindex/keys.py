"""Key material that never lives in the database.

The master key is read from ``<keys_dir>/master-v<N>.key`` (JSON, mode 0600) or from the
``VERWIJSINDEX_MASTER_KEY`` secret. Every other secret (pseudonym keys, the access-log subject
key, the webhook-secret encryption key) is derived from it with HKDF per purpose and version.
In development missing keys are generated and marked ``"development": true``; production
refuses such keys, missing keys and key files readable by other users.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from crypto import (
    BSN,
    PSEUDONYM_PURPOSE_MATCH,
    Pseudonym,
    PseudonymKey,
    derive_subkey,
)
from verwijsindex.errors import ConfigurationError
from verwijsindex.settings import Settings

_MASTER_PREFIX = "master-v"
_KEY_SUFFIX = ".key"


@dataclass(frozen=True)
class MasterKey:
    version: int
    development: bool
    _material: bytes = field(repr=False)


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def generate_master_key_file(keys_dir: Path, *, version: int, development: bool) -> Path:
    """Write a new random master key file; refuse to overwrite an existing one."""
    path = keys_dir / f"{_MASTER_PREFIX}{version}{_KEY_SUFFIX}"
    document = {
        "kind": "verwijsindex-master-key",
        "version": version,
        "development": development,
        "created_at": datetime.now(UTC).isoformat(),
        "key": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
    }
    _write_private(path, json.dumps(document, indent=2) + "\n")
    return path


def _check_permissions(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"key file {path.name} is accessible by other users (mode {oct(mode & 0o777)});"
            " chmod 600 it"
        )


def _read_master_key(path: Path) -> MasterKey:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        material = base64.b64decode(document["key"], validate=True)
        version = int(document["version"])
        development = bool(document.get("development", False))
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ConfigurationError(f"key file {path.name} is unreadable or malformed") from exc
    if len(material) < 32:
        raise ConfigurationError(f"key file {path.name} holds fewer than 32 bytes")
    return MasterKey(version=version, development=development, _material=material)


class KeyRing:
    """All master-key versions known to this process; the highest is current."""

    def __init__(self, masters: list[MasterKey]) -> None:
        if not masters:
            raise ConfigurationError("no master key configured")
        self._masters = {m.version: m for m in masters}
        self.current_version = max(self._masters)
        self._pseudonym_keys = {
            v: PseudonymKey.derive(master_key=m._material, version=v)
            for v, m in self._masters.items()
        }

    @classmethod
    def load(cls, settings: Settings) -> KeyRing:
        """Load keys as configured; generate development keys where allowed."""
        masters: list[MasterKey] = []
        if settings.master_key is not None:
            try:
                material = base64.b64decode(settings.master_key.get_secret_value(), validate=True)
            except (ValueError, binascii.Error) as exc:
                raise ConfigurationError("VERWIJSINDEX_MASTER_KEY is not valid base64") from exc
            if len(material) < 32:
                raise ConfigurationError("VERWIJSINDEX_MASTER_KEY must be at least 32 bytes")
            masters.append(
                MasterKey(
                    version=settings.master_key_version, development=False, _material=material
                )
            )
        keys_dir = settings.resolved_keys_dir
        files = (
            sorted(keys_dir.glob(f"{_MASTER_PREFIX}*{_KEY_SUFFIX}")) if keys_dir.is_dir() else []
        )
        if not masters and not files:
            if settings.is_production:
                raise ConfigurationError(
                    "production mode needs a master key: run 'verwijsindex keys generate'"
                    " or set VERWIJSINDEX_MASTER_KEY"
                )
            files = [generate_master_key_file(keys_dir, version=1, development=True)]
        for path in files:
            if settings.is_production:
                _check_permissions(path)
            masters.append(_read_master_key(path))
        if settings.is_production and any(m.development for m in masters):
            raise ConfigurationError(
                "production mode refuses development keys; generate production keys"
            )
        return cls(masters)

    @property
    def versions(self) -> list[int]:
        """Every known master-key version, ascending."""
        return sorted(self._masters)

    @property
    def has_development_keys(self) -> bool:
        return any(m.development for m in self._masters.values())

    def pseudonymise(self, bsn: BSN) -> Pseudonym:
        """The pseudonym under the current key version (what new registrations store)."""
        return self._pseudonym_keys[self.current_version].pseudonymise(bsn)

    def all_pseudonyms(self, bsn: BSN) -> list[Pseudonym]:
        """The pseudonym under every known version, current first (matching across rotation)."""
        versions = sorted(self._pseudonym_keys, reverse=True)
        return [self._pseudonym_keys[v].pseudonymise(bsn) for v in versions]

    def subkey(self, purpose: str, *, version: int | None = None, length: int = 32) -> bytes:
        """A key for another purpose, derived from the (current) master key."""
        v = self.current_version if version is None else version
        if purpose == PSEUDONYM_PURPOSE_MATCH:
            raise ConfigurationError("use pseudonymise() for match pseudonyms")
        return derive_subkey(self._masters[v]._material, purpose=purpose, version=v, length=length)
