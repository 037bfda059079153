from datetime import UTC, datetime, timedelta, timezone

import pytest

from consent import (
    AgeBand,
    ConsentEvent,
    ConsentRequired,
    DataCategory,
    Decision,
    Direction,
    EventKind,
    GrantorRole,
    InvalidConsent,
    LegalGround,
    Method,
    Party,
    Purpose,
    fold,
    state,
    validate_legal_ground,
)
from tests.consent.factory import CARE, A, B, C, at, ev

GIVEN, REFUSED, WITHDRAWN = EventKind.GIVEN, EventKind.REFUSED, EventKind.WITHDRAWN
YOUTH, PARENT, GUARDIAN = GrantorRole.YOUTH, GrantorRole.PARENT, GrantorRole.GUARDIAN


def decide(
    events: list[ConsentEvent],
    *,
    sender: str = A,
    recipient: str = B,
    category: str = "care",
    purpose: Purpose = CARE,
    day: float = 10,
) -> Decision:
    return fold(
        events,
        sender=sender,
        recipient=recipient,
        purpose=purpose,
        category=DataCategory(category),
        at=at(day),
    )


U12, B12, B16 = AgeBand.UNDER_12, AgeBand.FROM_12_TO_15, AgeBand.FROM_16


class TestAgeRules:
    @pytest.mark.parametrize(
        ("band", "records", "allowed", "missing", "refused_by"),
        [
            # under 12: a parent or guardian grant suffices; the youth is not counted
            (U12, [(GIVEN, PARENT)], True, [], []),
            (U12, [(GIVEN, GUARDIAN)], True, [], []),
            (U12, [(GIVEN, YOUTH)], False, [Party.PARENT_OR_GUARDIAN], []),
            (U12, [(GIVEN, PARENT), (REFUSED, YOUTH)], True, [], []),
            (U12, [(GIVEN, PARENT), (REFUSED, GUARDIAN)], False, [], [GUARDIAN]),
            (U12, [(REFUSED, PARENT)], False, [], [PARENT]),
            (U12, [], False, [Party.PARENT_OR_GUARDIAN], []),
            # 12-15: youth and a parent or guardian; either refusing blocks
            (B12, [(GIVEN, YOUTH), (GIVEN, PARENT)], True, [], []),
            (B12, [(GIVEN, YOUTH), (GIVEN, GUARDIAN)], True, [], []),
            (B12, [(GIVEN, YOUTH)], False, [Party.PARENT_OR_GUARDIAN], []),
            (B12, [(GIVEN, PARENT)], False, [Party.YOUTH], []),
            (B12, [(GIVEN, GUARDIAN)], False, [Party.YOUTH], []),
            (B12, [(GIVEN, YOUTH), (REFUSED, PARENT)], False, [], [PARENT]),
            (B12, [(REFUSED, YOUTH), (GIVEN, PARENT)], False, [], [YOUTH]),
            (B12, [(WITHDRAWN, YOUTH), (GIVEN, PARENT)], False, [], [YOUTH]),
            (B12, [(GIVEN, YOUTH), (GIVEN, PARENT), (REFUSED, GUARDIAN)], False, [], [GUARDIAN]),
            (B12, [(REFUSED, YOUTH)], False, [Party.PARENT_OR_GUARDIAN], [YOUTH]),
            (B12, [], False, [Party.YOUTH, Party.PARENT_OR_GUARDIAN], []),
            # 16+: the youth alone; parents are not counted either way
            (B16, [(GIVEN, YOUTH)], True, [], []),
            (B16, [(GIVEN, PARENT)], False, [Party.YOUTH], []),
            (B16, [(GIVEN, GUARDIAN), (GIVEN, PARENT)], False, [Party.YOUTH], []),
            (B16, [(GIVEN, YOUTH), (REFUSED, PARENT)], True, [], []),
            (B16, [(REFUSED, YOUTH), (GIVEN, PARENT)], False, [], [YOUTH]),
        ],
    )
    def test_rule(
        self,
        band: AgeBand,
        records: list[tuple[EventKind, GrantorRole]],
        allowed: bool,
        missing: list[Party],
        refused_by: list[GrantorRole],
    ) -> None:
        # An event of another purpose fixes the band when the table has no events.
        anchor = ev(GIVEN, YOUTH, band=band, purpose=Purpose.EDUCATION_SUPPORT)
        events = [anchor] + [ev(k, g, band=band, day=1) for k, g in records]
        decision = decide(events)
        assert decision.allowed is allowed
        assert list(decision.missing) == missing
        assert list(decision.refused_by) == refused_by
        assert decision.age_band is band
        if allowed:
            assert decision.consent_reference
            assert set(decision.consent_reference) <= {e.id for e in events[1:]}
        else:
            assert decision.consent_reference == ()

    def test_reference_lists_every_counted_grant(self) -> None:
        youth, parent = ev(GIVEN, YOUTH, band=B12), ev(GIVEN, PARENT, band=B12)
        decision = decide(
            [youth, parent, ev(GIVEN, PARENT, band=B12, purpose=Purpose.SAFETY_ASSESSMENT)]
        )
        assert decision.consent_reference == tuple(sorted([youth.id, parent.id]))

    def test_band_of_latest_event_applies(self) -> None:
        # Granted by a parent while under 12; the youth has turned 12 since (a later event
        # says so), so the youth's consent is now needed as well.
        events = [
            ev(GIVEN, PARENT, band=U12, day=0),
            ev(GIVEN, YOUTH, band=B12, day=5, purpose=Purpose.EDUCATION_SUPPORT),
        ]
        assert decide(events, day=3).allowed
        later = decide(events, day=6)
        assert not later.allowed
        assert later.missing == (Party.YOUTH,)

    def test_explicit_band_overrides(self) -> None:
        events = [ev(GIVEN, PARENT, band=U12)]
        decision = fold(
            events,
            sender=A,
            recipient=B,
            purpose=CARE,
            category=DataCategory.CARE,
            at=at(1),
            age_band=B16,
        )
        assert not decision.allowed
        assert decision.missing == (Party.YOUTH,)

    def test_no_events_at_all(self) -> None:
        decision = decide([])
        assert not decision.allowed
        assert decision.age_band is None
        assert set(decision.missing) == {Party.YOUTH, Party.PARENT_OR_GUARDIAN}


