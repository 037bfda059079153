"""The standalone verifier writes out Merkle hashing and the consent rules; check its copies
against the service's own implementations."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import event, given, settings
from hypothesis import strategies as st

from consent import DataCategory, Purpose, fold
from consent._service import event_record
from crypto import consistency_proof, leaf_hash, root_hash
from tests.consent.factory import A, B, at, ev
from tests.consent.test_ledger_audit import verifier

KINDS = ["given", "refused", "withdrawn"]
GRANTORS = ["youth", "parent", "guardian"]
DIRECTIONS = ["outgoing", "incoming", "both"]
CATEGORY_SETS = ["care", "health", "care,health", "care,health,safety"]
BANDS = ["under-12", "12-15", "16-plus"]


@st.composite
def events(draw: st.DrawFn) -> list:  # type: ignore[type-arg]
    out = []
    for n in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(KINDS))
        org = draw(st.sampled_from([A, B]))
        day = draw(st.integers(0, 6))
        until = None
        if kind == "given" and draw(st.booleans()):
            until = at(day + draw(st.integers(1, 4)))
        out.append(
            ev(
                kind,
                draw(st.sampled_from(GRANTORS)),
                day=day,
                band=draw(st.sampled_from(BANDS)),
                org=org,
                counterpart=B if org == A else A,
                direction=draw(st.sampled_from(DIRECTIONS)),
                categories=draw(st.sampled_from(CATEGORY_SETS)),
                valid_until=until,
                id=f"e{n}",
            )
        )
    return out


class TestVendoredFold:
    @settings(max_examples=300, deadline=None)
    @given(
        events(),
        st.integers(0, 12),
        st.sampled_from([(A, B), (B, A)]),
        st.sampled_from(["care", "health", "safety"]),
    )
    def test_same_decision_as_consent_fold(
        self,
        evs: list,
        half_days: int,
        flow: tuple[str, str],
        category: str,  # type: ignore[type-arg]
    ) -> None:
        moment = at(0) + timedelta(hours=12 * half_days)
        expected = fold(
            evs,
            sender=flow[0],
            recipient=flow[1],
            purpose=Purpose.CARE_COORDINATION,
            category=DataCategory(category),
            at=moment,
        )
        records = [verifier.prepare(event_record(e, match_id="m")) for e in evs]
        allowed, reference = verifier.fold(
            records, flow[0], flow[1], "care-coordination", category, moment
        )
        event(f"allowed={allowed}")
        assert allowed == expected.allowed
        if allowed:
            assert reference == list(expected.consent_reference)


class TestVendoredMerkle:
    @given(st.integers(0, 300), st.data())
    def test_root_and_consistency_agree_with_crypto(self, size: int, data: st.DataObject) -> None:
        leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
        assert verifier.root_hash(leaves) == root_hash(leaves)
        first = data.draw(st.integers(0, size))
        proof = consistency_proof(leaves, first, size)
        old = root_hash(leaves[:first])
        assert verifier.verify_consistency(first, size, old, root_hash(leaves), proof)
        if proof:
            bad = bytearray(proof[0])
            bad[0] ^= 1
            tampered = [bytes(bad), *proof[1:]]
            assert not verifier.verify_consistency(first, size, old, root_hash(leaves), tampered)
