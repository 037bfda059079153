"""The tamper-evident consent ledger: an append-only RFC 6962 Merkle log in the database.

Each leaf's data is the canonical JSON of a metadata record (see :func:`canonical_json`).
The personal fields of a record are not in the leaf: the leaf carries
``"commitment": hex(SHA-256(salt || canonical JSON of the personal fields))`` and the row
keeps ``salt`` and ``personal`` next to it, so retention can erase them without changing
a single leaf hash.

Appends run in the caller's transaction, after a ledger-wide lock (PostgreSQL advisory
transaction lock; SQLite transactions already begin with ``BEGIN IMMEDIATE``), so indexes
are dense and gap-free and the ledger row commits or rolls back with the event it records.

Checkpoints are produced from the stored log and signed only after a consistency proof
from the previous stored checkpoint verified, so this service never signs two
inconsistent checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from consent._errors import LedgerInconsistent, LedgerRangeError
from consent._models import LedgerCheckpoint, LedgerEntry
from crypto import (
    Checkpoint,
    InvalidProof,
    SubtreeHasher,
    format_verifier_key,
    leaf_hash,
    node_hash,
    root_hash,
    sign_checkpoint,
    verify_consistency,
)

__all__ = [
    "LEDGER_LOCK_KEY",
    "Ledger",
    "LedgerRecord",
    "SignedCheckpoint",
    "canonical_json",
    "commitment",
]

RECORD_VERSION = 1
LEDGER_LOCK_KEY = 0x7669_6C65_6467_6572  # "vi" "ledger": one fixed advisory lock key
SALT_BYTES = 16
MIN_CACHED_LEVEL = 6


def canonical_json(document: Mapping[str, object]) -> bytes:
    """Sorted keys, no whitespace, ASCII only: one byte string per document."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def commitment(salt: bytes, personal: bytes) -> str:
    """Hex SHA-256 of ``salt || personal`` (``personal`` is canonical JSON)."""
    return hashlib.sha256(salt + personal).hexdigest()


