"""The key service's OPRF keys: ``<data_dir>/oprf-v<N>.key`` (JSON, mode 0600), a 32-byte
seed each; the key is RFC 9497 DeriveKeyPair(seed, "verwijsindex-keyservice/v<N>"). The
highest version is current; older versions stay loaded so that clients can move youths over
(they evaluate under every version the service offers) until an operator retires them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crypto import OprfKey
from verwijsindex.errors import ConfigurationError
from verwijsindex.keys import (
    _check_permissions,
    _random_key,
    _write_private,
)
from verwijsindex.keyservice.settings import KeyServiceSettings

_PREFIX = "oprf-v"
_SUFFIX = ".key"
_KIND = "verwijsindex-oprf-key"
_RETIRED = "retired"


def key_info(version: int) -> bytes:
    """The DeriveKeyPair info of a version: binds the key to its version and purpose."""
    return f"verwijsindex-keyservice/v{version}".encode("ascii")


@dataclass(frozen=True)
class ServiceKey:
    version: int
    development: bool
    key: OprfKey

    @property
    def fingerprint(self) -> str:
        """The first 16 hex digits of SHA-256 over the public key (public)."""
        return hashlib.sha256(self.key.public_key).hexdigest()[:16]


class KeyServiceRing:
    """Every loaded version; the highest is current."""

    def __init__(self, keys: list[ServiceKey]) -> None:
        if not keys:
            raise ConfigurationError("the key service has no OPRF key")
        self._keys = {k.version: k for k in keys}
        self.current_version = max(self._keys)

    @property
    def versions(self) -> list[int]:
        """Newest first."""
        return sorted(self._keys, reverse=True)

    def get(self, version: int) -> ServiceKey | None:
        return self._keys.get(version)

    @property
    def current(self) -> ServiceKey:
        return self._keys[self.current_version]


def _files(data_dir: Path) -> list[Path]:
    if not data_dir.is_dir():
        return []
    return sorted(data_dir.glob(f"{_PREFIX}*{_SUFFIX}"))


def _write_key(data_dir: Path, *, version: int, development: bool) -> Path:
    path = data_dir / f"{_PREFIX}{version}{_SUFFIX}"
    document = {
        "kind": _KIND,
        "version": version,
        "development": development,
        "created_at": datetime.now(UTC).isoformat(),
        "seed": base64.b64encode(_random_key()).decode("ascii"),
    }
    _write_private(path, json.dumps(document, indent=2) + "\n")
    return path


def _read_key(path: Path) -> ServiceKey:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("kind") != _KIND:
            raise ValueError("not an OPRF key file")
        seed = base64.b64decode(document["seed"], validate=True)
        version = int(document["version"])
        development = bool(document.get("development", False))
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ConfigurationError(f"key file {path.name} is unreadable or malformed") from exc
    if len(seed) != 32 or version < 1:
        raise ConfigurationError(f"key file {path.name} holds no 32-byte seed")
    key = OprfKey.derive(seed=seed, info=key_info(version))
    return ServiceKey(version=version, development=development, key=key)


def load_ring(settings: KeyServiceSettings) -> KeyServiceRing:
    """Load every key file. Development generates version 1 when there is none; production
    refuses missing or development keys and files or a directory readable by others."""
    data_dir = settings.data_dir
    files = _files(data_dir)
    if not files:
        if settings.is_production:
            raise ConfigurationError(
                "the key service has no OPRF key: run 'verwijsindex keyservice keys generate"
                " --production'"
            )
        files = [_write_key(data_dir, version=1, development=True)]
    if settings.is_production and data_dir.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            "the key service's directory (VERWIJSINDEX_KEYSERVICE_DATA_DIR) is accessible by"
            " other users; chmod 700 it"
        )
    keys: list[ServiceKey] = []
    for path in files:
        if settings.is_production:
            _check_permissions(path)
        key = _read_key(path)
        if settings.is_production and key.development:
            raise ConfigurationError("production mode refuses development OPRF keys")
        if any(k.version == key.version for k in keys):
            raise ConfigurationError(f"OPRF key version {key.version} is configured twice")
        keys.append(key)
    return KeyServiceRing(keys)


def generate_first(settings: KeyServiceSettings, *, production: bool) -> ServiceKey:
    if _files(settings.data_dir):
        raise ConfigurationError("an OPRF key exists already; rotate for a new version")
    if settings.is_production and not production:
        raise ConfigurationError("production refuses development keys; pass --production")
    return _read_key(_write_key(settings.data_dir, version=1, development=not production))


def rotate(settings: KeyServiceSettings) -> ServiceKey:
    """Write version N+1 beside the others (development-marked only when N is)."""
    ring = load_ring(settings)
    current = ring.current
    path = _write_key(
        settings.data_dir, version=current.version + 1, development=current.development
    )
    return _read_key(path)


def retire(settings: KeyServiceSettings, *, version: int) -> Path:
    """Move a non-current version's file to ``retired/``: it is no longer offered, so
    youths still stored only under it can no longer be moved over (docs/blind-pseudonyms.md)."""
    files = {_read_key(p).version: p for p in _files(settings.data_dir)}
    if version not in files:
        raise ConfigurationError(f"no OPRF key file for version {version}")
    if version == max(files):
        raise ConfigurationError("the current OPRF key cannot be retired; rotate first")
    retired = settings.data_dir / _RETIRED
    retired.mkdir(mode=0o700, exist_ok=True)
    target = retired / files[version].name
    files[version].rename(target)
    return target
