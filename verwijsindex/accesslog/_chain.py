"""The hash chain over access-log records and the Ed25519-signed heads.

``hash_n = SHA-256("verwijsindex-access-log-v1\\n" || canonical_json(record_n))`` where the
canonical JSON has sorted keys, no whitespace, UTC timestamps with microseconds, and includes
``seq`` and ``prev_hash`` (``hash_{n-1}``; 64 zeros for the first record). A signed head is an
Ed25519 signature over ``"verwijsindex-access-log-head-v1\\n<count>\\n<head hash>\\n"``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verwijsindex.accesslog._models import AccessLogRecord

GENESIS_HASH = "0" * 64
_RECORD_DOMAIN = b"verwijsindex-access-log-v1\n"
_HEAD_DOMAIN = "verwijsindex-access-log-head-v1"

CHAINED_FIELDS = (
    "seq",
    "id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "operation",
    "activity_id",
    "status",
    "started_at",
    "ended_at",
    "professional_id",
    "organisation_id",
    "on_behalf_of",
    "role",
    "subject_pseudonym",
    "subject_ref_type",
    "subject_ref",
    "reason",
    "reference",
    "prev_hash",
)


@lru_cache(maxsize=256)
def _timestamp(value: datetime) -> str:
    # Cached: the records of one append share their end time, and the items of a batch
    # their start time too.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_record(record: AccessLogRecord) -> bytes:
    return canonical_row({name: getattr(record, name) for name in CHAINED_FIELDS})


def canonical_row(row: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a record given as a mapping of (at least) the chained fields."""
    document: dict[str, Any] = {}
    for name in CHAINED_FIELDS:
        value = row[name]
        document[name] = _timestamp(value) if isinstance(value, datetime) else value
    return _CANONICAL.encode(document).encode()


# ``json.dumps`` with options builds an encoder on every call; one encoder, the same output.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def record_hash(record: AccessLogRecord) -> str:
    return hashlib.sha256(_RECORD_DOMAIN + canonical_record(record)).hexdigest()


def row_hash(row: Mapping[str, Any]) -> str:
    """:func:`record_hash` of a record given as a mapping."""
    return hashlib.sha256(_RECORD_DOMAIN + canonical_row(row)).hexdigest()


# The chained fields in the order of ``sort_keys``, each with its key as the canonical JSON
# writes it (with the comma before every key but the first).
_KEYS = tuple(
    (name, ("," if position else "") + _CANONICAL.encode(name) + ":")
    for position, name in enumerate(sorted(CHAINED_FIELDS))
)


@lru_cache(maxsize=16)
def _slots_of(varying: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(varying)}


class RowHasher:
    """:func:`record_hash` of records given as mappings that share every chained field but
    the ``varying`` ones (the records of one append for one access context and operation
    differ only in ``seq``, ``id``, ``prev_hash`` and their subject). The canonical JSON
    between the varying values is encoded once; a record's is joined from those pieces and
    its own values: the same bytes as :func:`canonical_row`, without encoding and sorting
    twenty fields per record."""

    def __init__(self, fixed: Mapping[str, Any], varying: Sequence[str]) -> None:
        slot_of = _slots_of(tuple(varying))
        self._pieces: list[str] = []
        self._slots: list[int] = []
        parts = ["{"]
        for name, key in _KEYS:
            parts.append(key)
            slot = slot_of.get(name)
            if slot is None:
                value = fixed[name]
                # most fixed values are ids, codes or absent: :func:`_json_value` inline
                if value is None:
                    parts.append("null")
                elif type(value) is str:
                    parts.append(encode_basestring_ascii(value))
                else:
                    parts.append(_json_value(value))
            else:
                self._pieces.append("".join(parts))
                self._slots.append(slot)
                parts = []
        parts.append("}")
        self._tail = "".join(parts)

    def hash(self, values: Sequence[Any]) -> str:
        """The record's hash, given the values of the varying fields in their order."""
        parts: list[str] = []
        for piece, slot in zip(self._pieces, self._slots, strict=True):
            parts.append(piece)
            parts.append(_json_value(values[slot]))
        parts.append(self._tail)
        return hashlib.sha256(_RECORD_DOMAIN + "".join(parts).encode()).hexdigest()


def _json_value(value: Any) -> str:
    """One value as :func:`canonical_row` encodes it inside the record's JSON."""
    if value is None:
        return "null"
    if type(value) is str:
        return encode_basestring_ascii(value)  # what ``_CANONICAL`` does with a string
    if type(value) is int:
        return int.__repr__(value)
    return _CANONICAL.encode(_timestamp(value) if isinstance(value, datetime) else value)


def head_message(count: int, head_hash: str) -> bytes:
    return f"{_HEAD_DOMAIN}\n{count}\n{head_hash}\n".encode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign_head(private_key: Ed25519PrivateKey, count: int, head_hash: str) -> str:
    return base64.b64encode(private_key.sign(head_message(count, head_hash))).decode("ascii")


def head_signature_valid(
    public_key: Ed25519PublicKey, count: int, head_hash: str, signature: str
) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True), head_message(count, head_hash)
        )
    except (InvalidSignature, ValueError):
        return False
    return True
