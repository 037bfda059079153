"""The registration write path's hand-off to the hub: rows in the region's federation outbox,
written in the registration's own transaction and sent later by :class:`RegionFederation`'s
drainer, never during the request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.federation.keys import FederationKeys, References, bsn_input, token_input
from verwijsindex.federation.models import FederationOutbox, HandoffKind
from verwijsindex.logging import get_logger
from verwijsindex.settings import FederationInput
from verwijsindex.storage.base import RowInsert, new_id

if TYPE_CHECKING:
    from verwijsindex.registrations.index import RegisterResult

log = get_logger(__name__)

FEDERATION_DUE = "federation_due"
"""``session.info`` flag: the transaction put rows in the federation outbox."""

_OUTBOX_COLUMNS = (
    "id",
    "kind",
    "reference",
    "registration_id",
    "federated_pseudonym",
    "created_at",
)
_INSERT_OUTBOX = RowInsert(cast(Table, FederationOutbox.__table__), _OUTBOX_COLUMNS)


@dataclass
class StagedHandoffs:
    """A write group's hand-offs, flushed with its registrations."""

    outbox: list[tuple[Any, ...]] = field(default_factory=list)

    async def flush(self, session: AsyncSession) -> None:
        if not self.outbox:
            return
        await _INSERT_OUTBOX.execute(session, self.outbox)
        session.info[FEDERATION_DUE] = True


class FederationStaging:
    """What the match index calls: stage new registrations or the end of one."""

    def __init__(
        self, keys: FederationKeys, references: References, *, source: FederationInput
    ) -> None:
        # The seam of the blind pseudonyms (imported here: it imports the match index).
        from verwijsindex.blind import federation_input

        self._keys = keys
        self._references = references
        self._source = source
        self._subject_token = federation_input

    def _input(self, result: RegisterResult) -> bytes | None:
        """The youth's value the federated pseudonym is derived from, or None when this
        registration has none (a blind registration in a BSN federation, a direct one without
        a key service in a subject-token federation): it stays regional."""
        if self._source is FederationInput.SUBJECT_TOKEN:
            token = self._subject_token(result)
            return None if token is None else token_input(token)
        return None if result.bsn is None else bsn_input(result.bsn)

    def stage_created(
        self, staged: StagedHandoffs, outcomes: Sequence[object], now: datetime
    ) -> None:
        from verwijsindex.registrations.index import RegisterResult

        skipped = 0
        for outcome in outcomes:
            if not isinstance(outcome, RegisterResult) or not outcome.created:
                continue
            youth = self._input(outcome)
            if youth is None:
                skipped += 1
                continue
            self._stage(staged, outcome.registration.id, youth, now)
        if skipped:
            log.warning(
                "federation_input_missing", registrations=skipped, source=self._source.value
            )

    def _stage(
        self, staged: StagedHandoffs, registration_id: str, youth: bytes, now: datetime
    ) -> None:
        staged.outbox.append(
            (
                new_id(),
                HandoffKind.ACTIVE.value,
                self._references.of(registration_id),
                registration_id,
                self._keys.federated_pseudonym(youth),
                now,
            )
        )

    async def stage_ended(
        self, session: AsyncSession, registration_ids: Sequence[str], now: datetime
    ) -> None:
        """The end of registrations, for the hub. One of a registration the hub never had
        (from before federation, or without the input) is ignored there."""
        if not registration_ids:
            return
        rows = [
            (new_id(), HandoffKind.ENDED.value, self._references.of(r), r, None, now)
            for r in registration_ids
        ]
        await _INSERT_OUTBOX.execute(session, rows)
        session.info[FEDERATION_DUE] = True
