"""Keyed, versioned pseudonyms of a BSN.

A pseudonym is ``p<version>.<base64url(HMAC-SHA256(K_purpose_v, "bsn:" + bsn))>`` where
``K_purpose_v = HKDF-SHA256(master_v, salt=b"verwijsindex", info=purpose + "/v" + version)``.
Only ~9×10^7 numbers pass the 11-test, so an unkeyed hash would be reversed in a minute; the
key never lives in the database. The version marker lets keys rotate (see docs/adr/0002).
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass, field
from hashlib import sha256
from typing import NewType

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto._bsn import BSN
from crypto._errors import CryptoError
from crypto._subject_token import SubjectToken

Pseudonym = NewType("Pseudonym", str)
"""A keyed pseudonym as stored: ``p<version>.<43 base64url characters>``."""

PSEUDONYM_PURPOSE_MATCH = "match-pseudonym"
PSEUDONYM_PURPOSE_ACCESS_LOG = "access-log-subject"
PSEUDONYM_PURPOSE_ACCESS_LOG_SCOPED = "access-log-subject-scoped"
PSEUDONYM_PURPOSE_PARENT = "parent-pseudonym"
"""A parent's or guardian's pseudonym on a registration (the family match): its own key, so
it cannot be joined with a youth's match pseudonym or an access-log pseudonym."""
PSEUDONYM_PURPOSE_BLIND = "blind-pseudonym"
"""The purpose of the key that turns a subject token (blind path) into a stored pseudonym."""
PSEUDONYM_PURPOSE_BLIND_PARENT = "blind-parent-pseudonym"
"""The purpose of the key that turns a parent's subject token into the parent's stored
pseudonym (the family match on the blind path, and on the direct path with a key service):
distinct from a youth's, so a parent's value never equals the same person's youth pseudonym."""

_SALT = b"verwijsindex"
_MIN_MASTER_KEY_BYTES = 32


def derive_subkey(master_key: bytes, *, purpose: str, version: int, length: int = 32) -> bytes:
    """Derive a purpose- and version-bound subkey from a master key with HKDF-SHA256."""
    if len(master_key) < _MIN_MASTER_KEY_BYTES:
        raise CryptoError("the master key must be at least 32 bytes")
    if version < 1:
        raise CryptoError("key versions start at 1")
    if not purpose or "/" in purpose:
        raise CryptoError("the purpose must be a non-empty label without '/'")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=_SALT,
        info=f"{purpose}/v{version}".encode("ascii"),
    )
    return hkdf.derive(master_key)


@dataclass(frozen=True, kw_only=True)
class PseudonymKey:
    """An HMAC key for one purpose and one version. Construct with :meth:`derive`."""

    version: int
    purpose: str
    _key: bytes = field(repr=False)
    _keyed: hmac.HMAC = field(init=False, repr=False, compare=False)
    """An HMAC keyed with ``_key`` over no message: each pseudonym continues a copy of it
    instead of setting up the key again (the same MAC, about a third less work)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keyed", hmac.new(self._key, digestmod=sha256))

    @classmethod
    def derive(
        cls, *, master_key: bytes, version: int, purpose: str = PSEUDONYM_PURPOSE_MATCH
    ) -> PseudonymKey:
        return cls(
            version=version,
            purpose=purpose,
            _key=derive_subkey(master_key, purpose=purpose, version=version),
        )

    def pseudonymise(self, bsn: BSN) -> Pseudonym:
        keyed = self._keyed.copy()
        keyed.update(b"bsn:" + bsn.encode("ascii"))
        mac = keyed.digest()
        encoded = base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
        return Pseudonym(f"p{self.version}.{encoded}")

    def pseudonymise_token(self, token: SubjectToken) -> Pseudonym:
        """The stored pseudonym of a youth known by its subject token (the blind path):
        ``b<version>.<base64url(HMAC(key, "token:" + token))>``. Use a key of its own purpose
        (:data:`PSEUDONYM_PURPOSE_BLIND`)."""
        keyed = self._keyed.copy()
        keyed.update(b"token:" + token.encode("ascii"))
        encoded = base64.urlsafe_b64encode(keyed.digest()).rstrip(b"=").decode("ascii")
        return Pseudonym(f"b{self.version}.{encoded}")

    def scoped_token_pseudonym(self, token: SubjectToken, *, scope: str) -> Pseudonym:
        """As :meth:`scoped_pseudonym` for a youth known by its subject token:
        ``s<version>.`` over ``"scope:<len>:<scope>\\ntoken:<token>"``."""
        raw = scope.encode("utf-8")
        keyed = self._keyed.copy()
        keyed.update(b"scope:%d:%s\ntoken:%s" % (len(raw), raw, token.encode("ascii")))
        encoded = base64.urlsafe_b64encode(keyed.digest()).rstrip(b"=").decode("ascii")
        return Pseudonym(f"s{self.version}.{encoded}")

    def scoped_pseudonym(self, bsn: BSN, *, scope: str) -> Pseudonym:
        """The pseudonym of ``bsn`` within ``scope`` (e.g. one organisation's id):
        ``s<version>.<base64url(HMAC(key, "scope:<len>:<scope>\\nbsn:<bsn>"))>``. The same
        youth has unrelated values in different scopes; without the key they cannot be
        joined."""
        raw = scope.encode("utf-8")
        keyed = self._keyed.copy()
        keyed.update(b"scope:%d:%s\nbsn:%s" % (len(raw), raw, bsn.encode("ascii")))
        encoded = base64.urlsafe_b64encode(keyed.digest()).rstrip(b"=").decode("ascii")
        return Pseudonym(f"s{self.version}.{encoded}")


def pseudonym_version(pseudonym: str) -> int:
    """Return the key version a stored pseudonym (``p<v>.`` direct, ``b<v>.`` blind) was
    made with."""
    head, sep, body = pseudonym.partition(".")
    if not sep or head[:1] not in ("p", "b") or not head[1:].isdigit() or len(body) != 43:
        raise CryptoError("not a versioned pseudonym")
    return int(head[1:])
