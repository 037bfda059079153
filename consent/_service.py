"""Recording consent events, the exchange gate and encryption keys, in the caller's transaction.

The service never commits and never looks up matches itself: the caller (the index)
passes the ids of the organisations that currently take part in the open match. It never
imports the index.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consent._errors import (
    ConsentLedgerMismatch,
    ExchangeNotFound,
    ExchangeUnavailable,
    InvalidConsent,
    InvalidEncryptionKey,
    RecipientKeyMissing,
    StaleConsentReference,
)
from consent._ledger import Ledger
from consent._models import ConsentEventRow, Exchange, LedgerEntry, OrganisationKey
from consent._rules import (
    ConsentEvent,
    ConsentState,
    Decision,
    LegalGroundClaim,
    fold,
    state,
    validate_legal_ground,
)
from consent._vocabulary import (
    AgeBand,
    DataCategory,
    Direction,
    EventKind,
    GrantorRole,
    Method,
    Purpose,
    age_band,
)
from crypto import HPKEError, hpke_seal, leaf_hash

__all__ = [
    "ConsentService",
    "ExchangeBasis",
    "SweepCounts",
    "event_from_record",
    "exchange_record",
    "legal_ground_reference",
    "record_differences",
    "row_record",
]

log = structlog.get_logger()
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
KEY_BYTES = 32
ENC_BYTES = 32
LEGAL_GROUND_PREFIX = "legal-ground:"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def legal_ground_reference(code: str) -> list[str]:
    """The consent reference bound in HPKE ``info`` for an exchange on a legal ground."""
    return [LEGAL_GROUND_PREFIX + code]


def to_event(row: ConsentEventRow) -> ConsentEvent:
    return ConsentEvent(
        id=row.id,
        recorded_at=row.recorded_at,
        organisation_id=row.organisation_id,
        counterpart_organisation_id=row.counterpart_organisation_id,
        kind=EventKind(row.kind),
        grantor=GrantorRole(row.grantor),
        purpose=Purpose(row.purpose),
        data_categories=frozenset(DataCategory(c) for c in row.data_categories.split(",")),
        direction=Direction(row.direction),
        age_band=AgeBand(row.age_band),
        method=Method(row.method),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        evidence_hash=row.evidence_hash,
    )


def event_record(event: ConsentEvent, *, match_id: str) -> dict[str, object]:
    """The ledger metadata of a consent event (no recorder, no evidence hash)."""
    return {
        "type": "consent-event",
        "id": event.id,
        "match_id": match_id,
        "recorded_at": _iso(event.recorded_at),
        "organisation_id": event.organisation_id,
        "counterpart_organisation_id": event.counterpart_organisation_id,
        "event": event.kind.value,
        "grantor": event.grantor.value,
        "purpose": event.purpose.value,
        "data_categories": sorted(c.value for c in event.data_categories),
        "direction": event.direction.value,
        "age_band": event.age_band.value,
        "method": event.method.value,
        "valid_from": _iso(event.valid_from),
        "valid_until": _iso(event.valid_until),
    }


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def event_from_record(record: Mapping[str, Any]) -> ConsentEvent:
    """The consent event a ledger record of type ``consent-event`` stands for (the inverse of
    :func:`event_record`). A malformed record raises ``KeyError``, ``TypeError`` or
    ``ValueError`` (:class:`InvalidConsent` is one)."""
    return ConsentEvent(
        id=record["id"],
        recorded_at=datetime.fromisoformat(record["recorded_at"]),
        organisation_id=record["organisation_id"],
        counterpart_organisation_id=record["counterpart_organisation_id"],
        kind=EventKind(record["event"]),
        grantor=GrantorRole(record["grantor"]),
        purpose=Purpose(record["purpose"]),
        data_categories=frozenset(DataCategory(c) for c in record["data_categories"]),
        direction=Direction(record["direction"]),
        age_band=AgeBand(record["age_band"]),
        method=Method(record["method"]),
        valid_from=_time(record["valid_from"]),
        valid_until=_time(record["valid_until"]),
    )


_TIMESTAMP_KEYS = frozenset({"recorded_at", "created_at", "valid_from", "valid_until"})
_LEDGER_ONLY_KEYS = frozenset({"v", "commitment"})
_ABSENT = object()


def row_record(row: ConsentEventRow) -> dict[str, object]:
    """The ledger record a ``consent_events`` row stands for, from its raw column values
    (unparsed, so an edited value is compared as it is rather than refused on reading)."""
    return {
        "type": "consent-event",
        "id": row.id,
        "match_id": row.match_id,
        "recorded_at": _iso(row.recorded_at),
        "organisation_id": row.organisation_id,
        "counterpart_organisation_id": row.counterpart_organisation_id,
        "event": row.kind,
        "grantor": row.grantor,
        "purpose": row.purpose,
        "data_categories": sorted(row.data_categories.split(",")),
        "direction": row.direction,
        "age_band": row.age_band,
        "method": row.method,
        "valid_from": _iso(row.valid_from),
        "valid_until": _iso(row.valid_until),
    }


def exchange_record(row: Exchange) -> dict[str, object]:
    """The ledger record an ``exchanges`` row stands for (the metadata of :meth:`send`)."""
    try:
        reference: object = json.loads(row.consent_reference)
    except ValueError:
        reference = row.consent_reference
    return {
        "type": "exchange",
        "id": row.id,
        "match_id": row.match_id,
        "created_at": _iso(row.created_at),
        "sender_organisation_id": row.sender_organisation_id,
        "recipient_organisation_id": row.recipient_organisation_id,
        "purpose": row.purpose,
        "data_category": row.data_category,
        "basis": "consent" if row.legal_ground is None else "legal-ground",
        "consent_reference": reference,
        "legal_ground": row.legal_ground,
        "flagged_for_review": row.flagged_for_review,
        "ciphertext_sha256": row.ciphertext_sha256,
        "recipient_key_id": row.recipient_key_id,
    }


def _same_instant(a: object, b: object) -> bool:
    if a == b or not (isinstance(a, str) and isinstance(b, str)):
        return a == b
    try:
        return datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except ValueError:
        return a == b


def record_differences(table: Mapping[str, object], ledger: Mapping[str, object]) -> list[str]:
    """The names of the fields in which a table's record and the ledger's record differ
    (timestamps compared as instants; the ledger's ``v`` and ``commitment`` ignored)."""
    keys = sorted((set(table) | set(ledger)) - _LEDGER_ONLY_KEYS)
    return [
        key
        for key in keys
        if not (
            _same_instant(table.get(key, _ABSENT), ledger.get(key, _ABSENT))
            if key in _TIMESTAMP_KEYS
            else table.get(key, _ABSENT) == ledger.get(key, _ABSENT)
        )
    ]


def check_against_ledger(
    row: ConsentEventRow, record: str | None, stored_leaf_hash: bytes | None
) -> None:
    """Raise :class:`ConsentLedgerMismatch` unless ``row`` is exactly the consent event its
    ledger entry records, and the entry's record still hashes to its stored leaf hash."""
    index = row.ledger_index
    fields: list[str]
    if record is None or stored_leaf_hash is None:
        fields = ["ledger_index"]
    else:
        data = record.encode("utf-8")
        try:
            ledger = json.loads(data)
        except ValueError:
            ledger = None
        if leaf_hash(data) != bytes(stored_leaf_hash):
            fields = ["leaf_hash"]
        elif not isinstance(ledger, dict):
            fields = ["record"]
        else:
            fields = record_differences(row_record(row), ledger)
    if fields:
        log.error(
            "consent_ledger_mismatch", ledger_index=index, fields=fields, match_id=row.match_id
        )
        raise ConsentLedgerMismatch(
            f"the consent event of ledger entry {index} does not match the ledger"
            f" ({', '.join(fields)}); nothing is decided from it",
            ledger_index=index,
            fields=fields,
        )


@dataclass(frozen=True, kw_only=True)
class ExchangeBasis:
    """Why an exchange is allowed: the consent events it rests on, or a legal ground."""

    consent_reference: tuple[str, ...]
    legal_ground: LegalGroundClaim | None
    decision: Decision | None


@dataclass(frozen=True, kw_only=True)
class SweepCounts:
    expired_exchanges: int
    erased_ledger_entries: int


def _check_participants(participants: Collection[str], *orgs: str) -> None:
    for org in orgs:
        if org not in participants:
            raise ExchangeNotFound("the organisation does not take part in this match")


class ConsentService:
    """Consent events, exchanges and keys. Every method runs in the caller's transaction."""

    def __init__(self, *, ledger: Ledger) -> None:
        self.ledger = ledger

    # --- consent events --------------------------------------------------------------

    async def record_event(
        self,
        session: AsyncSession,
        *,
        match_id: str,
        participants: Collection[str],
        organisation_id: str,
        professional_id: str,
        counterpart_organisation_id: str,
        kind: EventKind,
        grantor: GrantorRole,
        purpose: Purpose,
        data_categories: Iterable[DataCategory],
        direction: Direction,
        subject_birth_date: date,
        method: Method,
        now: datetime,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        evidence_hash: str | None = None,
    ) -> ConsentEventRow:
        """Record one event and append it to the ledger; the birth date is used, not kept."""
        if counterpart_organisation_id == organisation_id:
            raise InvalidConsent("the counterpart must be another organisation of the match")
        _check_participants(participants, organisation_id, counterpart_organisation_id)
        band = age_band(subject_birth_date, now.astimezone(AMSTERDAM).date())
        event = ConsentEvent(
            id=str(uuid.uuid4()),
            recorded_at=now,
            organisation_id=organisation_id,
            counterpart_organisation_id=counterpart_organisation_id,
            kind=kind,
            grantor=grantor,
            purpose=purpose,
            data_categories=frozenset(data_categories),
            direction=direction,
            age_band=band,
            method=method,
            valid_from=valid_from,
            valid_until=valid_until,
            evidence_hash=evidence_hash,
        )
        index = await self.ledger.append(
            session,
            record=event_record(event, match_id=match_id),
            personal={"recorded_by": professional_id, "evidence_hash": evidence_hash},
            at=now,
        )
        row = ConsentEventRow(
            id=event.id,
            match_id=match_id,
            organisation_id=organisation_id,
            counterpart_organisation_id=counterpart_organisation_id,
            recorded_by=professional_id,
            kind=kind.value,
            grantor=grantor.value,
            purpose=purpose.value,
            data_categories=",".join(sorted(c.value for c in event.data_categories)),
            direction=direction.value,
            age_band=band.value,
            method=method.value,
            valid_from=valid_from,
            valid_until=valid_until,
            evidence_hash=evidence_hash,
            recorded_at=now,
            ledger_index=index,
        )
        session.add(row)
        await session.flush()
        if kind is not EventKind.GIVEN:
            await self._withhold_uncovered(session, match_id=match_id, now=now)
        log.info("consent_event_recorded", event_id=event.id, kind=kind.value, ledger_index=index)
        return row

    async def event_rows(self, session: AsyncSession, match_id: str) -> list[ConsentEventRow]:
        """The match's consent events, each checked against its ledger entry (read in the
        same query): raises :class:`ConsentLedgerMismatch` if any was changed or forged."""
        result = await session.execute(
            select(ConsentEventRow, LedgerEntry.record, LedgerEntry.leaf_hash)
            .outerjoin(LedgerEntry, LedgerEntry.idx == ConsentEventRow.ledger_index)
            .where(ConsentEventRow.match_id == match_id)
            .order_by(ConsentEventRow.recorded_at, ConsentEventRow.ledger_index)
        )
        rows = []
        for row, record, stored_leaf_hash in result:
            check_against_ledger(row, record, stored_leaf_hash)
            rows.append(row)
        return rows

    async def events(self, session: AsyncSession, match_id: str) -> list[ConsentEvent]:
        return [to_event(r) for r in await self.event_rows(session, match_id)]

    async def event_row(self, session: AsyncSession, event_id: str) -> ConsentEventRow:
        row = await session.get(ConsentEventRow, event_id)
        if row is None:
            raise ExchangeNotFound("no such consent event")
        entry = await session.get(LedgerEntry, row.ledger_index)
        check_against_ledger(
            row, None if entry is None else entry.record, None if entry is None else entry.leaf_hash
        )
        return row

    async def table_records(
        self, session: AsyncSession, *, start: int, limit: int
    ) -> list[tuple[int, dict[str, object]]]:
        """The rows of ``consent_events`` and ``exchanges`` whose ledger index is at least
        ``start`` (at most ``limit``, by index), each as the ledger record it stands for: what
        an auditor compares with the ledger's entries."""
        events = await session.execute(
            select(ConsentEventRow)
            .where(ConsentEventRow.ledger_index >= start)
            .order_by(ConsentEventRow.ledger_index)
            .limit(limit)
        )
        exchanges = await session.execute(
            select(Exchange)
            .where(Exchange.ledger_index >= start)
            .order_by(Exchange.ledger_index)
            .limit(limit)
        )
        out = [(int(r.ledger_index), row_record(r)) for r in events.scalars()]
        out += [(int(x.ledger_index), exchange_record(x)) for x in exchanges.scalars()]
        out.sort(key=lambda item: item[0])
        return out[:limit]

    async def folded_state(
        self, session: AsyncSession, *, match_id: str, now: datetime
    ) -> tuple[ConsentState, ...]:
        return state(await self.events(session, match_id), now)

    async def decide(
        self,
        session: AsyncSession,
        *,
        match_id: str,
        sender: str,
        recipient: str,
        purpose: Purpose,
        category: DataCategory,
        now: datetime,
    ) -> Decision:
        return fold(
            await self.events(session, match_id),
            sender=sender,
            recipient=recipient,
            purpose=purpose,
            category=category,
            at=now,
        )

    # --- encryption keys -------------------------------------------------------------

    async def register_key(
        self, session: AsyncSession, *, organisation_id: str, public_key: bytes, now: datetime
    ) -> tuple[OrganisationKey, bool]:
        """Make ``public_key`` the organisation's current key; return (key, created)."""
        if len(public_key) != KEY_BYTES:
            raise InvalidEncryptionKey("an X25519 public key is 32 raw bytes")
        try:
            hpke_seal(recipient_public_key=public_key, info=b"key-check", plaintext=b"")
        except HPKEError as exc:
            raise InvalidEncryptionKey("the public key cannot be used for HPKE") from exc
        current = await self.current_key(session, organisation_id)
        if current is not None and bytes(current.public_key) == public_key:
            return current, False
        await session.execute(
            update(OrganisationKey)
            .where(
                OrganisationKey.organisation_id == organisation_id,
                OrganisationKey.retired_at.is_(None),
            )
            .values(retired_at=now)
        )
        key = OrganisationKey(
            id=str(uuid.uuid4()),
            organisation_id=organisation_id,
            public_key=public_key,
            created_at=now,
            retired_at=None,
        )
        session.add(key)
        await session.flush()
        log.info("encryption_key_registered", key_id=key.id)
        return key, True

    async def current_key(
        self, session: AsyncSession, organisation_id: str
    ) -> OrganisationKey | None:
        result = await session.execute(
            select(OrganisationKey)
            .where(
                OrganisationKey.organisation_id == organisation_id,
                OrganisationKey.retired_at.is_(None),
            )
            .order_by(OrganisationKey.created_at.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    # --- exchanges -------------------------------------------------------------------

    async def send(
        self,
        session: AsyncSession,
        *,
        match_id: str,
        participants: Collection[str],
        sender_organisation_id: str,
        sender_professional_id: str,
        recipient_organisation_id: str,
        purpose: Purpose,
        category: DataCategory,
        enc: bytes,
        ciphertext: bytes,
        now: datetime,
        legal_ground: tuple[str, str] | None = None,
        consent_reference: Iterable[str] | None = None,
        recipient_key_id: str | None = None,
    ) -> Exchange:
        """The exchange gate: store the ciphertext only if consent or a legal ground covers it.

        Raises :class:`~consent.ConsentRequired` (naming the missing party) otherwise.
        """
        if sender_organisation_id == recipient_organisation_id:
            raise InvalidConsent("the recipient must be another organisation of the match")
        _check_participants(participants, sender_organisation_id, recipient_organisation_id)
        if len(enc) != ENC_BYTES:
            raise InvalidConsent("enc must be the 32-byte HPKE encapsulated key")
        if not ciphertext:
            raise InvalidConsent("the ciphertext is empty")
        claim: LegalGroundClaim | None = None
        if legal_ground is not None:
            claim = validate_legal_ground(*legal_ground)
            reference = legal_ground_reference(claim.ground.value)
        else:
            decision = await self.decide(
                session,
                match_id=match_id,
                sender=sender_organisation_id,
                recipient=recipient_organisation_id,
                purpose=purpose,
                category=category,
                now=now,
            )
            reference = list(decision.require())
        if consent_reference is not None and list(consent_reference) != reference:
            raise StaleConsentReference(
                "the consent reference sealed to is not the current decision; fetch it again"
            )
        key = await self.current_key(session, recipient_organisation_id)
        if key is None:
            raise RecipientKeyMissing("the recipient organisation has no encryption key")
        if recipient_key_id is not None and recipient_key_id != key.id:
            raise RecipientKeyMissing("the recipient's key was rotated; fetch the new key")
        exchange_id = str(uuid.uuid4())
        digest = hashlib.sha256(enc + ciphertext).hexdigest()
        index = await self.ledger.append(
            session,
            record={
                "type": "exchange",
                "id": exchange_id,
                "match_id": match_id,
                "created_at": _iso(now),
                "sender_organisation_id": sender_organisation_id,
                "recipient_organisation_id": recipient_organisation_id,
                "purpose": purpose.value,
                "data_category": category.value,
                "basis": "consent" if claim is None else "legal-ground",
                "consent_reference": reference,
                "legal_ground": None if claim is None else claim.ground.value,
                "flagged_for_review": claim is not None,
                "ciphertext_sha256": digest,
                "recipient_key_id": key.id,
            },
            personal={
                "sender_professional_id": sender_professional_id,
                "justification": None if claim is None else claim.justification,
            },
            at=now,
        )
        exchange = Exchange(
            id=exchange_id,
            match_id=match_id,
            sender_organisation_id=sender_organisation_id,
            sender_professional_id=sender_professional_id,
            recipient_organisation_id=recipient_organisation_id,
            purpose=purpose.value,
            data_category=category.value,
            consent_reference=json.dumps(reference),
            legal_ground=None if claim is None else claim.ground.value,
            legal_ground_justification=None if claim is None else claim.justification,
            flagged_for_review=claim is not None,
            enc=enc,
            ciphertext=ciphertext,
            ciphertext_sha256=digest,
            recipient_key_id=key.id,
            created_at=now,
            delivered_at=None,
            acknowledged_at=None,
            deleted_at=None,
            deletion_reason=None,
            ledger_index=index,
        )
        session.add(exchange)
        await session.flush()
        log.info(
            "exchange_stored",
            exchange_id=exchange_id,
            ledger_index=index,
            flagged=claim is not None,
        )
        return exchange

    async def inbox(
        self, session: AsyncSession, *, organisation_id: str, include_done: bool, limit: int
    ) -> list[Exchange]:
        query = select(Exchange).where(Exchange.recipient_organisation_id == organisation_id)
        if not include_done:
            query = query.where(Exchange.deleted_at.is_(None))
        query = query.order_by(Exchange.created_at, Exchange.id).limit(limit)
        return list((await session.execute(query)).scalars())

    async def _for_recipient(
        self, session: AsyncSession, *, exchange_id: str, organisation_id: str
    ) -> Exchange:
        exchange = await session.get(Exchange, exchange_id)
        if exchange is None or exchange.recipient_organisation_id != organisation_id:
            raise ExchangeNotFound("no such exchange")
        return exchange

    async def fetch(
        self, session: AsyncSession, *, exchange_id: str, organisation_id: str, now: datetime
    ) -> Exchange:
        """Hand the ciphertext to the recipient, if the consent it rests on still stands."""
        exchange = await self._for_recipient(
            session, exchange_id=exchange_id, organisation_id=organisation_id
        )
        if exchange.deleted_at is None and not await self._still_covered(session, exchange, now):
            self._delete(exchange, now, "consent-withdrawn")
        if exchange.deleted_at is not None or exchange.ciphertext is None:
            raise ExchangeUnavailable(
                f"the ciphertext is no longer available ({exchange.deletion_reason or 'deleted'})"
            )
        if exchange.delivered_at is None:
            exchange.delivered_at = now
        log.info("exchange_fetched", exchange_id=exchange.id, recipient=organisation_id)
        return exchange

    async def acknowledge(
        self, session: AsyncSession, *, exchange_id: str, organisation_id: str, now: datetime
    ) -> Exchange:
        exchange = await self._for_recipient(
            session, exchange_id=exchange_id, organisation_id=organisation_id
        )
        if exchange.acknowledged_at is None:
            exchange.acknowledged_at = now
            if exchange.delivered_at is None:
                exchange.delivered_at = now
            if exchange.deleted_at is None:
                self._delete(exchange, now, "acknowledged")
            log.info("exchange_acknowledged", exchange_id=exchange.id, recipient=organisation_id)
        return exchange

    @staticmethod
    def _delete(exchange: Exchange, now: datetime, reason: str) -> None:
        exchange.enc = None
        exchange.ciphertext = None
        exchange.deleted_at = now
        exchange.deletion_reason = reason

    async def _still_covered(
        self, session: AsyncSession, exchange: Exchange, now: datetime
    ) -> bool:
        if exchange.legal_ground is not None:
            return True
        decision = await self.decide(
            session,
            match_id=exchange.match_id,
            sender=exchange.sender_organisation_id,
            recipient=exchange.recipient_organisation_id,
            purpose=Purpose(exchange.purpose),
            category=DataCategory(exchange.data_category),
            now=now,
        )
        return decision.allowed

    async def _withhold_uncovered(
        self, session: AsyncSession, *, match_id: str, now: datetime
    ) -> None:
        """After a refusal or withdrawal: undelivered ciphertext it no longer covers goes."""
        pending = await session.execute(
            select(Exchange).where(
                Exchange.match_id == match_id,
                Exchange.deleted_at.is_(None),
                Exchange.legal_ground.is_(None),
            )
        )
        exchanges = list(pending.scalars())
        try:
            events = await self.events(session, match_id) if exchanges else []
        except ConsentLedgerMismatch:
            # The table no longer says what the ledger proves: withhold everything pending
            # rather than refuse to record the refusal or withdrawal.
            events = None
        for exchange in exchanges:
            if (
                events is None
                or not fold(
                    events,
                    sender=exchange.sender_organisation_id,
                    recipient=exchange.recipient_organisation_id,
                    purpose=Purpose(exchange.purpose),
                    category=DataCategory(exchange.data_category),
                    at=now,
                ).allowed
            ):
                self._delete(exchange, now, "consent-withdrawn")

    async def erase_for_matches(
        self, session: AsyncSession, *, match_ids: Collection[str], at: datetime
    ) -> int:
        """A youth's erasure (AVG art. 17): erase the personal parts of the ledger entries of
        the consent events and exchanges of these matches, and delete any ciphertext still
        held for them. The ledger stays verifiable; returns the ledger entries erased."""
        if not match_ids:
            return 0
        ids = list(match_ids)
        events = await session.execute(
            select(ConsentEventRow.ledger_index).where(ConsentEventRow.match_id.in_(ids))
        )
        exchanges = await session.execute(
            select(Exchange.ledger_index).where(Exchange.match_id.in_(ids))
        )
        indexes = {int(i) for i in events.scalars()} | {int(i) for i in exchanges.scalars()}
        pending = await session.execute(
            select(Exchange).where(Exchange.match_id.in_(ids), Exchange.deleted_at.is_(None))
        )
        for exchange in pending.scalars():
            self._delete(exchange, at, "erasure")
        return await self.ledger.erase_personal_of(session, indexes=indexes, at=at)

    async def sweep(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        exchange_retention: timedelta,
        ledger_personal_retention: timedelta | None,
    ) -> SweepCounts:
        """Delete ciphertext not acknowledged within the retention period; erase the
        personal parts of old ledger entries when a retention for them is set."""
        expired = await session.execute(
            update(Exchange)
            .where(Exchange.deleted_at.is_(None), Exchange.created_at < now - exchange_retention)
            .values(enc=None, ciphertext=None, deleted_at=now, deletion_reason="retention")
        )
        erased = 0
        if ledger_personal_retention is not None:
            erased = await self.ledger.erase_personal(
                session, before=now - ledger_personal_retention, at=now
            )
        return SweepCounts(
            expired_exchanges=int(expired.rowcount or 0),  # type: ignore[attr-defined]
            erased_ledger_entries=erased,
        )
