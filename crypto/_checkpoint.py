"""C2SP transparency log checkpoints (https://c2sp.org/tlog-checkpoint).

A checkpoint is a signed note whose text is::

    <origin>
    <tree size, decimal, no leading zeros>
    <base64 RFC 6962 root hash>
    [extension lines, each non-empty]

Example::

    from crypto import Checkpoint, sign_checkpoint, verify_checkpoint

    note = sign_checkpoint(
        Checkpoint(origin="example.org/ledger", size=3, root_hash=root),
        name="example.org/ledger",
        private_key=key,
    )
    checkpoint = verify_checkpoint(
        note, origin="example.org/ledger", name="example.org/ledger", public_key=public_key
    )
"""

from __future__ import annotations

import re
from base64 import b64encode
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from crypto._errors import CryptoError
from crypto._merkle import HASH_SIZE
from crypto._note import _b64decode_canonical, sign_note, verify_note

_MAX_SIZE = 2**64 - 1
_SIZE = re.compile(r"0|[1-9][0-9]*")
_BAD_LINE = re.compile(r"[\x00-\x1f]")


class InvalidCheckpoint(CryptoError, ValueError):
    """The text is not a well-formed checkpoint, or it is for another log (origin)."""


def _check_line(value: str, what: str) -> None:
    if not value or _BAD_LINE.search(value):
        raise InvalidCheckpoint(f"the {what} must be a non-empty line without control characters")


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """The head of a Merkle log at one size: origin, number of leaves and root hash."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not 0 <= self.size <= _MAX_SIZE:
            raise InvalidCheckpoint("the tree size must be an unsigned 64-bit integer")
        if len(self.root_hash) != HASH_SIZE:
            raise InvalidCheckpoint("the root hash must be 32 bytes")
        for line in self.extensions:
            _check_line(line, "extension line")


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """Return the note text of ``checkpoint`` (ends in a newline, unsigned)."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        b64encode(checkpoint.root_hash).decode("ascii"),
        *checkpoint.extensions,
    ]
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly.

    Rejects: text not ending in a newline, fewer than three lines, empty lines, a size with
    leading zeros, signs, spaces or non-ASCII digits or beyond 2**64-1, a root hash that is
    not canonical standard base64 or not 32 bytes.
    """
    if not text.endswith("\n"):
        raise InvalidCheckpoint("checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise InvalidCheckpoint("a checkpoint has at least three lines")
    origin, size_line, root_line, *extensions = lines
    if not _SIZE.fullmatch(size_line):
        raise InvalidCheckpoint("the tree size must be decimal without leading zeros")
    try:
        root = _b64decode_canonical(root_line)
    except ValueError as exc:
        raise InvalidCheckpoint("the root hash is not canonical base64") from exc
    return Checkpoint(
        origin=origin, size=int(size_line), root_hash=root, extensions=tuple(extensions)
    )


def sign_checkpoint(checkpoint: Checkpoint, *, name: str, private_key: Ed25519PrivateKey) -> str:
    """Return ``checkpoint`` as a signed note (by convention ``name`` equals the origin)."""
    return sign_note(format_checkpoint(checkpoint), name=name, private_key=private_key)


def verify_checkpoint(
    note: str | bytes, *, origin: str, name: str, public_key: Ed25519PublicKey
) -> Checkpoint:
    """Verify the signed note, parse its text and check the origin is the expected log.

    Raises :class:`~crypto.InvalidNoteSignature` or :class:`~crypto.MalformedNote` from the
    note layer, :class:`InvalidCheckpoint` for a bad body or another origin.
    """
    checkpoint = parse_checkpoint(verify_note(note, name=name, public_key=public_key))
    if checkpoint.origin != origin:
        raise InvalidCheckpoint("the checkpoint is for another log")
    return checkpoint
