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
import hashlib
import hmac
import json
import math
import os
import secrets
import stat
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto import (
    BSN,
    PSEUDONYM_PURPOSE_ACCESS_LOG,
    PSEUDONYM_PURPOSE_ACCESS_LOG_SCOPED,
    PSEUDONYM_PURPOSE_BLIND,
    PSEUDONYM_PURPOSE_BLIND_PARENT,
    PSEUDONYM_PURPOSE_MATCH,
    PSEUDONYM_PURPOSE_PARENT,
    Pseudonym,
    PseudonymKey,
    SubjectToken,
    derive_subkey,
)
from verwijsindex.errors import ConfigurationError
from verwijsindex.settings import Settings

_MASTER_PREFIX = "master-v"
ACCESS_LOG_SIGNING_PURPOSE = "access-log-signing"
ACCESS_LOG_TRACE_PURPOSE = "access-log-trace"
_KEY_SUFFIX = ".key"
_RETIRED_DIR = "retired"
_CHECK_PURPOSE = "key-check"
_FINGERPRINT_BYTES = 8
LEDGER_KEY_FILE = "ledger-signing.key"
_LEDGER_KEY_KIND = "verwijsindex-ledger-signing-key"


@dataclass(frozen=True)
class MasterKey:
    version: int
    development: bool
    _material: bytes = field(repr=False)


MIN_ESTIMATED_BITS = 96
"""The least Shannon estimate (bits per byte × length) of a master key's bytes, and of the
differences between neighbouring bytes, that production accepts. 32 random bytes give at least
about 140 and 130; falling below 96 needs collisions worth 64 bits, which random keys do not
have (tests/verwijsindex/test_production.py::TestKeyStrength)."""
GENERATE_HINT = (
    "generate one with 'verwijsindex keys generate --production' (or 'verwijsindex keys"
    " rotate') or, for VERWIJSINDEX_MASTER_KEY, with python -c 'import base64, secrets;"
    " print(base64.b64encode(secrets.token_bytes(32)).decode())'"
)


def _estimated_bits(values: bytes) -> float:
    """Shannon entropy of the byte frequencies times the length."""
    n = len(values)
    return -sum(c * math.log2(c / n) for c in Counter(values).values()) if n else 0.0


def weak_key_reason(material: bytes) -> str | None:
    """Why ``material`` does not look like random bytes, or None when it does.

    Refused: a repeated pattern (a word, a block), too few distinct values (zero bytes, text
    with few letters), a counter or other constant step, and printable text (a password or an
    encoded string rather than the key's bytes). A random key of 32 or more bytes passes with
    overwhelming probability (all printable: (95/256)^32 ≈ 2·10^-14)."""
    n = len(material)
    for period in range(1, n // 2 + 1):
        if material[period:] == material[:-period]:
            return f"it repeats a pattern of {period} byte{'s' if period > 1 else ''}"
    if _estimated_bits(material) < MIN_ESTIMATED_BITS:
        return "too few distinct byte values (low entropy)"
    steps = bytes((material[i + 1] - material[i]) % 256 for i in range(n - 1))
    if _estimated_bits(steps) < MIN_ESTIMATED_BITS:
        return "it counts or steps regularly (low entropy)"
    if all(0x20 <= b < 0x7F for b in material):
        return "it is printable text, not random bytes"
    return None


def _check_strength(material: bytes, source: str) -> None:
    reason = weak_key_reason(material)
    if reason is not None:
        raise ConfigurationError(
            f"production mode refuses a weak master key ({source}): {reason}; {GENERATE_HINT}"
        )


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
        "key": base64.b64encode(_random_key()).decode("ascii"),
    }
    _write_private(path, json.dumps(document, indent=2) + "\n")
    return path


def _random_key() -> bytes:
    """32 random bytes that production accepts (a draw it would refuse is astronomically
    unlikely; drawing again makes it impossible)."""
    while True:
        material = secrets.token_bytes(32)
        if weak_key_reason(material) is None:
            return material


