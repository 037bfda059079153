"""Writing, signing and verifying the access log.

Call it in one line from any operation that touches data about a youth or a professional,
inside the operation's own transaction (so the record lands if and only if the change does)::

    await ctx.access_log.record(
        session, access, operation=Operation.REGISTRATION_WITHDRAW,
        subject=Subject.registration(registration.id), reason=body.reason,
    )

``access`` is the request's :class:`AccessContext` (trace, span, actor, organisation, role);
routes get it from ``verwijsindex.http.deps.AccessDep``, tasks and the CLI build one with
:meth:`AccessContext.system`. Reads record in the same transaction right after the read.
Appends are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory
lock on a fixed key) so ``seq`` is gap-free and each record chains to its predecessor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.accesslog._activities import Operation, Status, activity_of
from verwijsindex.accesslog._chain import (
    CHAINED_FIELDS,
    GENESIS_HASH,
    RowHasher,
    head_signature_valid,
    key_id,
    record_hash,
    sign_head,
)
from verwijsindex.accesslog._models import AccessLogHead, AccessLogRecord
from verwijsindex.accesslog._trace import TraceContext, start_span
from verwijsindex.clock import Clock
from verwijsindex.errors import VerwijsindexError
from verwijsindex.keys import KeyRing
from verwijsindex.storage import Database
from verwijsindex.storage.base import RowInsert, Staged, new_id

_CHAIN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"verwijsindex-access-log").digest()[:8], "big") - (
    1 << 63
)
_VERIFY_BATCH = 2000


class AccessLogTampered(VerwijsindexError):
    """The chain or a signed head does not verify: records were altered, removed or added."""

    code = "access-log-tampered"

    def __init__(self, detail: str, *, seq: int | None = None) -> None:
        super().__init__(detail)
        self.seq = seq


@dataclass(frozen=True, kw_only=True)
class AccessContext:
    """Who acts, for whom, within which trace. One per request or task."""

    trace: TraceContext
    started_at: datetime
    role: str | None
    organisation_id: str | None = None
    professional_id: str | None = None
    on_behalf_of: str | None = None

    @classmethod
    def system(
        cls, *, role: str, started_at: datetime, organisation_id: str | None = None
    ) -> AccessContext:
        """A context for the CLI or a background task: a new trace, no professional."""
        return cls(
            trace=start_span(None),
            started_at=started_at,
            role=role,
            organisation_id=organisation_id,
            on_behalf_of=organisation_id,
        )


@dataclass(frozen=True, kw_only=True)
class Subject:
    """The data subject of a record: a keyed access-log pseudonym when the BSN is known,
    otherwise a reference to a registration, match, professional or other row."""

    pseudonym: str | None = None
    ref_type: str | None = None
    ref: str | None = None

    @classmethod
    def person(cls, pseudonym: str) -> Subject:
        return cls(pseudonym=pseudonym)

    @classmethod
    def registration(cls, registration_id: str) -> Subject:
        return cls(ref_type="registration", ref=registration_id)

    @classmethod
    def match(cls, match_id: str) -> Subject:
        return cls(ref_type="match", ref=match_id)

    @classmethod
    def professional(cls, professional_id: str) -> Subject:
        return cls(ref_type="professional", ref=professional_id)

    @classmethod
    def reference(cls, ref_type: str, ref: str) -> Subject:
        return cls(ref_type=ref_type, ref=ref)


_NO_SUBJECT = Subject()

# The chained fields in which the records of one access context and operation differ.
_VARYING = ("seq", "id", "subject_pseudonym", "subject_ref", "prev_hash")


@dataclass(frozen=True)
class Entry:
    """One record to append: an operation of one access context about one subject (or none)."""

    access: AccessContext
    operation: Operation
    subject: Subject | None = None
    status: Status = Status.SUCCESS
    reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class SignedHead:
    count: int
    head_hash: str
    signed_at: datetime
    key_id: str
    signature: str


@dataclass(frozen=True)
class VerificationReport:
    records: int
    head_hash: str
    signed_heads: int


class AccessLogger:
    """Append records to the chain, sign its head and verify it."""

    def __init__(self, *, keys: KeyRing, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def record(
        self,
        session: AsyncSession,
        access: AccessContext,
        *,
        operation: Operation,
        status: Status = Status.SUCCESS,
        subject: Subject | None = None,
        reason: str | None = None,
        reference: str | None = None,
    ) -> None:
        """Append one record (about one subject, or about none) in the caller's transaction."""
        await self.record_many(
            session,
            access,
            operation=operation,
            status=status,
            subjects=[subject] if subject is not None else [],
            reason=reason,
            reference=reference,
        )

    async def record_many(
        self,
        session: AsyncSession,
        access: AccessContext,
        *,
        operation: Operation,
        subjects: Sequence[Subject],
        status: Status = Status.SUCCESS,
        reason: str | None = None,
        reference: str | None = None,
    ) -> None:
        """One record per subject (one record without subject when there are none)."""
        await self.record_entries(
            session,
            [
                Entry(access, operation, subject, status, reason, reference)
                for subject in (subjects or [_NO_SUBJECT])
            ],
        )

    async def record_entries(
        self, session: AsyncSession, entries: Sequence[Entry], staged: Staged | None = None
    ) -> None:
        """Append records of several operations (of several requests) at once, in order:
        one lock, one read of the tail and one insert, whatever their number. With
        ``staged``, the insert's rows are added to it, for the caller to write before the
        transaction ends and before anything in it reads the log again (the chain lock is
        held until then)."""
        if not entries:
            return
        ended_at = self._clock.now()
        await _lock_chain(session)
        seq, prev_hash = await _tail(session)
        # The fields an entry shares with the other entries of its access context, operation
        # and kind of subject, as a row in the insert's column order (the varying fields and
        # the hash left to fill in), with their hasher, built once per such group.
        groups: dict[tuple[object, ...], tuple[list[object], RowHasher]] = {}
        rows: list[list[object]] = []
        for entry in entries:
            access = entry.access
            subject = entry.subject or _NO_SUBJECT
            key = (
                id(access),
                entry.operation,
                entry.status,
                entry.reason,
                entry.reference,
                subject.ref_type,
            )
            group = groups.get(key)
            if group is None:
                trace_id, parent_span_id = self._stored_trace(access.trace)
                fixed: dict[str, object] = {
                    "trace_id": trace_id,
                    "span_id": access.trace.span_id,
                    "parent_span_id": parent_span_id,
                    "operation": str(entry.operation),
                    "activity_id": activity_of(entry.operation),
                    "status": str(entry.status),
                    "started_at": min(access.started_at, ended_at),
                    "ended_at": ended_at,
                    "professional_id": access.professional_id,
                    "organisation_id": access.organisation_id,
                    "on_behalf_of": access.on_behalf_of,
                    "role": access.role,
                    "subject_ref_type": subject.ref_type,
                    "reason": entry.reason,
                    "reference": entry.reference,
                }
                template = [fixed.get(column) for column in _RECORD_COLUMNS]
                group = groups[key] = (template, RowHasher(fixed, _VARYING))
            template, hasher = group
            seq += 1
            values = (seq, new_id(), subject.pseudonym, subject.ref, prev_hash)
            row = template.copy()
            for position, value in zip(_VARYING_AT, values, strict=True):
                row[position] = value
            row[_HASH_AT] = prev_hash = hasher.hash(values)
            rows.append(row)
        # Records are never read back or changed in this transaction.
        if staged is not None:
            staged.append((_INSERT_RECORDS, rows))
        else:
            await _INSERT_RECORDS.execute(session, rows)

    def _stored_trace(self, trace: TraceContext) -> tuple[str, str | None]:
        """The trace and parent span id a record stores. A trace the caller started (its
        ``traceparent`` names a parent span) is stored as keyed hashes of the caller's ids,
        never the caller's values, which could carry anything; a trace this service started
        is stored as is (its ids are the service's own random values)."""
        if trace.parent_span_id is None:
            return trace.trace_id, None
        return (
            self._keys.trace_id_hash(trace.trace_id),
            self._keys.trace_id_hash(trace.parent_span_id),
        )

    async def sign_head(self, session: AsyncSession) -> SignedHead:
        """Sign the current head (count, hash) and store the signed head."""
        await _lock_chain(session)
        count, head = await _tail(session)
        private = self._keys.access_log_signing_key()
        now = self._clock.now()
        row = AccessLogHead(
            count=count,
            head_hash=head,
            signed_at=now,
            key_id=key_id(private.public_key()),
            signature=sign_head(private, count, head),
        )
        session.add(row)
        await session.flush()
        return SignedHead(count, head, now, row.key_id, row.signature)

    async def verify(self, session: AsyncSession) -> VerificationReport:
        """Recompute the whole chain and check every signed head within one transaction;
        raise :class:`AccessLogTampered` at the first discrepancy."""

        async def fetch(after_seq: int) -> list[AccessLogRecord]:
            return await _batch(session, after_seq)

        return await self._verify(await _heads(session), fetch)

    async def verify_database(self, database: Database) -> VerificationReport:
        """As :meth:`verify`, reading each batch in a short transaction of its own, so a
        long verification does not hold SQLite's write lock. Records are never updated, so
        batches read at different moments still form one chain."""
        async with database.transaction() as session:
            heads = await _heads(session)

        async def fetch(after_seq: int) -> list[AccessLogRecord]:
            async with database.transaction() as batch_session:
                return await _batch(batch_session, after_seq)

        return await self._verify(heads, fetch)

    async def _verify(
        self,
        heads: list[AccessLogHead],
        fetch: Callable[[int], Awaitable[list[AccessLogRecord]]],
    ) -> VerificationReport:
        public_keys = {key_id(k): k for k in self._keys.access_log_public_keys()}
        wanted: dict[int, list[AccessLogHead]] = {}
        for head in heads:
            public = public_keys.get(head.key_id)
            if public is None:
                raise AccessLogTampered(f"signed head {head.id} names an unknown key")
            if not head_signature_valid(public, head.count, head.head_hash, head.signature):
                raise AccessLogTampered(f"signed head {head.id} has an invalid signature")
            if head.count == 0:
                if head.head_hash != GENESIS_HASH:
                    raise AccessLogTampered(f"signed head {head.id} of an empty log is wrong")
                continue
            wanted.setdefault(head.count, []).append(head)

        expected_seq = 0
        prev_hash = GENESIS_HASH
        while True:
            batch = await fetch(expected_seq)
            for record in batch:
                expected_seq += 1
                if record.seq != expected_seq:
                    raise AccessLogTampered(f"record {expected_seq} is missing", seq=expected_seq)
                if record.prev_hash != prev_hash:
                    raise AccessLogTampered(
                        f"record {record.seq} does not chain to its predecessor", seq=record.seq
                    )
                if record_hash(record) != record.hash:
                    raise AccessLogTampered(f"record {record.seq} was altered", seq=record.seq)
                prev_hash = record.hash
                for head in wanted.pop(record.seq, []):
                    if head.head_hash != record.hash:
                        raise AccessLogTampered(
                            f"signed head {head.id} does not match record {record.seq}",
                            seq=record.seq,
                        )
            if len(batch) < _VERIFY_BATCH:
                break
        if wanted:
            count = min(wanted)
            raise AccessLogTampered(
                f"a signed head covers {count} records but the log holds {expected_seq}",
                seq=expected_seq + 1,
            )
        return VerificationReport(
            records=expected_seq, head_hash=prev_hash, signed_heads=len(heads)
        )