class TestPrecedence:
    def test_specific_refusal_beats_general_grant(self) -> None:
        for refusal_day, grant_day in ((1, 2), (2, 1)):
            events = [
                ev(GIVEN, day=grant_day, direction="both", categories="care,health"),
                ev(REFUSED, day=refusal_day, direction="outgoing", categories="health"),
            ]
            assert not decide(events, category="health").allowed
            assert decide(events, category="care").allowed  # outside the refusal
            assert decide(events, sender=B, recipient=A, category="health").allowed

    def test_specific_grant_beats_general_refusal(self) -> None:
        for refusal_day, grant_day in ((1, 2), (2, 1)):
            events = [
                ev(REFUSED, day=refusal_day, direction="both", categories="care,health,safety"),
                ev(GIVEN, day=grant_day, direction="outgoing", categories="care"),
            ]
            decision = decide(events, category="care")
            assert decision.allowed
            assert decision.consent_reference == (events[1].id,)
            assert not decide(events, category="health").allowed
            assert not decide(events, sender=B, recipient=A, category="care").allowed

    def test_exact_direction_is_more_specific_than_both(self) -> None:
        events = [ev(GIVEN, day=2, direction="both"), ev(REFUSED, day=1, direction="outgoing")]
        assert not decide(events).allowed
        assert decide(events, sender=B, recipient=A).allowed

    def test_refusal_beats_grant_at_equal_specificity(self) -> None:
        events = [ev(GIVEN, day=1), ev(REFUSED, day=2)]
        decision = decide(events)
        assert not decision.allowed
        assert decision.refused_by == (YOUTH,)

    def test_refusal_beats_grant_recorded_at_the_same_instant(self) -> None:
        for order in ((GIVEN, REFUSED), (REFUSED, GIVEN)):
            events = [ev(order[0], day=1), ev(order[1], day=1)]
            assert not decide(events).allowed

    def test_incomparable_scopes_latest_wins(self) -> None:
        # neither scope contains the other: equal specificity, so the latest decides
        grant = ev(GIVEN, day=2, direction="outgoing", categories="care,health")
        refusal = ev(REFUSED, day=1, direction="both", categories="health")
        assert decide([grant, refusal], category="health").allowed
        later_refusal = ev(REFUSED, day=3, direction="both", categories="health")
        assert not decide([grant, refusal, later_refusal], category="health").allowed

    def test_regrant_after_withdrawal(self) -> None:
        events = [ev(GIVEN, day=1), ev(WITHDRAWN, day=2)]
        assert not decide(events).allowed
        regrant = ev(GIVEN, day=3)
        decision = decide([*events, regrant])
        assert decision.allowed
        assert decision.consent_reference == (regrant.id,)

    def test_regrant_after_refusal(self) -> None:
        events = [ev(REFUSED, day=1), ev(GIVEN, day=2)]
        assert decide(events).allowed

    def test_general_withdrawal_retracts_earlier_specific_grant(self) -> None:
        events = [
            ev(GIVEN, day=1, direction="outgoing", categories="health"),
            ev(WITHDRAWN, day=2, direction="both", categories="care,health,safety"),
        ]
        decision = decide(events, category="health")
        assert not decision.allowed
        assert decision.refused_by == (YOUTH,)

    def test_withdrawal_retracts_specific_grant_recorded_at_the_same_instant(self) -> None:
        events = [
            ev(GIVEN, day=1, direction="outgoing", categories="health"),
            ev(WITHDRAWN, day=1, direction="both", categories="care,health"),
        ]
        assert not decide(events, category="health").allowed

    def test_specific_grant_after_general_withdrawal_is_an_exception(self) -> None:
        events = [
            ev(WITHDRAWN, day=1, direction="both", categories="care,health"),
            ev(GIVEN, day=2, direction="outgoing", categories="health"),
        ]
        assert decide(events, category="health").allowed
        assert not decide(events, category="care").allowed

    def test_general_refusal_does_not_retract_earlier_specific_grant(self) -> None:
        events = [
            ev(GIVEN, day=1, direction="outgoing", categories="health"),
            ev(REFUSED, day=2, direction="both", categories="care,health"),
        ]
        assert decide(events, category="health").allowed

    def test_roles_are_folded_separately(self) -> None:
        events = [
            ev(GIVEN, YOUTH, band=B12, day=1),
            ev(REFUSED, PARENT, band=B12, day=2),
            ev(GIVEN, GUARDIAN, band=B12, day=3),
        ]
        decision = decide(events)
        assert not decision.allowed
        assert decision.refused_by == (PARENT,)

    def test_purpose_is_never_mixed(self) -> None:
        events = [ev(GIVEN, purpose=Purpose.EDUCATION_SUPPORT)]
        assert not decide(events).allowed
        assert decide(events, purpose=Purpose.EDUCATION_SUPPORT).allowed


