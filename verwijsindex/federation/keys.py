"""Keys of federation.

Regions share one *federation key* the hub never has. From it (HKDF-SHA256, versioned):

* purpose ``federation``: the HMAC key of the federated pseudonym
  ``f<version>.<base64url(HMAC(K, youth input))>``. The hub stores this value; without the
  federation key it can neither compute it from a BSN nor join it with a region's stored
  pseudonym (another key, another purpose) or access-log pseudonyms;
* purpose ``federation-card``: the AES-256-GCM key that seals a participant's card (the
  organisation, and the professional's contact where the region shares it), so the hub relays
  cards it cannot read.

Each region has a *region key* the hub issued: derived by the hub from its master key per
region and version, so the hub stores none. Requests from the region to the hub and callbacks
from the hub to the region are signed (Standard Webhooks ``v1``) with two keys derived from it,
one per direction, so a message cannot be reflected back to its sender.

The input of the federated pseudonym is the youth's subject token (the OPRF output of the key
service, :func:`verwijsindex.blind.federation_input`; no BSN) or, in a federation of regions
without a key service, the BSN (:func:`bsn_input`). Each input has its own prefix, so the two
never give the same value; every region of a federation uses the same one
(``VERWIJSINDEX_FEDERATION_INPUT``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

from crypto import BSN, SubjectToken, derive_subkey, parse_webhook_secret
from crypto._errors import CryptoError
from verwijsindex.errors import ConfigurationError, InvalidInput

FEDERATION_PURPOSE = "federation"
CARD_PURPOSE = "federation-card"
REGION_KEY_PURPOSE = "federation-region"
REFERENCE_PURPOSE = "federation-reference"
TO_HUB = b"region-to-hub"
TO_REGION = b"hub-to-region"
_NONCE_BYTES = 12


def bsn_input(bsn: BSN) -> bytes:
    """The federated pseudonym's input on the direct path (``federation_input = bsn``)."""
    return b"bsn:" + bsn.encode("ascii")


def token_input(token: SubjectToken) -> bytes:
    """The federated pseudonym's input from the youth's subject token (the default)."""
    return b"subject-token:" + token.encode("ascii")


def _decode_key(value: str, name: str) -> bytes:
    try:
        material = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ConfigurationError(f"{name} is not valid base64") from exc
    if len(material) < 32:
        raise ConfigurationError(f"{name} must be at least 32 bytes")
    return material


@dataclass(frozen=True)
class FederationKeys:
    """A region's federation keys: the federated pseudonym and card sealing."""

    version: int
    _pseudonym_key: bytes = field(repr=False)
    _card: AESGCM = field(repr=False)

    @classmethod
    def from_setting(cls, value: str, *, version: int) -> FederationKeys:
        material = _decode_key(value, "VERWIJSINDEX_FEDERATION_KEY")
        return cls(
            version=version,
            _pseudonym_key=derive_subkey(material, purpose=FEDERATION_PURPOSE, version=version),
            _card=AESGCM(derive_subkey(material, purpose=CARD_PURPOSE, version=version)),
        )

    def federated_pseudonym(self, youth: bytes) -> str:
        mac = hmac.new(self._pseudonym_key, youth, hashlib.sha256).digest()
        return f"f{self.version}." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def seal_card(self, card: dict[str, Any], *, region: str, reference: str) -> str:
        """The card, sealed for the regions; bound to its region and reference."""
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(card, separators=(",", ":")).encode("utf-8")
        sealed = self._card.encrypt(nonce, plaintext, _card_aad(region, reference))
        return f"c{self.version}." + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open_card(self, sealed: str, *, region: str, reference: str) -> dict[str, Any] | None:
        """The card, or None when it was not sealed for this region's key or was altered."""
        head, _, body = sealed.partition(".")
        if head != f"c{self.version}":
            return None
        try:
            raw = base64.urlsafe_b64decode(body)
            plaintext = self._card.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _card_aad(region, reference)
            )
            card = json.loads(plaintext)
        except (ValueError, InvalidTag, binascii.Error):
            return None
        return card if isinstance(card, dict) else None


class References:
    """A registration's opaque reference at the hub: its id encrypted deterministically
    (AES-SIV) under a key of the region's master key (the hub and other regions hold none), with
    the key version in front. The region reads a reference back to its registration without a
    table; the hub sees 44 random-looking characters that are the same for one registration
    and unrelated between registrations (no time, unlike the UUIDv7 id)."""

    def __init__(self, keys_by_version: dict[int, bytes], current: int) -> None:
        self._ciphers = {v: AESSIV(k) for v, k in keys_by_version.items()}
        self._current = current

    def of(self, registration_id: str) -> str:
        sealed = self._ciphers[self._current].encrypt(uuid.UUID(registration_id).bytes, [_AD])
        return base64.urlsafe_b64encode(bytes([self._current]) + sealed).decode("ascii")

    def registration_of(self, reference: str) -> str | None:
        try:
            raw = base64.urlsafe_b64decode(reference)
            cipher = self._ciphers.get(raw[0]) if raw else None
            if cipher is None:
                return None
            return str(uuid.UUID(bytes=cipher.decrypt(raw[1:], [_AD])))
        except (ValueError, InvalidTag, binascii.Error):
            return None


_AD = b"verwijsindex-federation-reference"


def _card_aad(region: str, reference: str) -> bytes:
    return f"verwijsindex-card\n{region}\n{reference}".encode("ascii")


def direction_key(region_key: bytes, direction: bytes) -> bytes:
    """The signing key of one direction between a region and the hub."""
    return hmac.new(region_key, direction, hashlib.sha256).digest()


def parse_region_key(value: str) -> bytes:
    """The raw region key of its ``whsec_`` form."""
    try:
        return parse_webhook_secret(value)
    except CryptoError:
        raise InvalidInput("the region key must be a whsec_ secret of 24 to 64 bytes") from None
