"""Standard Webhooks 1.0 signatures: ``v1`` (HMAC-SHA256) and ``v1a`` (Ed25519).

The signed content is ``{msg_id}.{timestamp}.{body}`` (spec, "Signature scheme"). A signature
travels as ``<version>,<base64 signature>``; the ``webhook-signature`` header is a
space-separated list of them, so an endpoint can be signed with an old and a new secret while
a rotation overlaps.

Key material is serialised as the spec prescribes:

* ``whsec_<base64 of 24..64 random bytes>`` -- shared HMAC secret;
* ``whsk_<base64 of the 32-byte Ed25519 seed>`` -- private signing key (the 64-byte
  libsodium form ``seed || public key`` is accepted on input and checked for consistency);
* ``whpk_<base64 of the 32-byte Ed25519 public key>`` -- public verification key.

Example::

    from crypto import (
        generate_webhook_secret, parse_webhook_secret, signature_header, verify_webhook
    )

    secret = parse_webhook_secret(generate_webhook_secret())   # store the whsec_ string
    now = int(time.time())
    body = b'{"type":"match.created"}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header(
            msg_id="msg_1", timestamp=now, body=body, secrets=[secret]
        ),
    }
    verify_webhook(secret=secret, headers=headers, body=body, now=now)   # raises if invalid
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets as _secrets
from collections.abc import Mapping, Sequence
from hashlib import sha256
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from crypto._errors import CryptoError

SECRET_PREFIX = "whsec_"  # noqa: S105 -- a format prefix, not a secret
SIGNING_KEY_PREFIX = "whsk_"
PUBLIC_KEY_PREFIX = "whpk_"

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"

DEFAULT_TOLERANCE_SECONDS = 300

_MIN_SECRET_BYTES = 24
_MAX_SECRET_BYTES = 64
_GENERATED_SECRET_BYTES = 32
_MAX_MSG_ID_LENGTH = 256
_MAX_SIGNATURES_IN_HEADER = 32
_TIMESTAMP_DIGITS = 12  # unix seconds below 10**12: beyond the year 30000
# Printable ASCII without space, comma and full stop: the id is part of the signed content
# (a "." would make "{id}.{ts}" ambiguous) and travels in an HTTP header.
_MSG_ID_ALPHABET = frozenset(chr(c) for c in range(0x21, 0x7F)) - {".", ","}


class InvalidWebhookSecret(CryptoError, ValueError):
    """A ``whsec_``/``whsk_``/``whpk_`` string is malformed. The message never echoes it."""


class InvalidWebhookMessage(CryptoError, ValueError):
    """The message id or timestamp cannot be signed (empty, contains ``.``, negative...)."""


class InvalidWebhookSignature(CryptoError):
    """Verification failed. ``reason`` is a stable code:

    ``missing-header``, ``malformed-timestamp``, ``stale-timestamp``, ``future-timestamp``,
    ``no-matching-signature``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Ed25519WebhookKeyPair(NamedTuple):
    """A freshly generated key pair in its serialised ``whsk_``/``whpk_`` form."""

    signing_key: str
    public_key: str


# --- key material -----------------------------------------------------------------------


def _b64decode_strict(text: str) -> bytes:
    """Standard base64, padding optional, no whitespace or foreign characters."""
    if not text.isascii():
        raise InvalidWebhookSecret("the key is not base64")
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except binascii.Error:
        raise InvalidWebhookSecret("the key is not base64") from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def generate_webhook_secret() -> str:
    """Return a new ``whsec_`` secret holding 32 bytes from the operating system's CSPRNG."""
    return SECRET_PREFIX + _b64(_secrets.token_bytes(_GENERATED_SECRET_BYTES))


def parse_webhook_secret(value: str) -> bytes:
    """Return the raw HMAC key of a ``whsec_`` secret (24 to 64 bytes)."""
    if not isinstance(value, str) or not value.startswith(SECRET_PREFIX):
        raise InvalidWebhookSecret("a webhook secret starts with 'whsec_'")
    raw = _b64decode_strict(value[len(SECRET_PREFIX) :])
    if not _MIN_SECRET_BYTES <= len(raw) <= _MAX_SECRET_BYTES:
        raise InvalidWebhookSecret("a webhook secret holds 24 to 64 bytes")
    return raw


def generate_ed25519_signing_key() -> Ed25519WebhookKeyPair:
    """Return a new Ed25519 key pair as ``whsk_`` (private seed) and ``whpk_`` (public) strings."""
    private_key = Ed25519PrivateKey.generate()
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return Ed25519WebhookKeyPair(
        signing_key=SIGNING_KEY_PREFIX + _b64(seed), public_key=PUBLIC_KEY_PREFIX + _b64(public)
    )


def parse_ed25519_signing_key(value: str) -> Ed25519PrivateKey:
    """Parse a ``whsk_`` key: a 32-byte seed, or the 64-byte ``seed || public key`` form."""
    if not isinstance(value, str) or not value.startswith(SIGNING_KEY_PREFIX):
        raise InvalidWebhookSecret("an Ed25519 webhook signing key starts with 'whsk_'")
    raw = _b64decode_strict(value[len(SIGNING_KEY_PREFIX) :])
    if len(raw) not in (32, 64):
        raise InvalidWebhookSecret("an Ed25519 signing key holds 32 (or 64) bytes")
    private_key = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64:
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        if not hmac.compare_digest(public, raw[32:]):
            raise InvalidWebhookSecret("the public half of the signing key does not match")
    return private_key


