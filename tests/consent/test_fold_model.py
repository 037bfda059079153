"""``fold`` against an independently written plain model of the consent rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from consent import (
    AgeBand,
    ConsentEvent,
    DataCategory,
    Direction,
    EventKind,
    GrantorRole,
    Method,
    Purpose,
    fold,
)
from tests.consent.factory import T0

ORGS = ("org-a", "org-b", "org-c")
PURPOSES = (Purpose.CARE_COORDINATION, Purpose.SAFETY_ASSESSMENT)
CATEGORIES = (DataCategory.CARE, DataCategory.HEALTH, DataCategory.SAFETY)
BAND_RANK = {"under-12": 0, "12-15": 1, "16-plus": 2}
NEEDED = {  # groups of roles; one grant per group is needed
    "under-12": [{"parent", "guardian"}],
    "12-15": [{"youth"}, {"parent", "guardian"}],
    "16-plus": [{"youth"}],
}


def model_cells(e: ConsentEvent) -> set[tuple[str, str, str]]:
    me, other = e.organisation_id, e.counterpart_organisation_id
    pairs = {
        "outgoing": [(me, other)],
        "incoming": [(other, me)],
        "both": [(me, other), (other, me)],
    }[e.direction.value]
    return {(s, r, c.value) for s, r in pairs for c in e.data_categories}


def model_role(
    events: list[ConsentEvent], role: str, cell: tuple[str, str, str], purpose: str, t: datetime
) -> tuple[str, set[str]]:
    live = []
    for e in events:
        if e.grantor.value != role or e.purpose.value != purpose:
            continue
        if cell not in model_cells(e) or e.recorded_at > t:
            continue
        start = e.valid_from or e.recorded_at
        if start > t or (e.valid_until is not None and e.valid_until <= t):
            continue
        live.append(e)
    withdrawal_times = [e.recorded_at for e in live if e.kind.value == "withdrawn"]
    kept = [
        e
        for e in live
        if e.kind.value != "given" or all(w < e.recorded_at for w in withdrawal_times)
    ]
    minimal = [e for e in kept if not any(model_cells(f) < model_cells(e) for f in kept)]
    if not minimal:
        return "none", set()
    ordered = sorted(minimal, key=lambda e: (e.recorded_at, e.kind.value != "given"))
    winner = ordered[-1]
    if winner.kind.value != "given":
        return "refused", set()
    return "granted", {e.id for e in minimal if e.recorded_at == winner.recorded_at}


def model_decide(
    events: list[ConsentEvent], sender: str, recipient: str, purpose: str, cat: str, t: datetime
) -> tuple[bool, set[str], set[str], set[str]]:
    known = [e for e in events if e.recorded_at <= t]
    if not known:
        return False, {"youth", "parent-or-guardian"}, set(), set()
    newest = max(e.recorded_at for e in known)
    band = min(
        (e.age_band.value for e in known if e.recorded_at == newest), key=BAND_RANK.__getitem__
    )
    status = {
        role: model_role(events, role, (sender, recipient, cat), purpose, t)
        for role in ("youth", "parent", "guardian")
    }
    counted = set().union(*NEEDED[band])
    refused = {r for r in counted if status[r][0] == "refused"}
    missing = set()
    for group in NEEDED[band]:
        if all(status[r][0] == "none" for r in group):
            missing.add("youth" if group == {"youth"} else "parent-or-guardian")
    allowed = not refused and not missing
    reference: set[str] = set()
    if allowed:
        for r in counted:
            reference |= status[r][1]
    return allowed, missing, refused, reference


class ConsentModel(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.events: list[ConsentEvent] = []
        self.clock = T0
        self.counter = 0

    @rule(
        kind=st.sampled_from(list(EventKind)),
        grantor=st.sampled_from(list(GrantorRole)),
        orgs=st.permutations(ORGS).map(lambda p: p[:2]),
        direction=st.sampled_from(list(Direction)),
        categories=st.sets(st.sampled_from(CATEGORIES), min_size=1),
        purpose=st.sampled_from(PURPOSES),
        band=st.sampled_from(list(AgeBand)),
        advance_hours=st.sampled_from([0, 0, 1, 24]),
        starts_in=st.sampled_from([None, None, 2, 30]),
        lasts=st.sampled_from([None, None, 12, 72]),
    )
    def record(
        self,
        kind: EventKind,
        grantor: GrantorRole,
        orgs: tuple[str, str],
        direction: Direction,
        categories: set[DataCategory],
        purpose: Purpose,
        band: AgeBand,
        advance_hours: int,
        starts_in: int | None,
        lasts: int | None,
    ) -> None:
        self.clock += timedelta(hours=advance_hours)
        self.counter += 1
        valid_from = valid_until = None
        if kind is EventKind.GIVEN:
            if starts_in is not None:
                valid_from = self.clock + timedelta(hours=starts_in)
            if lasts is not None:
                valid_until = (valid_from or self.clock) + timedelta(hours=lasts)
        self.events.append(
            ConsentEvent(
                id=f"ev-{self.counter:03d}",
                recorded_at=self.clock,
                organisation_id=orgs[0],
                counterpart_organisation_id=orgs[1],
                kind=kind,
                grantor=grantor,
                purpose=purpose,
                data_categories=frozenset(categories),
                direction=direction,
                age_band=band,
                method=Method.DIGITAL,
                valid_from=valid_from,
                valid_until=valid_until,
            )
        )

    @invariant()
    def fold_matches_model(self) -> None:
        moments = [self.clock, self.clock + timedelta(hours=13), self.clock + timedelta(days=5)]
        if self.events:
            moments.append(self.events[len(self.events) // 2].recorded_at)
        for t in moments:
            for sender in ORGS:
                for recipient in ORGS:
                    if sender == recipient:
                        continue
                    for purpose in PURPOSES:
                        for cat in CATEGORIES:
                            got = fold(
                                self.events,
                                sender=sender,
                                recipient=recipient,
                                purpose=purpose,
                                category=cat,
                                at=t,
                            )
                            allowed, missing, refused, reference = model_decide(
                                self.events, sender, recipient, purpose.value, cat.value, t
                            )
                            assert got.allowed is allowed
                            assert {p.value for p in got.missing} == missing
                            assert {r.value for r in got.refused_by} == refused
                            assert set(got.consent_reference) == reference


ConsentModel.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestConsentModel = ConsentModel.TestCase
