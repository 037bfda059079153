"""The registration write path's hand-off to the hub: rows in the region's federation outbox,
written in the registration's own transaction and sent later by :class:`RegionFederation`'s
drainer, never during the request."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import BSN
from verwijsindex.federation.keys import FederationKeys, youth_input
from verwijsindex.federation.models import FederationLink, FederationOutbox, HandoffKind
from verwijsindex.registrations.models import RegistrationRow
from verwijsindex.storage.base import RowInsert, new_id

FEDERATION_DUE = "federation_due"
"""``session.info`` flag: the transaction put rows in the federation outbox."""

_LINK_COLUMNS = ("registration_id", "reference", "created_at")
_OUTBOX_COLUMNS = (
    "id",
    "kind",
    "reference",
    "registration_id",
    "federated_pseudonym",
    "created_at",
)
_INSERT_LINKS = RowInsert(cast(Table, FederationLink.__table__), _LINK_COLUMNS)
_INSERT_OUTBOX = RowInsert(cast(Table, FederationOutbox.__table__), _OUTBOX_COLUMNS)


def new_reference() -> str:
    """An opaque reference: random, so it tells the hub nothing (not even a time)."""
    return secrets.token_urlsafe(18)


@dataclass
class StagedHandoffs:
    """A write group's hand-offs, flushed with its registrations."""

    links: list[tuple[Any, ...]] = field(default_factory=list)
    outbox: list[tuple[Any, ...]] = field(default_factory=list)

    async def flush(self, session: AsyncSession) -> None:
        if not self.links:
            return
        await _INSERT_LINKS.execute(session, self.links)
        await _INSERT_OUTBOX.execute(session, self.outbox)
        session.info[FEDERATION_DUE] = True


class FederationStaging:
    """What the match index calls: stage a new registration or the end of one."""

    def __init__(self, keys: FederationKeys) -> None:
        self._keys = keys

    def stage_new(
        self, staged: StagedHandoffs, registration: RegistrationRow, bsn: BSN, now: datetime
    ) -> None:
        reference = new_reference()
        staged.links.append((registration.id, reference, now))
        staged.outbox.append(
            (
                new_id(),
                HandoffKind.ACTIVE.value,
                reference,
                registration.id,
                self._keys.federated_pseudonym(youth_input(bsn)),
                now,
            )
        )

    async def stage_ended(
        self, session: AsyncSession, registration_ids: Sequence[str], now: datetime
    ) -> None:
        if not registration_ids:
            return
        result = await session.execute(
            select(FederationLink.registration_id, FederationLink.reference).where(
                FederationLink.registration_id.in_(list(registration_ids))
            )
        )
        rows = [
            (new_id(), HandoffKind.ENDED.value, reference, None, None, now)
            for _, reference in result
        ]
        if rows:
            await _INSERT_OUTBOX.execute(session, rows)
            session.info[FEDERATION_DUE] = True
