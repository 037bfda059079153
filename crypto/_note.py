"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

A signed note is the note text (ending in a newline), a blank line, and one or more
signature lines ``— <key name> <base64(key ID || signature)>``. The Ed25519 signature is
over the UTF-8 bytes of the note text, final newline included. The key ID is
``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]``.

Keys travel as the strings of Go's ``golang.org/x/mod/sumdb/note`` package:

* verifier key: ``<name>+<hex key ID>+<base64(0x01 || public key)>``
* signer key:   ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || 32-byte seed)>``

Example::

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from crypto import sign_note, verify_note

    key = Ed25519PrivateKey.generate()
    note = sign_note("hello\\n", name="example.org/log", private_key=key)
    text = verify_note(note, name="example.org/log", public_key=key.public_key())
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from crypto._errors import CryptoError

_ALG_ED25519 = b"\x01"
_SIG_PREFIX = "\u2014 "  # em dash, space
_MAX_SIGNATURES = 100
_ED25519_SIG_SIZE = 64
_KEY_SIZE = 32
_HEX_ID = re.compile(r"[0-9a-f]{8}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class MalformedNote(CryptoError, ValueError):
    """The input is not a well-formed signed note (or note text)."""


class InvalidNoteSignature(CryptoError):
    """The note carries no valid signature by the expected key, or a bad one by it."""


class InvalidNoteKey(CryptoError, ValueError):
    """A key name or an encoded verifier or signer key is not well formed."""


def _check_name(name: str) -> None:
    if (
        not name
        or "+" in name
        or any(c.isspace() for c in name)
        or _CONTROL.search(name)
        or "\n" in name
    ):
        raise InvalidNoteKey("a key name must be non-empty, without spaces or '+'")


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def note_key_id(*, name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte key ID ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``."""
    _check_name(name)
    digest = sha256(name.encode("utf-8") + b"\n" + _ALG_ED25519 + _raw_public(public_key))
    return digest.digest()[:4]


@dataclass(frozen=True, kw_only=True)
class NoteVerifierKey:
    """A named Ed25519 public key as used to verify notes."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return note_key_id(name=self.name, public_key=self.public_key)

    def encode(self) -> str:
        """Return ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
        return format_verifier_key(name=self.name, public_key=self.public_key)


def format_verifier_key(*, name: str, public_key: Ed25519PublicKey) -> str:
    """Encode a verifier key as ``<name>+<hex key ID>+<base64(0x01 || public key)>``."""
    key_id = note_key_id(name=name, public_key=public_key)
    encoded = base64.b64encode(_ALG_ED25519 + _raw_public(public_key)).decode("ascii")
    return f"{name}+{key_id.hex()}+{encoded}"


def _b64decode_canonical(value: str) -> bytes:
    """Standard base64 that rejects anything but the one canonical encoding of the bytes."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != value:
        raise ValueError("not canonical base64")
    return raw


def _decode_key_body(name: str, key_id_hex: str, body: str) -> bytes:
    _check_name(name)
    if not _HEX_ID.fullmatch(key_id_hex):
        raise InvalidNoteKey("the key ID must be 8 lowercase hex digits")
    try:
        raw = _b64decode_canonical(body)
    except ValueError as exc:
        raise InvalidNoteKey("the key is not valid base64") from exc
    if len(raw) != 1 + _KEY_SIZE or raw[:1] != _ALG_ED25519:
        raise InvalidNoteKey("only Ed25519 keys (type 0x01, 32 bytes) are supported")
    return raw[1:]


def parse_verifier_key(vkey: str) -> NoteVerifierKey:
    """Parse ``<name>+<hex key ID>+<base64(0x01 || public key)>`` and check the key ID."""
    parts = vkey.split("+", 2)  # base64 may itself contain "+"
    if len(parts) != 3:
        raise InvalidNoteKey("a verifier key has the form name+keyid+key")
    name, key_id_hex, body = parts
    public_key = Ed25519PublicKey.from_public_bytes(_decode_key_body(name, key_id_hex, body))
    if note_key_id(name=name, public_key=public_key).hex() != key_id_hex:
        raise InvalidNoteKey("the key ID does not match the name and key")
    return NoteVerifierKey(name=name, public_key=public_key)


def format_signer_key(*, name: str, private_key: Ed25519PrivateKey) -> str:
    """Encode a signer key as ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``.

    The result is a secret; store it like one.
    """
    key_id = note_key_id(name=name, public_key=private_key.public_key())
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    encoded = base64.b64encode(_ALG_ED25519 + seed).decode("ascii")
    return f"PRIVATE+KEY+{name}+{key_id.hex()}+{encoded}"


def parse_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a ``PRIVATE+KEY+...`` signer key into its name and private key."""
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise InvalidNoteKey("a signer key has the form PRIVATE+KEY+name+keyid+key")
    name, key_id_hex, body = parts[2:]
    private_key = Ed25519PrivateKey.from_private_bytes(_decode_key_body(name, key_id_hex, body))
    if note_key_id(name=name, public_key=private_key.public_key()).hex() != key_id_hex:
        raise InvalidNoteKey("the key ID does not match the name and key")
    return name, private_key


def _check_text(text: str) -> bytes:
    if not text.endswith("\n"):
        raise MalformedNote("the note text must end in a newline")
    if _CONTROL.search(text):
        raise MalformedNote("the note text must not contain control characters")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNote("the note text must be valid UTF-8") from exc


def sign_note(text: str, *, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign ``text`` and return the signed note: text, blank line, one signature line."""
    message = _check_text(text)
    key_id = note_key_id(name=name, public_key=private_key.public_key())
    signature = base64.b64encode(key_id + private_key.sign(message)).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{name} {signature}\n"


def verify_note(note: str | bytes, *, name: str, public_key: Ed25519PublicKey) -> str:
    """Return the text of ``note`` if the key ``name``/``public_key`` signed it.

    Signature lines from other keys (different name or key ID) are ignored. Every line
    from the expected key must verify, and at least one must be present; otherwise
    :class:`InvalidNoteSignature`. Syntax errors raise :class:`MalformedNote`.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedNote("a signed note must be valid UTF-8") from exc
    if _CONTROL.search(note):
        raise MalformedNote("a signed note must not contain control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("a signed note needs a blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    message = _check_text(text)
    if not block.endswith("\n"):
        raise MalformedNote("the signature block must end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise MalformedNote("too many signatures")
    expected_id = note_key_id(name=name, public_key=public_key)
    verified = False
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise MalformedNote("a signature line starts with an em dash and a space")
        line_name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        try:
            _check_name(line_name)
            raw = _b64decode_canonical(encoded)
        except ValueError as exc:
            raise MalformedNote("a signature line is not well formed") from exc
        if not sep or len(raw) < 5:
            raise MalformedNote("a signature line is not well formed")
        if line_name != name or not hmac.compare_digest(raw[:4], expected_id):
            continue
        signature = raw[4:]
        if len(signature) != _ED25519_SIG_SIZE:
            raise InvalidNoteSignature("the signature by the expected key does not verify")
        try:
            public_key.verify(signature, message)
        except InvalidSignature as exc:
            raise InvalidNoteSignature("the signature by the expected key does not verify") from exc
        verified = True
    if not verified:
        raise InvalidNoteSignature("the note is not signed by the expected key")
    return text
