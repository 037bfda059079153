"""The consent rules as an auditor replays them over the ledger's records.

A consent-event record parses back to the :class:`ConsentEvent` it was written from
(:func:`consent._service.event_from_record`, the inverse of ``event_record``), and an
exchange record is checked against the events recorded before it with the same
:func:`fold` (:func:`exchange_decision`) and :func:`validate_justification` the exchange
gate applied (:func:`exchange_problems`). ``verwijsindex audit verify`` calls these;
``scripts/verify_ledger.py`` writes the same rules out on its own (standard library only),
and ``tests/scripts/test_verify_ledger_rules.py`` holds the two in step.

A malformed record (a missing field, an unknown code, a time without offset, a grant that
ends before it starts) raises ``KeyError``, ``TypeError`` or ``ValueError``
(:class:`InvalidConsent` is a ``ValueError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from consent._errors import InvalidConsent
from consent._rules import ConsentEvent, Decision, fold, validate_justification
from consent._service import legal_ground_reference
from consent._vocabulary import DataCategory, LegalGround, Purpose

__all__ = ["exchange_decision", "exchange_problems"]

_LEGAL_GROUNDS = frozenset(g.value for g in LegalGround)


def exchange_decision(record: Mapping[str, Any], events: Sequence[ConsentEvent]) -> Decision:
    """The decision the exchange gate makes for a ledger record of type ``exchange`` on
    consent: the events of its match folded at its time for its flow, purpose and category."""
    return fold(
        events,
        sender=record["sender_organisation_id"],
        recipient=record["recipient_organisation_id"],
        purpose=Purpose(record["purpose"]),
        category=DataCategory(record["data_category"]),
        at=datetime.fromisoformat(record["created_at"]),
    )


def exchange_problems(
    record: Mapping[str, Any],
    events: Sequence[ConsentEvent],
    personal: object,
) -> list[str]:
    """What is wrong with a ledger record of type ``exchange``; empty when it is lawful.

    ``events`` are the consent events of its match recorded before it in the ledger;
    ``personal`` its opened personal fields, a JSON object (``None`` once erased: the
    justification of a legal ground can then no longer be checked).
    """
    if record.get("basis") == "legal-ground":
        ground = record.get("legal_ground")
        problems = []
        if ground not in _LEGAL_GROUNDS:
            problems.append("exchange on an unknown legal ground")
        if record.get("flagged_for_review") is not True:
            problems.append("legal-ground exchange not flagged for review")
        if record.get("consent_reference") != legal_ground_reference(str(ground)):
            problems.append("legal-ground exchange with a wrong reference")
        if personal is not None:
            try:
                validate_justification(
                    personal.get("justification") if isinstance(personal, Mapping) else None
                )
            except InvalidConsent as exc:
                problems.append(f"legal ground without a valid written justification ({exc})")
        return problems
    if record.get("basis") != "consent":
        return ["exchange without a basis"]
    decision = exchange_decision(record, events)
    if not decision.allowed:
        return ["exchange not covered by consent at its time"]
    if list(decision.consent_reference) != record.get("consent_reference"):
        return ["exchange cites consent events other than those covering it"]
    return []
