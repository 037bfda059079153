"""Opaque keyset cursors: base64url of ``<created_at ISO>|<id>``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import Query

from verwijsindex.errors import InvalidInput
from verwijsindex.http.timestamps import to_utc

KeysetCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The previous page's next_cursor (opaque)",
    ),
]
"""The cursor parameter of a list in ``created_at`` order (:func:`encode_cursor`)."""

PageLimit = Annotated[int, Query(ge=1, le=500)]
"""The limit parameter of a list: at most 500 items a page (the route sets the default)."""

SeqCursor = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=18,
        pattern=r"^[0-9]+$",
        description="The previous page's next_cursor (a sequence number)",
    ),
]
"""The cursor parameter of a list in sequence order."""


def decode_seq_cursor(cursor: str | None) -> int | None:
    """The sequence number of a :data:`SeqCursor` (None for the first page)."""
    if cursor is None:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput("cursor is not valid")
    return int(cursor)


def encode_cursor(created_at: datetime, item_id: str) -> str:
    raw = f"{created_at.isoformat()}|{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Keyed(Protocol):
    """An item of a list in ``created_at`` order."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


def next_cursor(page: Sequence[Keyed], more: bool) -> str | None:
    """The cursor of the page after ``page`` (its last item), or None when no more follow."""
    return encode_cursor(page[-1].created_at, page[-1].id) if more else None


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, item_id = base64.urlsafe_b64decode(padded).decode().partition("|")
        stamp = datetime.fromisoformat(created)
        if stamp.tzinfo is None or not item_id:
            raise ValueError
        return to_utc(stamp), item_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not valid") from None