class TestTime:
    def test_expiry_ends_a_grant(self) -> None:
        events = [ev(GIVEN, day=0, valid_until=at(5))]
        assert decide(events, day=4.9).allowed
        expired = decide(events, day=5)
        assert not expired.allowed
        assert expired.missing == (Party.YOUTH,)

    def test_postdated_grant(self) -> None:
        events = [ev(GIVEN, day=0, valid_from=at(3))]
        assert not decide(events, day=2).allowed
        assert decide(events, day=3).allowed

    def test_withdrawal_cancels_postdated_grant(self) -> None:
        events = [ev(GIVEN, day=0, valid_from=at(3)), ev(WITHDRAWN, day=1)]
        assert not decide(events, day=4).allowed

    def test_expired_specific_grant_uncovers_general_refusal(self) -> None:
        events = [
            ev(REFUSED, day=0, direction="both"),
            ev(GIVEN, day=1, direction="outgoing", valid_until=at(5)),
        ]
        assert decide(events, day=4).allowed
        assert not decide(events, day=6).allowed

    def test_events_recorded_later_are_ignored(self) -> None:
        events = [ev(GIVEN, day=1), ev(REFUSED, day=5)]
        assert decide(events, day=4).allowed
        assert not decide(events, day=5).allowed
        assert not decide(events, day=0.5).allowed


class TestDirection:
    """Direction is seen from the recording organisation."""

    def test_outgoing(self) -> None:
        events = [ev(GIVEN, org=A, counterpart=B, direction="outgoing")]
        assert decide(events, sender=A, recipient=B).allowed
        assert not decide(events, sender=B, recipient=A).allowed

    def test_incoming(self) -> None:
        events = [ev(GIVEN, org=A, counterpart=B, direction="incoming")]
        assert not decide(events, sender=A, recipient=B).allowed
        assert decide(events, sender=B, recipient=A).allowed

    def test_both(self) -> None:
        events = [ev(GIVEN, org=A, counterpart=B, direction="both")]
        assert decide(events, sender=A, recipient=B).allowed
        assert decide(events, sender=B, recipient=A).allowed

    def test_other_organisations_are_not_covered(self) -> None:
        events = [ev(GIVEN, org=A, counterpart=B, direction="both")]
        assert not decide(events, sender=A, recipient=C).allowed
        assert not decide(events, sender=C, recipient=B).allowed

    def test_counterpart_recording_incoming_equals_recorder_outgoing(self) -> None:
        # B records "A may disclose to us": the same flow as A recording outgoing to B.
        by_b = [ev(REFUSED, org=B, counterpart=A, direction="incoming", day=2), ev(GIVEN, day=1)]
        assert not decide(by_b, sender=A, recipient=B).allowed


