"""Consent events, the tamper-evident ledger and the exchange gate.

Imports ``crypto`` and SQLAlchemy, never ``verwijsindex`` or FastAPI.

Example::

    from consent import DataCategory, Purpose, fold

    decision = fold(events, sender=org_a, recipient=org_b,
                    purpose=Purpose.CARE_COORDINATION, category=DataCategory.CARE, at=now)
    consent_reference = decision.require()   # raises ConsentRequired when not allowed
"""

from consent._db import ConsentBase
from consent._errors import ConsentError, ConsentRequired, InvalidBirthDate, InvalidConsent
from consent._record import to_consent_record, to_fhir_consent
from consent._rules import (
    ConsentEvent,
    ConsentState,
    Decision,
    LegalGroundClaim,
    current_age_band,
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
    "ConsentRequired",
    "ConsentState",
    "DataCategory",
    "Decision",
    "Direction",
    "EventKind",
    "GrantorRole",
    "InvalidBirthDate",
    "InvalidConsent",
    "LegalGround",
    "LegalGroundClaim",
    "Method",
    "Party",
    "Purpose",
    "age_band",
    "current_age_band",
    "fold",
    "state",
    "to_consent_record",
    "to_fhir_consent",
    "validate_legal_ground",
]
