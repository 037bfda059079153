"""The standalone verifier writes out Merkle hashing and the consent rules; check its Merkle
copy against :mod:`crypto` (its consent rules: tests/scripts/test_verify_ledger_rules.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crypto import consistency_proof, leaf_hash, root_hash
from tests.consent.test_ledger_audit import verifier


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