async def lock_ledger(session: AsyncSession) -> None:
    """Serialise ledger writers until the end of the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK_KEY})


@dataclass(frozen=True, kw_only=True)
class LedgerRecord:
    """One entry as auditors see it: metadata, leaf hash and (until erased) the opening."""

    index: int
    leaf_hash: bytes
    record: str
    salt: bytes | None
    personal: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class SignedCheckpoint:
    size: int
    root_hash: bytes
    note: str
    created_at: datetime


class Ledger:
    """The ledger of one database. Holds the signing key and a cache of subtree hashes.

    Perfect aligned subtrees never change in an append-only log, so their hashes are
    remembered in memory for the life of the process.
    """

    def __init__(self, *, origin: str, signing_key: Ed25519PrivateKey) -> None:
        self.origin = origin
        self._key = signing_key
        self._cache: dict[tuple[int, int], bytes] = {}
        self._warmed = False

    @property
    def verifier_key(self) -> str:
        """The C2SP verifier key ``<origin>+<key id>+<base64(0x01 || public key)>``."""
        return format_verifier_key(name=self.origin, public_key=self._key.public_key())

    @property
    def public_key_raw(self) -> bytes:
        return self._key.public_key().public_bytes_raw()

    async def append(
        self,
        session: AsyncSession,
        *,
        record: Mapping[str, object],
        personal: Mapping[str, object],
        at: datetime,
    ) -> int:
        """Append one leaf in the caller's transaction and return its index."""
        if "commitment" in record:
            raise ValueError("a record must not carry its own commitment")
        await lock_ledger(session)
        index = await self.size(session)
        salt = os.urandom(SALT_BYTES)
        personal_json = canonical_json(personal)
        data = canonical_json(
            {**record, "v": RECORD_VERSION, "commitment": commitment(salt, personal_json)}
        )
        session.add(
            LedgerEntry(
                idx=index,
                leaf_hash=leaf_hash(data),
                record=data.decode("ascii"),
                salt=salt,
                personal=personal_json.decode("ascii"),
                created_at=at,
                erased_at=None,
            )
        )
        await session.flush()
        return index

    async def size(self, session: AsyncSession) -> int:
        result = await session.execute(select(func.max(LedgerEntry.idx)))
        top = result.scalar_one_or_none()
        return 0 if top is None else int(top) + 1

    def _warm(self, sync_session: Session) -> None:
        """Fill the memo once per process with one ordered scan of the leaf hashes.

        Without it the first proof reads the log in ``2**MIN_CACHED_LEVEL``-leaf ranges,
        one query each; a single streamed scan is several times faster.
        """
        if self._warmed:
            return
        self._warmed = True
        block = 1 << MIN_CACHED_LEVEL
        level_hashes: list[bytes] = []
        buffer: list[bytes] = []
        rows = sync_session.execute(
            select(LedgerEntry.leaf_hash)
            .order_by(LedgerEntry.idx)
            .execution_options(yield_per=10_000)
        )
        for (h,) in rows:
            buffer.append(bytes(h))
            if len(buffer) == block:
                value = root_hash(buffer)
                self._cache[(MIN_CACHED_LEVEL, len(level_hashes))] = value
                level_hashes.append(value)
                buffer = []
        level = MIN_CACHED_LEVEL
        while len(level_hashes) > 1:
            level += 1
            level_hashes = [
                node_hash(level_hashes[2 * i], level_hashes[2 * i + 1])
                for i in range(len(level_hashes) // 2)
            ]
            for i, value in enumerate(level_hashes):
                self._cache[(level, i)] = value

    def _hasher(self, sync_session: Session) -> SubtreeHasher:
        self._warm(sync_session)

        def read(start: int, end: int) -> Sequence[bytes]:
            rows = sync_session.execute(
                select(LedgerEntry.leaf_hash)
                .where(LedgerEntry.idx >= start, LedgerEntry.idx < end)
                .order_by(LedgerEntry.idx)
            )
            return [bytes(h) for (h,) in rows]

        return SubtreeHasher(
            read_leaf_hashes=read, cache=self._cache, min_cached_level=MIN_CACHED_LEVEL
        )

    async def root_hash(self, session: AsyncSession, size: int) -> bytes:
        return await session.run_sync(lambda s: self._hasher(s).root_hash(size))

    async def inclusion_proof(
        self, session: AsyncSession, *, index: int, tree_size: int
    ) -> tuple[bytes, list[bytes]]:
        """Return the leaf hash of ``index`` and its audit path in the tree of ``tree_size``."""
        if not 0 <= index < tree_size <= await self.size(session):
            raise LedgerRangeError("need 0 <= index < tree_size <= the ledger size")

        def work(s: Session) -> tuple[bytes, list[bytes]]:
            hasher = self._hasher(s)
            leaf = hasher.subtree_hash(index, index + 1)
            return leaf, hasher.inclusion_proof(index, tree_size)

        return await session.run_sync(work)

    async def consistency_proof(
        self, session: AsyncSession, *, first: int, second: int
    ) -> list[bytes]:
        if not 0 <= first <= second <= await self.size(session):
            raise LedgerRangeError("need 0 <= first <= second <= the ledger size")
        return await session.run_sync(lambda s: self._hasher(s).consistency_proof(first, second))

    async def entries(self, session: AsyncSession, *, start: int, end: int) -> list[LedgerRecord]:
        if not 0 <= start <= end:
            raise LedgerRangeError("need 0 <= start <= end")
        rows = await session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.idx >= start, LedgerEntry.idx < end)
            .order_by(LedgerEntry.idx)
        )
        return [
            LedgerRecord(
                index=row.idx,
                leaf_hash=bytes(row.leaf_hash),
                record=row.record,
                salt=None if row.salt is None else bytes(row.salt),
                personal=row.personal,
                created_at=row.created_at,
            )
            for row in rows.scalars()
        ]

    async def latest_checkpoint(self, session: AsyncSession) -> SignedCheckpoint | None:
        row = (
            await session.execute(
                select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        return SignedCheckpoint(
            size=row.size, root_hash=bytes(row.root_hash), note=row.note, created_at=row.created_at
        )

    async def checkpoint(self, session: AsyncSession, *, at: datetime) -> SignedCheckpoint:
        """Return a signed checkpoint of the current log, signing a new one if it grew.

        Before signing, the log must be dense (indexes 0..n-1) and a consistency proof
        from the previous stored checkpoint must verify against the new root; otherwise
        :class:`LedgerInconsistent` is raised and nothing is signed.
        """
        await lock_ledger(session)
        previous = await self.latest_checkpoint(session)
        size = await self.size(session)
        count = (await session.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()
        if count != size:
            raise LedgerInconsistent("the ledger has a gap in its indexes")
        if previous is not None and previous.size == size:
            return previous
        if previous is not None and previous.size > size:
            raise LedgerInconsistent("the ledger is shorter than its last checkpoint")

        # Hashes come from the stored leaves; the memo only holds complete perfect
        # subtrees read earlier by this process (a fresh process rereads everything).
        def compute(s: Session) -> tuple[bytes, list[bytes]]:
            hasher = self._hasher(s)
            root = hasher.root_hash(size)
            proof = [] if previous is None else hasher.consistency_proof(previous.size, size)
            return root, proof

        root, proof = await session.run_sync(compute)
        if previous is not None:
            try:
                verify_consistency(
                    first=previous.size,
                    second=size,
                    first_root=previous.root_hash,
                    second_root=root,
                    proof=proof,
                )
            except InvalidProof as exc:
                raise LedgerInconsistent(
                    "the stored log does not extend the last signed checkpoint"
                ) from exc
        note = sign_checkpoint(
            Checkpoint(origin=self.origin, size=size, root_hash=root),
            name=self.origin,
            private_key=self._key,
        )
        session.add(LedgerCheckpoint(size=size, root_hash=root, note=note, created_at=at))
        await session.flush()
        return SignedCheckpoint(size=size, root_hash=root, note=note, created_at=at)

    async def erase_personal_of(
        self, session: AsyncSession, *, indexes: Collection[int], at: datetime
    ) -> int:
        """Erase salt and personal fields of the given entries (a subject's erasure request);
        the leaves, and so every proof and checkpoint, stay valid."""
        if not indexes:
            return 0
        result = await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.idx.in_(list(indexes)), LedgerEntry.erased_at.is_(None))
            .values(salt=None, personal=None, erased_at=at)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def erase_personal(self, session: AsyncSession, *, before: datetime, at: datetime) -> int:
        """Erase salt and personal fields of entries created before ``before``."""
        result = await session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.created_at < before, LedgerEntry.erased_at.is_(None))
            .values(salt=None, personal=None, erased_at=at)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
