"""Consent events, the tamper-evident ledger and the exchange gate.

Imports ``crypto`` and SQLAlchemy, never ``verwijsindex`` or FastAPI.

Example::

    from consent import DataCategory, Purpose, fold

    decision = fold(events, sender=org_a, recipient=org_b,
                    purpose=Purpose.CARE_COORDINATION, category=DataCategory.CARE, at=now)
    consent_reference = decision.require()   # raises ConsentRequired when not allowed

    service = ConsentService(ledger=Ledger(origin="example.org/consent-ledger",
                                           signing_key=ed25519_private_key))
    async with database.transaction() as session:      # the caller owns the transaction
        await service.send(session, match_id=..., participants={org_a, org_b}, ...)
        checkpoint = await service.ledger.checkpoint(session, at=now)
"""

from consent._audit import exchange_decision, exchange_problems
from consent._db import ConsentBase
from consent._errors import (
    ConsentError,
    ConsentLedgerMismatch,
    ConsentRequired,
    ExchangeNotFound,
    ExchangeUnavailable,
    InvalidBirthDate,
    InvalidConsent,
    InvalidEncryptionKey,
    LedgerInconsistent,
    LedgerRangeError,
    RecipientKeyMissing,
    StaleConsentReference,
)
from consent._ledger import Ledger, LedgerRecord, SignedCheckpoint, canonical_json, commitment
from consent._models import (
    ConsentEventRow,
    Exchange,
    LedgerCheckpoint,
    LedgerEntry,
    OrganisationKey,
)
from consent._record import to_consent_record, to_fhir_consent
from consent._rules import (
    ConsentEvent,
    ConsentState,
    Decision,
    LegalGroundClaim,
    current_age_band,
    fold,
    state,
    validate_justification,
    validate_legal_ground,
)
from consent._service import (
    ConsentService,
    SweepCounts,
    event_from_record,
    exchange_record,
    legal_ground_reference,
    record_differences,
    row_record,
)
from consent._vocabulary import (
    AgeBand,
    DataCategory,
    Direction,
    EventKind,
    GrantorRole,
    LegalGround,
    Method,
    Party,
    Purpose,
    age_band,
)

__all__ = [
    "AgeBand",
    "ConsentBase",
    "ConsentError",
    "ConsentEvent",
    "ConsentEventRow",
    "ConsentLedgerMismatch",
    "ConsentRequired",
    "ConsentService",
    "ConsentState",
    "DataCategory",
    "Decision",
    "Direction",
    "EventKind",
    "Exchange",
    "ExchangeNotFound",
    "ExchangeUnavailable",
    "GrantorRole",
    "InvalidBirthDate",
    "InvalidConsent",
    "InvalidEncryptionKey",
    "Ledger",
    "LedgerCheckpoint",
    "LedgerEntry",
    "LedgerInconsistent",
    "LedgerRangeError",
    "LedgerRecord",
    "LegalGround",
    "LegalGroundClaim",
    "Method",
    "OrganisationKey",
    "Party",
    "Purpose",
    "RecipientKeyMissing",
    "SignedCheckpoint",
    "StaleConsentReference",
    "SweepCounts",
    "age_band",
    "canonical_json",
    "commitment",
    "current_age_band",
    "event_from_record",
    "exchange_decision",
    "exchange_problems",
    "exchange_record",
    "fold",
    "legal_ground_reference",
    "record_differences",
    "row_record",
    "state",
    "to_consent_record",
    "to_fhir_consent",
    "validate_justification",
    "validate_legal_ground",
]
