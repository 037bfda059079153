"""HPKE (RFC 9180) for end-to-end encrypted exchange between organisations.

Suite: mode_base, DHKEM(X25519, HKDF-SHA256) (KEM 0x0020), HKDF-SHA256 (KDF 0x0001),
ChaCha20-Poly1305 (AEAD 0x0003), single-shot, via ``cryptography.hazmat.primitives.hpke``.

``cryptography`` returns ``enc || ciphertext`` from one call; :func:`seal` splits it at
the 32-byte X25519 encapsulated key so the API can carry ``enc`` and ``ciphertext`` as
separate fields, and :func:`open` joins them again.

There is no separate additional-data argument: the public ``cryptography`` API has none,
and everything the ciphertext must be bound to (match, consent reference, sender,
recipient) goes into ``info`` through :func:`exchange_info`. ``info`` enters the HPKE key
schedule, so a ciphertext opened with any other context fails.

Example::

    private_key, public_key = generate_keypair()
    info = exchange_info(match_id="m1", consent_reference=["ev1"],
                         sender_org="org-a", recipient_org="org-b")
    enc, ciphertext = seal(recipient_public_key=public_key, info=info, plaintext=b"...")
    assert open(private_key=private_key, enc=enc, info=info, ciphertext=ciphertext) == b"..."
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from crypto._errors import CryptoError

EXCHANGE_INFO_LABEL = "verwijsindex-exchange-v1"
KEY_BYTES = 32
ENC_BYTES = 32

_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


class HPKEError(CryptoError):
    """Sealing or opening failed: bad key, wrong context or tampered ciphertext."""


def generate_keypair() -> tuple[bytes, bytes]:
    """Return a fresh X25519 key pair as ``(private_raw, public_raw)``, 32 bytes each."""
    private = X25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def public_key_from_private(private_key: bytes) -> bytes:
    """Return the raw X25519 public key belonging to a raw private key."""
    return _private(private_key).public_key().public_bytes_raw()


def _private(raw: bytes) -> X25519PrivateKey:
    if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
        raise HPKEError("an X25519 private key is 32 raw bytes")
    return X25519PrivateKey.from_private_bytes(raw)


def _public(raw: bytes) -> X25519PublicKey:
    if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
        raise HPKEError("an X25519 public key is 32 raw bytes")
    return X25519PublicKey.from_public_bytes(raw)


def _label(value: str, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise HPKEError(f"{name} must be a non-empty string")
    return value


def exchange_info(
    *,
    match_id: str,
    consent_reference: Iterable[str] | str,
    sender_org: str,
    recipient_org: str,
) -> bytes:
    """The HPKE ``info`` that binds a ciphertext to one exchange.

    Canonical JSON (sorted keys, no whitespace, ASCII only) of an object with a version
    label, so the encoding is unambiguous and any changed field gives different bytes::

        {"consent_reference":[...],"label":"verwijsindex-exchange-v1","match_id":"...",
         "recipient_org":"...","sender_org":"..."}

    ``consent_reference`` is the list of consent event ids (kept in the given order) or a
    single string such as a legal-ground reference.
    """
    if isinstance(consent_reference, str):
        reference: list[str] = [_label(consent_reference, "consent_reference")]
    else:
        reference = [_label(r, "each consent reference") for r in consent_reference]
        if not reference:
            raise HPKEError("consent_reference must not be empty")
    if sender_org == recipient_org:
        raise HPKEError("sender and recipient must differ")
    document = {
        "label": EXCHANGE_INFO_LABEL,
        "match_id": _label(match_id, "match_id"),
        "consent_reference": reference,
        "sender_org": _label(sender_org, "sender_org"),
        "recipient_org": _label(recipient_org, "recipient_org"),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def seal(*, recipient_public_key: bytes, info: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    """Encrypt ``plaintext`` to the recipient; return ``(enc, ciphertext)``."""
    public = _public(recipient_public_key)
    try:
        sealed = _SUITE.encrypt(plaintext, public, info)
    except ValueError as exc:  # e.g. a low-order public key
        raise HPKEError("cannot encrypt to this public key") from exc
    return sealed[:ENC_BYTES], sealed[ENC_BYTES:]


def open(*, private_key: bytes, enc: bytes, info: bytes, ciphertext: bytes) -> bytes:
    """Decrypt what :func:`seal` produced, or raise :class:`HPKEError`."""
    private = _private(private_key)
    if not isinstance(enc, bytes) or len(enc) != ENC_BYTES:
        raise HPKEError("enc is the 32-byte encapsulated key")
    try:
        return _SUITE.decrypt(enc + ciphertext, private, info)
    except (InvalidTag, ValueError) as exc:
        raise HPKEError("the ciphertext cannot be opened with this key and context") from exc
