"""The consent ledger for auditors, reviewers and the privacy officer: checkpoints, entries,
proofs and the consent tables beside the ledger, each read in a unit of work of its own. Who
sees what of an entry is the routes' to shape (``ledger/routes.py``); a read of personal parts
is recorded in the access log here."""

from __future__ import annotations

from consent import ConsentService, LedgerInconsistent, LedgerRangeError, LedgerRecord
from verwijsindex.accesslog import AccessContext, AccessLogger, Operation
from verwijsindex.clock import Clock
from verwijsindex.logging import get_logger
from verwijsindex.storage import Database

MAX_ENTRIES = 1000

log = get_logger(__name__)


class LedgerAudit:
    """Reads of the consent ledger."""

    def __init__(
        self, *, database: Database, consent: ConsentService, access_log: AccessLogger, clock: Clock
    ) -> None:
        self._database = database
        self._consent = consent
        self._access_log = access_log
        self._clock = clock

    async def checkpoint(self) -> tuple[str, bool]:
        """The latest signed checkpoint (a new one when the log grew) and whether the stored
        log still extends it. When it does not, nothing is signed and the last signed
        checkpoint is given with ``False``; with none signed yet, LedgerInconsistent."""
        ledger = self._consent.ledger
        try:
            async with self._database.transaction() as session:
                signed = await ledger.checkpoint(session, at=self._clock.now())
        except LedgerInconsistent:
            log.error("ledger_inconsistent")
            async with self._database.read() as session:
                previous = await ledger.latest_checkpoint(session)
            if previous is None:
                raise
            return previous.note, False
        return signed.note, True

    async def entries(
        self, access: AccessContext, *, start: int, end: int | None, include_personal: bool
    ) -> tuple[int, int, list[LedgerRecord]]:
        """The stored log's size, the end of the range read and the entries ``start`` ≤ index
        < end (at most :data:`MAX_ENTRIES`; ``end`` defaults to that many). A read that
        includes personal parts is recorded in the access log in the same transaction."""
        if end is not None and end - start > MAX_ENTRIES:
            raise LedgerRangeError(f"ask for at most {MAX_ENTRIES} entries")
        ledger = self._consent.ledger
        async with self._database.transaction() as session:
            size = await ledger.size(session)
            stop = max(start, min(size, start + MAX_ENTRIES if end is None else end))
            rows = await ledger.entries(session, start=start, end=stop)
            if include_personal:
                await self._access_log.record(
                    session,
                    access,
                    operation=Operation.AUDIT_LEDGER_PERSONAL_READ,
                    reference=f"ledger entries {start}..{stop}",
                )
        return size, stop, rows

    async def inclusion_proof(self, *, index: int, tree_size: int) -> tuple[bytes, list[bytes]]:
        """RFC 6962 audit path of leaf ``index`` in the tree of ``tree_size`` leaves."""
        async with self._database.read() as session:
            return await self._consent.ledger.inclusion_proof(
                session, index=index, tree_size=tree_size
            )

    async def consistency_proof(self, *, first: int, second: int) -> list[bytes]:
        """RFC 6962 consistency proof from tree size ``first`` to ``second``."""
        async with self._database.read() as session:
            return await self._consent.ledger.consistency_proof(session, first=first, second=second)

    async def table_records(
        self, *, start: int, limit: int
    ) -> tuple[int, list[tuple[int, dict[str, object]]]]:
        """The stored log's size and the consent-table rows by ledger index from ``start``."""
        async with self._database.read() as session:
            size = await self._consent.ledger.size(session)
            rows = await self._consent.table_records(session, start=start, limit=limit)
        return size, rows