async def _heads(session: AsyncSession) -> list[AccessLogHead]:
    result = await session.execute(select(AccessLogHead).order_by(AccessLogHead.id))
    return list(result.scalars())


async def _batch(session: AsyncSession, after_seq: int) -> list[AccessLogRecord]:
    result = await session.execute(
        select(AccessLogRecord)
        .where(AccessLogRecord.seq > after_seq)
        .order_by(AccessLogRecord.seq)
        .limit(_VERIFY_BATCH)
    )
    return list(result.scalars())


async def _lock_chain(session: AsyncSession) -> None:
    """Serialise appends. SQLite write transactions already began with BEGIN IMMEDIATE."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_CHAIN, {"k": _CHAIN_LOCK_KEY})


# Built once (every append of every write group locks, reads the tail and inserts).
_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:k)")
_RECORD_COLUMNS = (*CHAINED_FIELDS, "hash")
_INSERT_RECORDS = RowInsert(cast(Table, AccessLogRecord.__table__), _RECORD_COLUMNS)
_VARYING_AT = tuple(_RECORD_COLUMNS.index(name) for name in _VARYING)
_HASH_AT = _RECORD_COLUMNS.index("hash")
_TAIL = (
    select(AccessLogRecord.seq, AccessLogRecord.hash).order_by(AccessLogRecord.seq.desc()).limit(1)
)


async def _tail(session: AsyncSession) -> tuple[int, str]:
    row = (await session.execute(_TAIL)).first()
    if row is None:
        return 0, GENESIS_HASH
    return int(row[0]), str(row[1])