def _check_permissions(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"key file {path.name} is accessible by other users (mode {oct(mode & 0o777)});"
            " chmod 600 it"
        )


def _check_dir_permissions(keys_dir: Path) -> None:
    mode = keys_dir.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"the keys directory (VERWIJSINDEX_KEYS_DIR) is accessible by other users"
            f" (mode {oct(mode & 0o777)}); chmod 700 it"
        )


def key_files(keys_dir: Path) -> list[Path]:
    """The master key files in ``keys_dir`` (retired keys live in a subdirectory)."""
    if not keys_dir.is_dir():
        return []
    return sorted(keys_dir.glob(f"{_MASTER_PREFIX}*{_KEY_SUFFIX}"))


def key_fingerprint(master: MasterKey) -> str:
    """A public check value: the first bytes of SHA-256 over a key derived for checking only.

    It identifies a key version across machines and backups without revealing the key or any
    key in use (the check key is its own HKDF purpose)."""
    check = derive_subkey(master._material, purpose=_CHECK_PURPOSE, version=master.version)
    return hashlib.sha256(check).hexdigest()[: 2 * _FINGERPRINT_BYTES]


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


def generate_ledger_key_file(keys_dir: Path, *, development: bool) -> Path:
    """Write a new Ed25519 ledger signing key (mode 0600); refuse to overwrite one."""
    path = keys_dir / LEDGER_KEY_FILE
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    document = {
        "kind": _LEDGER_KEY_KIND,
        "development": development,
        "created_at": datetime.now(UTC).isoformat(),
        "key": base64.b64encode(seed).decode("ascii"),
    }
    _write_private(path, json.dumps(document, indent=2) + "\n")
    return path


