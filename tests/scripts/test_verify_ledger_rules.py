"""The standalone ``scripts/verify_ledger.py`` applies the same consent rules as
``verwijsindex audit verify``, which calls the package ``consent`` (one implementation of the
fold, the age bands, precedence, record parsing and the legal-ground rules).

The script keeps its own copy on purpose (an auditor runs it without installing the
service); these properties hold the copy in step: random written justifications, random
consent-event records (well-formed and malformed) and random ledgers of events and exchanges
get the same verdicts from both, and the same folded state in every cell.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from consent import (
    DataCategory,
    InvalidConsent,
    Purpose,
    canonical_json,
    commitment,
    event_from_record,
    exchange_decision,
    fold,
    validate_justification,
)
from crypto import leaf_hash
from scripts import verify_ledger as script
from tests.consent.helpers import JUSTIFICATION
from verwijsindex.client import ledger_audit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ORGS = ("org-a", "org-b", "org-c")
PURPOSES = ("care-coordination", "safety-assessment")
CATEGORIES = ("care", "health", "safety")
KINDS = ("given", "refused", "withdrawn")
EVENT_CODES = {
    "event": KINDS,
    "grantor": ("youth", "parent", "guardian"),
    "purpose": PURPOSES,
    "direction": ("outgoing", "incoming", "both"),
    "age_band": ("under-12", "12-15", "16-plus"),
    "method": ("oral", "written", "digital"),
}
MALFORMED = (KeyError, ValueError, TypeError)

# --- written justifications ---------------------------------------------------------------

_WORDS = st.sampled_from(
    [
        "the", "youth", "told", "a", "teacher", "about", "violence", "at", "home", "Veilig",
        "Thuis", "must", "assess", "today", "e.g.", "mr.", "no.", "école", "Ärztin",
        "ребёнок", "子供", "😀", "x", "",
    ]
)  # fmt: skip
_ENDS = st.sampled_from([".", "!", "?", "...", "?!", ".)", ";", ",", "", ".\u00a0"])
_SPACES = st.sampled_from([" ", "  ", "\n", "\t", "\u00a0", "\u2003", "\u3000", ""])
_DIGITS = st.sampled_from(["0123456789", "٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９", "۰۱۲۳۴۵۶۷۸۹"])


@st.composite
def _number(draw: st.DrawFn) -> str:
    """A run of 7 to 10 digits (sometimes not ASCII), sometimes split by separators."""
    digits = draw(_DIGITS)
    run = "".join(draw(st.sampled_from(digits)) for _ in range(draw(st.integers(7, 10))))
    separator = draw(st.sampled_from(["", "", " ", "-", ".", "\u00a0", "/"]))
    if separator:
        cut = draw(st.integers(1, len(run) - 1))
        run = run[:cut] + separator + run[cut:]
    return run


@st.composite
def _sentence(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.one_of(_WORDS, _number()), max_size=9))
    return " ".join(words) + draw(_ENDS) + draw(_SPACES)


def _fit(text: str, length: int) -> str:
    """``text`` cut or padded with words to exactly ``length`` characters."""
    while len(text) < length:
        text += " more words here."
    return text[:length]


@st.composite
def justifications(draw: st.DrawFn) -> object:
    text = "".join(draw(st.lists(_sentence(), max_size=8)))
    choice = draw(st.sampled_from(["free", "fit", "fit", "padded", "other type"]))
    if choice == "fit":
        text = _fit(text, draw(st.sampled_from([99, 100, 101, 3999, 4000, 4001])))
    elif choice == "padded":
        text = draw(_SPACES) + _fit(text, draw(st.sampled_from([99, 100, 101]))) + draw(_SPACES)
    elif choice == "other type":
        return draw(st.sampled_from([None, 42, ["text"], {"text": JUSTIFICATION}]))
    return text


THREE_SENTENCES_OF_100 = (
    _fit("One two three four five six. Seven eight nine ten! Eleven twelve ", 99) + "?"
)


def _service_verdict(justification: object) -> str | None:
    try:
        validate_justification(justification)
    except InvalidConsent as exc:
        return str(exc)
    return None


class TestJustification:
    @settings(max_examples=400, deadline=None)
    @given(justifications())
    @example(JUSTIFICATION)
    @example(JUSTIFICATION.replace("this morning", "123456789"))
    @example(JUSTIFICATION.replace("this morning", "123 456 789"))
    @example(JUSTIFICATION.replace("this morning", "١٢٣٤٥٦٧٨٩"))
    @example(JUSTIFICATION.replace(". ", ", "))
    @example(THREE_SENTENCES_OF_100)
    @example(THREE_SENTENCES_OF_100[:-1])
    @example("  \u2003" + THREE_SENTENCES_OF_100 + "\n")
    def test_the_same_verdict_and_reason(self, justification: object) -> None:
        assert script.justification_problem(justification) == _service_verdict(justification)

    def test_the_edge_cases_are_what_the_rule_says(self) -> None:
        assert len(THREE_SENTENCES_OF_100) == 100
        assert _service_verdict(THREE_SENTENCES_OF_100) is None
        assert _service_verdict(THREE_SENTENCES_OF_100[:-1]) is not None  # 99 characters
        assert _service_verdict(JUSTIFICATION.replace(". ", ", ")) is not None  # one sentence
        assert _service_verdict(JUSTIFICATION.replace("this morning", "123456789")) is not None
        assert _service_verdict(JUSTIFICATION.replace("this morning", "١٢٣٤٥٦٧٨٩")) is not None


# --- consent-event records ----------------------------------------------------------------


def _time(moment: datetime, zone: timezone) -> str:
    return moment.astimezone(zone).isoformat()


_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])


@st.composite
def event_records(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """The ledger record of a consent event, now and then with one flaw the service would
    never write."""
    org = draw(st.sampled_from(ORGS))
    kind = draw(st.sampled_from(KINDS))
    recorded = T0 + timedelta(hours=12 * draw(st.integers(0, 8)))
    zone = draw(_ZONES)
    valid_from = valid_until = None
    if kind == "given" and draw(st.booleans()):
        valid_from = _time(recorded + timedelta(hours=12 * draw(st.integers(-2, 2))), zone)
    if kind == "given" and draw(st.booleans()):
        valid_until = _time(recorded + timedelta(hours=12 * draw(st.integers(1, 6))), zone)
    record: dict[str, Any] = {
        "type": "consent-event",
        "id": f"e{number}",
        "match_id": "m",
        "recorded_at": _time(recorded, zone),
        "organisation_id": org,
        "counterpart_organisation_id": draw(st.sampled_from([o for o in ORGS if o != org])),
        "data_categories": sorted(
            draw(st.sets(st.sampled_from(CATEGORIES), min_size=1, max_size=3))
        ),
        "valid_from": valid_from,
        "valid_until": valid_until,
    }
    for field, codes in EVENT_CODES.items():
        record[field] = draw(st.sampled_from(codes))
    record["event"] = kind
    flaw = draw(st.sampled_from([None] * 12 + list(_FLAWS)))
    if flaw is not None:
        _FLAWS[flaw](record, draw)
    return record


def _unknown_code(record: dict[str, Any], draw: st.DrawFn) -> None:
    record[draw(st.sampled_from([*EVENT_CODES, "data_categories"]))] = draw(
        st.sampled_from(["granted", "medical", "", None, 3, ["care"]])
    )


_FLAWS: dict[str, Any] = {
    "unknown code": _unknown_code,
    "missing field": lambda r, d: r.pop(d(st.sampled_from(sorted(r)))),
    "no offset": lambda r, d: r.update(recorded_at=r["recorded_at"][:19]),
    "not a time": lambda r, d: r.update(recorded_at=d(st.sampled_from([20250301, "gisteren"]))),
    "inverted validity": lambda r, d: r.update(
        event="given", valid_from=None, valid_until=r["recorded_at"]
    ),
    "refusal with validity": lambda r, d: r.update(
        event="refused", valid_until="2030-01-01T00:00:00+00:00"
    ),
    "counterpart is recorder": lambda r, d: r.update(
        counterpart_organisation_id=r["organisation_id"]
    ),
    "no categories": lambda r, d: r.update(data_categories=[]),
    "categories as text": lambda r, d: r.update(data_categories="care"),
    "empty id": lambda r, d: r.update(id=""),
}  # fmt: skip


def _parse_both(record: dict[str, Any]) -> tuple[Any, Any]:
    """The service's and the script's reading of a record; ``None`` where it is refused as
    malformed. Both must refuse the same records."""
    try:
        service: Any = event_from_record(record)
    except MALFORMED:
        service = None
    try:
        vendored: Any = script.prepare(record)
    except MALFORMED:
        vendored = None
    assert (service is None) == (vendored is None), record
    return service, vendored


class TestFoldedState:
    @settings(max_examples=300, deadline=None)
    @given(st.data(), st.integers(0, 10))
    def test_every_cell_folds_the_same(self, data: st.DataObject, half_days: int) -> None:
        size = data.draw(st.integers(0, 8))
        records = [data.draw(event_records(n)) for n in range(size)]
        parsed = [_parse_both(r) for r in records]
        service = [s for s, _ in parsed if s is not None]
        vendored = [v for _, v in parsed if v is not None]
        moment = T0 + timedelta(hours=12 * half_days - 1)
        for sender in ORGS:
            for recipient in ORGS:
                if sender == recipient:
                    continue
                for purpose in PURPOSES:
                    for category in CATEGORIES:
                        decision = fold(
                            service,
                            sender=sender,
                            recipient=recipient,
                            purpose=Purpose(purpose),
                            category=DataCategory(category),
                            at=moment,
                        )
                        expected = (decision.allowed, list(decision.consent_reference))
                        got = script.fold(vendored, sender, recipient, purpose, category, moment)
                        assert got == expected, (sender, recipient, purpose, category)


# --- whole ledgers, through both verifiers' entry checks ------------------------------------


@st.composite
def exchange_records(draw: st.DrawFn, number: int, earlier: list[str]) -> dict[str, Any]:
    sender = draw(st.sampled_from(ORGS))
    basis = draw(st.sampled_from(["consent", "consent", "consent", "legal-ground", None]))
    record: dict[str, Any] = {
        "type": "exchange",
        "id": f"x{number}",
        "match_id": "m",
        "created_at": _time(T0 + timedelta(hours=12 * draw(st.integers(0, 9)) + 1), draw(_ZONES)),
        "sender_organisation_id": sender,
        "recipient_organisation_id": draw(st.sampled_from([o for o in ORGS if o != sender])),
        "purpose": draw(st.sampled_from(PURPOSES)),
        "data_category": draw(st.sampled_from(CATEGORIES)),
        "basis": basis,
        "consent_reference": "the current decision",
        "legal_ground": None,
        "flagged_for_review": False,
        "ciphertext_sha256": "00" * 32,
        "recipient_key_id": "key",
    }
    if basis == "legal-ground":
        ground = draw(st.sampled_from(["meldrecht", "court-measure", "legal-duty", "other"]))
        record["legal_ground"] = ground
        record["flagged_for_review"] = draw(st.sampled_from([True, True, True, False, None]))
        record["consent_reference"] = draw(
            st.sampled_from([[f"legal-ground:{ground}"]] * 3 + [[], ["legal-ground:other"]])
        )
    elif draw(st.booleans()):
        record["consent_reference"] = sorted(draw(st.sets(st.sampled_from(earlier or ["e0"]))))
    flaw = draw(st.sampled_from([None] * 10 + ["purpose", "no offset", "to itself", "missing"]))
    if flaw == "purpose":
        record["purpose"] = "marketing"
    elif flaw == "no offset":
        record["created_at"] = record["created_at"][:19]
    elif flaw == "to itself":
        record["recipient_organisation_id"] = sender
    elif flaw == "missing":
        del record["sender_organisation_id"]
    return record


def _current_reference(record: dict[str, Any], events: list[Any]) -> list[str]:
    """The consent reference the gate would have bound (empty where it would have refused)."""
    try:
        decision = exchange_decision(record, events)
    except MALFORMED:
        return []
    return list(decision.consent_reference)


def _entry(index: int, record: dict[str, Any], personal: dict[str, Any] | None) -> dict[str, Any]:
    salt = bytes([index % 256]) * 16
    opening = canonical_json(personal or {})
    data = canonical_json({**record, "commitment": commitment(salt, opening)}).decode()
    return {
        "index": index,
        "data": data,
        "leaf_hash": base64.b64encode(leaf_hash(data.encode())).decode(),
        "salt": None if personal is None else base64.b64encode(salt).decode(),
        "personal": None if personal is None else opening.decode(),
    }


@st.composite
def ledgers(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Entries of consent events and exchanges in ledger order, some erased."""
    entries: list[dict[str, Any]] = []
    events: list[Any] = []
    ids: list[str] = []
    for index in range(draw(st.integers(1, 12))):
        erased = draw(st.integers(0, 5)) == 0
        if draw(st.booleans()):
            record = draw(event_records(index))
            personal: dict[str, Any] = {"recorded_by": "pro", "evidence_hash": None}
            try:
                events.append(event_from_record(record))
                ids.append(record["id"])
            except MALFORMED:
                pass
        else:
            record = draw(exchange_records(index, ids))
            if record["consent_reference"] == "the current decision":
                record["consent_reference"] = _current_reference(record, events)
            personal = {"sender_professional_id": "pro", "justification": None}
            if record["basis"] == "legal-ground":
                personal["justification"] = draw(justifications())
        entries.append(_entry(index, record, None if erased else personal))
    return entries


def _verdicts(violations: list[str]) -> list[str]:
    """Which entries are named, without the words."""
    return sorted({v.split(":")[0] for v in violations})


class TestBothVerifiers:
    @settings(max_examples=300, deadline=None)
    @given(ledgers())
    def test_the_same_entries_named_for_the_same_reasons(
        self, entries: list[dict[str, Any]]
    ) -> None:
        service = ledger_audit.AuditReport()
        service_leaves = ledger_audit.check_entries(entries, service, {})
        vendored = script.Report()
        vendored_leaves = script.check_entries(entries, vendored, {})
        assert _verdicts(vendored.violations) == _verdicts(service.violations)
        assert vendored.flagged == service.flagged
        assert vendored.erased == service.erased
        assert vendored.violations == service.violations
        assert vendored_leaves == service_leaves