def parse_ed25519_public_key(value: str) -> Ed25519PublicKey:
    """Parse a ``whpk_`` key (32 raw bytes, base64)."""
    if not isinstance(value, str) or not value.startswith(PUBLIC_KEY_PREFIX):
        raise InvalidWebhookSecret("an Ed25519 webhook public key starts with 'whpk_'")
    raw = _b64decode_strict(value[len(PUBLIC_KEY_PREFIX) :])
    if len(raw) != 32:
        raise InvalidWebhookSecret("an Ed25519 public key holds 32 bytes")
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidWebhookSecret("not an Ed25519 public key") from None


# --- signing ----------------------------------------------------------------------------


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    if not msg_id or len(msg_id) > _MAX_MSG_ID_LENGTH or not set(msg_id) <= _MSG_ID_ALPHABET:
        raise InvalidWebhookMessage(
            "the message id must be 1-256 printable ASCII characters without '.', ',' or spaces"
        )
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int)
        or not 0 <= timestamp < 10**_TIMESTAMP_DIGITS
    ):
        raise InvalidWebhookMessage("the timestamp must be unix seconds (0 <= t < 10**12)")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise InvalidWebhookMessage("the body must be bytes")
    return f"{msg_id}.{timestamp}.".encode("ascii") + bytes(body)


def _hmac_v1(secret: bytes, content: bytes) -> bytes:
    if len(secret) < _MIN_SECRET_BYTES:
        raise InvalidWebhookSecret("a webhook secret holds at least 24 bytes")
    return hmac.new(secret, content, sha256).digest()


def sign_v1(*, secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return ``v1,<base64 HMAC-SHA256(secret, "{msg_id}.{timestamp}.{body}")>``."""
    return "v1," + _b64(_hmac_v1(secret, _signed_content(msg_id, timestamp, body)))


def sign_v1a(*, private_key: Ed25519PrivateKey, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return ``v1a,<base64 Ed25519 signature of "{msg_id}.{timestamp}.{body}">``."""
    return "v1a," + _b64(private_key.sign(_signed_content(msg_id, timestamp, body)))


def signature_header(
    *,
    msg_id: str,
    timestamp: int,
    body: bytes,
    secrets: Sequence[bytes],
    ed25519_keys: Sequence[Ed25519PrivateKey] = (),
) -> str:
    """Return the ``webhook-signature`` value: one entry per secret and key, space-separated.

    Pass the current and the previous secret while a rotation overlaps; a receiver that knows
    either of them accepts the message.
    """
    content = _signed_content(msg_id, timestamp, body)
    entries = [f"v1,{_b64(_hmac_v1(secret, content))}" for secret in secrets]
    entries += [f"v1a,{_b64(key.sign(content))}" for key in ed25519_keys]
    if not entries:
        raise InvalidWebhookSecret("at least one secret or signing key is needed")
    return " ".join(entries)


# --- verification -----------------------------------------------------------------------


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise InvalidWebhookSignature("missing-header", f"the {name} header is missing")


def _checked_message(
    headers: Mapping[str, str], body: bytes, now: float, tolerance_seconds: int
) -> tuple[bytes, list[tuple[str, str]]]:
    """Check headers and timestamp; return the signed content and the (version, sig) pairs."""
    msg_id = _header(headers, HEADER_ID)
    raw_timestamp = _header(headers, HEADER_TIMESTAMP)
    raw_signatures = _header(headers, HEADER_SIGNATURE)
    if (
        not raw_timestamp.isascii()
        or not raw_timestamp.isdigit()
        or len(raw_timestamp) > _TIMESTAMP_DIGITS
    ):
        raise InvalidWebhookSignature(
            "malformed-timestamp", "webhook-timestamp is not a unix time in seconds"
        )
    timestamp = int(raw_timestamp)
    if timestamp < now - tolerance_seconds:
        raise InvalidWebhookSignature("stale-timestamp", "the message timestamp is too old")
    if timestamp > now + tolerance_seconds:
        raise InvalidWebhookSignature("future-timestamp", "the message timestamp is too new")
    try:
        content = _signed_content(msg_id, timestamp, body)
    except InvalidWebhookMessage:
        raise InvalidWebhookSignature(
            "no-matching-signature", "no signature matches the message"
        ) from None
    pairs: list[tuple[str, str]] = []
    for entry in raw_signatures.split()[:_MAX_SIGNATURES_IN_HEADER]:
        version, sep, signature = entry.partition(",")
        if sep:
            pairs.append((version, signature))
    return content, pairs


def _decode_signature(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_webhook(
    *,
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Verify a ``v1`` signed message or raise :class:`InvalidWebhookSignature`.

    ``headers`` are matched case-insensitively. The timestamp must lie within
    ``tolerance_seconds`` of ``now`` (unix seconds) in either direction. Every ``v1`` entry of
    the header is compared in constant time; entries of other versions are ignored.
    """
    content, pairs = _checked_message(headers, body, now, tolerance_seconds)
    expected = _hmac_v1(secret, content)
    matched = False
    for version, signature in pairs:
        if version != "v1":
            continue
        candidate = _decode_signature(signature)
        if candidate is not None and hmac.compare_digest(expected, candidate):
            matched = True
    if not matched:
        raise InvalidWebhookSignature("no-matching-signature", "no signature matches the message")


def verify_webhook_ed25519(
    *,
    public_key: Ed25519PublicKey,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Verify a ``v1a`` signed message or raise :class:`InvalidWebhookSignature`."""
    content, pairs = _checked_message(headers, body, now, tolerance_seconds)
    for version, signature in pairs:
        if version != "v1a":
            continue
        candidate = _decode_signature(signature)
        if candidate is None or len(candidate) != 64:
            continue
        try:
            public_key.verify(candidate, content)
        except InvalidSignature:
            continue
        return
    raise InvalidWebhookSignature("no-matching-signature", "no signature matches the message")