def load_ledger_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The Ed25519 key that signs ledger checkpoints; it never lives in the database.

    Read from ``<keys_dir>/ledger-signing.key``. Development generates a missing one;
    production requires it, with mode 0600 and not marked as a development key.
    """
    path = settings.resolved_keys_dir / LEDGER_KEY_FILE
    if not path.exists():
        if settings.is_production:
            raise ConfigurationError(
                "production mode needs a ledger signing key: run"
                " 'verwijsindex audit generate-signing-key'"
            )
        generate_ledger_key_file(settings.resolved_keys_dir, development=True)
    if settings.is_production:
        _check_permissions(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("kind") != _LEDGER_KEY_KIND:
            raise ValueError("wrong kind")
        seed = base64.b64decode(document["key"], validate=True)
        development = bool(document.get("development", False))
        key = Ed25519PrivateKey.from_private_bytes(seed)
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ConfigurationError(f"key file {path.name} is unreadable or malformed") from exc
    if settings.is_production and development:
        raise ConfigurationError("production mode refuses a development ledger signing key")
    return key


def _newest_first(keys: dict[int, PseudonymKey]) -> tuple[PseudonymKey, ...]:
    return tuple(keys[v] for v in sorted(keys, reverse=True))


class KeyRing:
    """All master-key versions known to this process; the highest is current."""

    def __init__(
        self, masters: list[MasterKey], *, ledger_key: Ed25519PrivateKey | None = None
    ) -> None:
        self._ledger_key = ledger_key
        if not masters:
            raise ConfigurationError("no master key configured")
        self._masters = {m.version: m for m in masters}
        self.current_version = max(self._masters)
        self._pseudonym_keys = {
            v: PseudonymKey.derive(master_key=m._material, version=v)
            for v, m in self._masters.items()
        }
        self._blind_keys = {
            v: PseudonymKey.derive(
                master_key=m._material, version=v, purpose=PSEUDONYM_PURPOSE_BLIND
            )
            for v, m in self._masters.items()
        }
        self._blind_parent_keys = {
            v: PseudonymKey.derive(
                master_key=m._material, version=v, purpose=PSEUDONYM_PURPOSE_BLIND_PARENT
            )
            for v, m in self._masters.items()
        }
        self._access_log_keys = {
            v: PseudonymKey.derive(
                master_key=m._material, version=v, purpose=PSEUDONYM_PURPOSE_ACCESS_LOG
            )
            for v, m in self._masters.items()
        }
        self._access_log_scoped_keys = {
            v: PseudonymKey.derive(
                master_key=m._material, version=v, purpose=PSEUDONYM_PURPOSE_ACCESS_LOG_SCOPED
            )
            for v, m in self._masters.items()
        }
        self._parent_keys = {
            v: PseudonymKey.derive(
                master_key=m._material, version=v, purpose=PSEUDONYM_PURPOSE_PARENT
            )
            for v, m in self._masters.items()
        }
        # Newest version first, ordered once: the write path asks for every version's
        # pseudonym of each youth and parent.
        self._pseudonym_order = _newest_first(self._pseudonym_keys)
        self._parent_order = _newest_first(self._parent_keys)
        self._blind_order = _newest_first(self._blind_keys)
        self._blind_parent_order = _newest_first(self._blind_parent_keys)
        # Keyed once; each hash continues a copy (as PseudonymKey does).
        self._trace_mac = hmac.new(
            derive_subkey(
                self._masters[self.current_version]._material,
                purpose=ACCESS_LOG_TRACE_PURPOSE,
                version=self.current_version,
            ),
            digestmod=hashlib.sha256,
        )

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
        files = key_files(keys_dir)
        if settings.is_production and files:
            _check_dir_permissions(keys_dir)
        if not masters and not files:
            if settings.is_production:
                raise ConfigurationError(
                    "production mode needs a master key: run 'verwijsindex keys generate'"
                    " or set VERWIJSINDEX_MASTER_KEY"
                )
            files = [generate_master_key_file(keys_dir, version=1, development=True)]
        if settings.is_production and masters:
            _check_strength(masters[0]._material, "VERWIJSINDEX_MASTER_KEY")
        for path in files:
            if settings.is_production:
                _check_permissions(path)
            master = _read_master_key(path)
            if settings.is_production and not master.development:
                _check_strength(master._material, f"key file {path.name}")
            if any(m.version == master.version for m in masters):
                raise ConfigurationError(f"key version {master.version} is configured twice")
            masters.append(master)
        if settings.is_production and any(m.development for m in masters):
            raise ConfigurationError(
                "production mode refuses development keys; generate production keys"
            )
        return cls(masters, ledger_key=load_ledger_signing_key(settings))

    def ledger_signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 key that signs consent-ledger checkpoints."""
        if self._ledger_key is None:
            raise ConfigurationError("no ledger signing key loaded")
        return self._ledger_key

    @property
    def masters(self) -> list[MasterKey]:
        """Every version, oldest first."""
        return [self._masters[v] for v in sorted(self._masters)]

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
        return [key.pseudonymise(bsn) for key in self._pseudonym_order]

    def all_parent_pseudonyms(self, bsn: BSN) -> list[Pseudonym]:
        """A parent's pseudonym under every known version, current first: keyed by its own
        HKDF purpose, so a parent's value never equals (or can be joined with) a youth's match
        pseudonym or an access-log pseudonym of the same number without the master key."""
        return [key.pseudonymise(bsn) for key in self._parent_order]

    def blind_pseudonyms(self, token: SubjectToken) -> list[Pseudonym]:
        """The stored pseudonym of a youth known by its subject token (the blind path, and the
        direct path with a key service) under every known version, current first: the index's
        own HMAC of the key service's OPRF output (docs/adr/0020)."""
        return [key.pseudonymise_token(token) for key in self._blind_order]

    def blind_parent_pseudonyms(self, token: SubjectToken) -> list[Pseudonym]:
        """The stored pseudonym of a parent known by its subject token (the blind path, and the
        direct path with a key service) under every known version, current first: keyed by
        its own purpose, so it never equals the same person's pseudonym as a youth."""
        return [key.pseudonymise_token(token) for key in self._blind_parent_order]

    def access_log_subject_of(
        self, bsn: BSN | None, token: SubjectToken | None, organisation_id: str | None
    ) -> Pseudonym:
        """The access-log subject of a registration: of the BSN on the direct path, of the
        subject token on the blind path (the index never has the BSN there)."""
        if bsn is not None:
            return self.access_log_subject(bsn, organisation_id)
        if token is None:
            raise ConfigurationError("an access-log subject needs a BSN or a subject token")
        key = self._access_log_scoped_keys[self.current_version]
        return key.scoped_token_pseudonym(token, scope=organisation_id or "")

    def all_access_log_token_subjects(
        self, token: SubjectToken, organisation_ids: Iterable[str | None]
    ) -> list[Pseudonym]:
        """Every access-log subject blind-path records of the youth can carry: per
        organisation in ``organisation_ids``, under every known version."""
        versions = sorted(self._access_log_scoped_keys, reverse=True)
        return [
            self._access_log_scoped_keys[v].scoped_token_pseudonym(token, scope=o or "")
            for v in versions
            for o in organisation_ids
        ]

    def access_log_subject(self, bsn: BSN, organisation_id: str | None) -> Pseudonym:
        """The youth's access-log pseudonym as seen by one organisation, under the current
        version: keyed by a different HKDF purpose than the match pseudonym (so the access log
        cannot be joined to the index without the master key) and by the organisation id (so
        two organisations' records of one youth carry unrelated values). ``None`` (operator
        commands, tasks) is a scope of its own. Never stored next to a registration."""
        key = self._access_log_scoped_keys[self.current_version]
        return key.scoped_pseudonym(bsn, scope=organisation_id or "")

    def all_access_log_subjects(
        self, bsn: BSN, organisation_ids: Iterable[str | None]
    ) -> list[Pseudonym]:
        """Every value the youth's access-log records can carry: the per-organisation
        pseudonym for each of ``organisation_ids`` under every known version (the current
        version's for the first organisation first), then the one shared value per version
        that records written before pseudonyms were per organisation carry."""
        versions = sorted(self._access_log_keys, reverse=True)
        scopes = [o or "" for o in organisation_ids]
        scoped = [
            self._access_log_scoped_keys[v].scoped_pseudonym(bsn, scope=scope)
            for v in versions
            for scope in scopes
        ]
        return scoped + [self._access_log_keys[v].pseudonymise(bsn) for v in versions]

    def trace_id_hash(self, value: str) -> str:
        """A keyed hash of a caller-supplied trace or span id, as many hex digits as the
        value has: the access log stores this, never the caller's value."""
        mac = self._trace_mac.copy()
        mac.update(value.encode("ascii", "replace"))
        return mac.hexdigest()[: len(value)]

    def access_log_signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 key that signs access-log heads, derived from the current master key."""
        return self._access_log_signing_key(self.current_version)

    def access_log_public_keys(self) -> list[Ed25519PublicKey]:
        """The public access-log head keys of every known version (to verify old heads)."""
        return [self._access_log_signing_key(v).public_key() for v in sorted(self._masters)]

    def _access_log_signing_key(self, version: int) -> Ed25519PrivateKey:
        seed = derive_subkey(
            self._masters[version]._material, purpose=ACCESS_LOG_SIGNING_PURPOSE, version=version
        )
        return Ed25519PrivateKey.from_private_bytes(seed)

    def subkey(self, purpose: str, *, version: int | None = None, length: int = 32) -> bytes:
        """A key for another purpose, derived from the (current) master key."""
        v = self.current_version if version is None else version
        if purpose in (PSEUDONYM_PURPOSE_MATCH, PSEUDONYM_PURPOSE_PARENT):
            raise ConfigurationError("use pseudonymise() or all_parent_pseudonyms() for those")
        return derive_subkey(self._masters[v]._material, purpose=purpose, version=v, length=length)


# --- Key custody: what ``verwijsindex keys`` does -------------------------------------------


@dataclass(frozen=True, kw_only=True)
class KeyInfo:
    """The public parts of one master key version (never the key)."""

    version: int
    development: bool
    current: bool
    source: str
    mode: str | None
    fingerprint: str


def _mode_of(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


def describe_keys(settings: Settings) -> tuple[list[KeyInfo], str | None]:
    """Every configured key version's public parts, and the keys directory's mode.

    Reads the files without the production checks, so an operator can see what is wrong."""
    entries: list[tuple[MasterKey, str, str | None]] = []
    if settings.master_key is not None:
        try:
            material = base64.b64decode(settings.master_key.get_secret_value(), validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ConfigurationError("VERWIJSINDEX_MASTER_KEY is not valid base64") from exc
        if len(material) < 32:
            raise ConfigurationError("VERWIJSINDEX_MASTER_KEY must be at least 32 bytes")
        env_key = MasterKey(
            version=settings.master_key_version, development=False, _material=material
        )
        entries.append((env_key, "VERWIJSINDEX_MASTER_KEY", None))
    keys_dir = settings.resolved_keys_dir
    for path in key_files(keys_dir):
        entries.append((_read_master_key(path), path.name, _mode_of(path)))
    current = max((m.version for m, _, _ in entries), default=None)
    infos = [
        KeyInfo(
            version=m.version,
            development=m.development,
            current=m.version == current,
            source=source,
            mode=mode,
            fingerprint=key_fingerprint(m),
        )
        for m, source, mode in sorted(entries, key=lambda e: e[0].version)
    ]
    return infos, (_mode_of(keys_dir) if keys_dir.is_dir() else None)


def generate_first_key(settings: Settings, *, production: bool) -> MasterKey:
    """Write master key version 1. Refuses when any key is configured already (rotate then)."""
    keys_dir = settings.resolved_keys_dir
    if key_files(keys_dir) or settings.master_key is not None:
        raise ConfigurationError(
            "a master key exists already; use 'verwijsindex keys rotate' for a new version"
        )
    if settings.is_production and not production:
        raise ConfigurationError(
            "VERWIJSINDEX_ENV=production refuses development keys; pass --production"
        )
    path = generate_master_key_file(keys_dir, version=1, development=not production)
    return _read_master_key(path)


def rotate_key(settings: Settings) -> MasterKey:
    """Write version N+1 (N the current version). The new key is development-marked only
    when the current one is. Existing files are never touched."""
    ring = KeyRing.load(settings)
    current = ring._masters[ring.current_version]
    path = generate_master_key_file(
        settings.resolved_keys_dir,
        version=ring.current_version + 1,
        development=current.development,
    )
    return _read_master_key(path)


def retire_key_file(settings: Settings, *, version: int) -> Path:
    """Move version ``version``'s key file to ``<keys_dir>/retired/`` so it is no longer
    loaded. Refuses the current version. Returns the new path (destroy it when no backup
    that needs it remains)."""
    keys_dir = settings.resolved_keys_dir
    files = {_read_master_key(p).version: p for p in key_files(keys_dir)}
    if version not in files:
        raise ConfigurationError(f"no key file for version {version} in the keys directory")
    if version == max(files) and (
        settings.master_key is None or settings.master_key_version <= version
    ):
        raise ConfigurationError("the current key version cannot be retired; rotate first")
    retired = keys_dir / _RETIRED_DIR
    retired.mkdir(mode=0o700, exist_ok=True)
    target = retired / files[version].name
    if target.exists():
        raise ConfigurationError(f"{_RETIRED_DIR}/{target.name} exists already")
    files[version].rename(target)
    return target