class TestDecision:
    def test_require_returns_reference(self) -> None:
        grant = ev(GIVEN)
        assert decide([grant]).require() == (grant.id,)

    def test_require_raises_with_parties(self) -> None:
        events = [ev(GIVEN, PARENT, band=B12), ev(REFUSED, GUARDIAN, band=B12)]
        with pytest.raises(ConsentRequired) as info:
            decide(events).require()
        assert info.value.missing == ("youth",)
        assert info.value.refused_by == ("guardian",)
        assert "12-15" in info.value.explanation

    def test_explanation_has_no_personal_data(self) -> None:
        decision = decide([ev(REFUSED, PARENT, band=B12)])
        assert "youth" in decision.explanation and "parent" in decision.explanation
        assert not any(ch.isdigit() for ch in decision.explanation.replace("12-15", ""))

    def test_rejects_same_sender_and_recipient(self) -> None:
        with pytest.raises(InvalidConsent):
            decide([], sender=A, recipient=A)

    def test_rejects_naive_time(self) -> None:
        with pytest.raises(InvalidConsent):
            fold(
                [],
                sender=A,
                recipient=B,
                purpose=CARE,
                category=DataCategory.CARE,
                at=datetime(2025, 1, 1),
            )


class TestState:
    def test_summarises_every_mentioned_cell(self) -> None:
        events = [
            ev(GIVEN, direction="both", categories="care,health"),
            ev(REFUSED, day=1, direction="incoming", categories="health"),
        ]
        summary = state(events, at(2))
        cells = {(s.sender, s.recipient, s.category.value): s.decision.allowed for s in summary}
        assert cells == {
            (A, B, "care"): True,
            (A, B, "health"): True,
            (B, A, "care"): True,
            (B, A, "health"): False,
        }
        assert [(s.sender, s.recipient, s.category) for s in summary] == sorted(
            (s.sender, s.recipient, s.category) for s in summary
        )

    def test_ignores_events_recorded_later(self) -> None:
        assert state([ev(GIVEN, day=3)], at(2)) == ()


class TestEventValidation:
    def base(self, **changes: object) -> dict[str, object]:
        fields: dict[str, object] = {
            "id": "ev-x",
            "recorded_at": at(0),
            "organisation_id": A,
            "counterpart_organisation_id": B,
            "kind": GIVEN,
            "grantor": YOUTH,
            "purpose": CARE,
            "data_categories": frozenset({DataCategory.CARE}),
            "direction": Direction.BOTH,
            "age_band": B16,
            "method": Method.ORAL,
        }
        return {**fields, **changes}

    def test_valid(self) -> None:
        ConsentEvent(**self.base(evidence_hash="ab" * 32))  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "changes",
        [
            {"id": ""},
            {"counterpart_organisation_id": A},
            {"recorded_at": datetime(2025, 1, 1)},
            {"kind": "given"},
            {"purpose": "care-coordination"},
            {"data_categories": frozenset()},
            {"data_categories": {DataCategory.CARE}},
            {"data_categories": frozenset({"care"})},
            {"valid_until": at(0)},
            {"valid_from": at(2), "valid_until": at(1)},
            {"kind": REFUSED, "valid_until": at(3)},
            {"kind": WITHDRAWN, "valid_from": at(0)},
            {"evidence_hash": "AB" * 32},
            {"evidence_hash": "ab" * 31},
        ],
    )
    def test_invalid(self, changes: dict[str, object]) -> None:
        with pytest.raises(InvalidConsent):
            ConsentEvent(**self.base(**changes))  # type: ignore[arg-type]

    def test_other_timezones_compare_correctly(self) -> None:
        cet = timezone(timedelta(hours=1))
        grant = ConsentEvent(**self.base(recorded_at=at(0).astimezone(cet)))  # type: ignore[arg-type]
        assert fold(
            [grant],
            sender=A,
            recipient=B,
            purpose=CARE,
            category=DataCategory.CARE,
            at=at(0).astimezone(UTC),
        ).allowed


JUSTIFICATION = (
    "The school reported visible injuries on two consecutive days this week. "
    "The youth said she is afraid to go home after school. "
    "Waiting for consent would leave her at risk tonight."
)


class TestLegalGround:
    def test_valid(self) -> None:
        claim = validate_legal_ground("meldrecht", "  " + JUSTIFICATION + "\n")
        assert claim.ground is LegalGround.MELDRECHT
        assert claim.justification == JUSTIFICATION

    @pytest.mark.parametrize(
        ("code", "text", "message"),
        [
            ("safety", JUSTIFICATION, "unknown legal ground"),
            ("meldrecht", "Too short. Really. Yes.", "at least 100"),
            ("meldrecht", "x" * 150, "sentences"),
            ("court-measure", JUSTIFICATION.replace(". ", ", and "), "sentences"),
            ("legal-duty", JUSTIFICATION + " BSN 111222333 was checked.", "BSN"),
            ("legal-duty", JUSTIFICATION + " More words here." * 300, "at most"),
        ],
    )
    def test_invalid(self, code: str, text: str, message: str) -> None:
        with pytest.raises(InvalidConsent, match=message):
            validate_legal_ground(code, text)
