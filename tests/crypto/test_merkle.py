"""RFC 6962 / RFC 9162 Merkle hashing, proofs and verification."""

from __future__ import annotations

import json
from collections.abc import Sequence
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crypto import (
    EMPTY_ROOT_HASH,
    CryptoError,
    InvalidProof,
    MerkleFrontier,
    MerkleRangeError,
    SubtreeHasher,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "rfc6962_merkle.json").read_text()
)
CT_LEAVES = [leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaf_inputs_hex"]]

MAX_SIZE = 300
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_SIZE)]


def _prefix_roots() -> list[bytes]:
    frontier = MerkleFrontier()
    roots = [frontier.root_hash()]
    for h in LEAVES:
        frontier.append(h)
        roots.append(frontier.root_hash())
    return roots


ROOTS = _prefix_roots()
HASHER = SubtreeHasher(read_leaf_hashes=lambda s, e: LEAVES[s:e], min_cached_level=3)


# A direct transcription of the recursive definitions of RFC 6962 §2.1, used as an
# independent reference for the iterative implementation.
def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return d[0]
    k = _k(n)
    return sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, MAX_SIZE))
    return n, draw(st.integers(0, n - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(2, MAX_SIZE))
    return draw(st.integers(1, n - 1)), n


class TestHashes:
    def test_leaf_hash_prefixes_zero_byte(self) -> None:
        assert leaf_hash(b"") == sha256(b"\x00").digest()
        assert leaf_hash(b"abc") == sha256(b"\x00abc").digest()

    def test_node_hash_prefixes_one_byte(self) -> None:
        left, right = b"\x11" * 32, b"\x22" * 32
        assert node_hash(left, right) == sha256(b"\x01" + left + right).digest()
        assert node_hash(left, right) != node_hash(right, left)

    def test_leaf_and_node_are_domain_separated(self) -> None:
        left, right = b"\x11" * 32, b"\x22" * 32
        assert leaf_hash(left + right) != node_hash(left, right)

    def test_ct_leaf_hashes(self) -> None:
        assert [h.hex() for h in CT_LEAVES] == VECTORS["leaf_hashes"]


class TestRootHash:
    def test_empty_tree_is_hash_of_empty_string(self) -> None:
        assert root_hash([]) == EMPTY_ROOT_HASH
        assert EMPTY_ROOT_HASH.hex() == (
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )

    def test_ct_roots_for_every_prefix(self) -> None:
        for size, expected in VECTORS["roots"].items():
            assert root_hash(CT_LEAVES[: int(size)]).hex() == expected

    def test_well_known_roots(self) -> None:
        assert root_hash(CT_LEAVES[:1]).hex() == (
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        )
        assert root_hash(CT_LEAVES).hex() == (
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        )

    def test_matches_recursive_definition(self) -> None:
        for n in range(0, 70):
            assert root_hash(LEAVES[:n]) == ref_mth(LEAVES[:n])

    def test_rejects_leaf_hash_of_wrong_size(self) -> None:
        with pytest.raises(MerkleRangeError):
            root_hash([b"\x00" * 31])


class TestInclusionProof:
    @pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: str(v)[:30])
    def test_ct_vectors(self, vector: dict[str, Any]) -> None:
        proof = inclusion_proof(CT_LEAVES, vector["index"], vector["tree_size"])
        assert [p.hex() for p in proof] == vector["proof"]
        verify_inclusion(
            leaf_hash=CT_LEAVES[vector["index"]],
            index=vector["index"],
            tree_size=vector["tree_size"],
            proof=proof,
            root=bytes.fromhex(VECTORS["roots"][str(vector["tree_size"])]),
        )

    def test_rfc_example_node_hashes(self) -> None:
        example = VECTORS["rfc_example"]
        for name, node in example["nodes"].items():
            start, end = node["range"]
            assert ref_mth(CT_LEAVES[start:end]).hex() == node["hash"], name
        assert root_hash(CT_LEAVES[:7]).hex() == example["root"] == VECTORS["roots"]["7"]

    @pytest.mark.parametrize(
        "case", VECTORS["rfc_example"]["inclusion"], ids=lambda c: str(c["leaf"])
    )
    def test_rfc_example_audit_path_shapes(self, case: dict[str, Any]) -> None:
        nodes = VECTORS["rfc_example"]["nodes"]
        proof = inclusion_proof(CT_LEAVES, case["index"], 7)
        assert [p.hex() for p in proof] == [nodes[name]["hash"] for name in case["path"]]

    def test_matches_recursive_definition(self) -> None:
        for n in range(1, 40):
            for i in range(n):
                assert inclusion_proof(LEAVES, i, n) == ref_path(i, LEAVES[:n])

    def test_every_proof_up_to_max_size_verifies(self) -> None:
        for n in range(1, MAX_SIZE + 1):
            for i in range(n):
                verify_inclusion(
                    leaf_hash=LEAVES[i],
                    index=i,
                    tree_size=n,
                    proof=HASHER.inclusion_proof(i, n),
                    root=ROOTS[n],
                )

    @settings(max_examples=150, deadline=None)
    @given(size_and_index())
    def test_one_shot_equals_hasher(self, case: tuple[int, int]) -> None:
        n, i = case
        assert inclusion_proof(LEAVES, i, n) == HASHER.inclusion_proof(i, n)

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (-1, 3), (0, MAX_SIZE + 1)])
    def test_rejects_index_outside_tree(self, index: int, size: int) -> None:
        with pytest.raises(MerkleRangeError):
            inclusion_proof(LEAVES, index, size)


class TestVerifyInclusion:
    @settings(max_examples=300, deadline=None)
    @given(size_and_index(), st.data())
    def test_any_flipped_bit_is_rejected(self, case: tuple[int, int], data: st.DataObject) -> None:
        n, i = case
        proof = HASHER.inclusion_proof(i, n)
        target = data.draw(st.integers(-2, len(proof) - 1), label="target")
        bit = data.draw(st.integers(0, 255), label="bit")
        leaf, root = LEAVES[i], ROOTS[n]
        if target == -2:
            leaf = flip(leaf, bit)
        elif target == -1:
            root = flip(root, bit)
        else:
            proof[target] = flip(proof[target], bit)
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf_hash=leaf, index=i, tree_size=n, proof=proof, root=root)

    @settings(max_examples=200, deadline=None)
    @given(size_and_index(), st.integers(0, MAX_SIZE))
    def test_other_index_is_rejected(self, case: tuple[int, int], other: int) -> None:
        n, i = case
        assume(other != i)
        proof = HASHER.inclusion_proof(i, n)
        with pytest.raises(InvalidProof):
            verify_inclusion(
                leaf_hash=LEAVES[i], index=other, tree_size=n, proof=proof, root=ROOTS[n]
            )

    @settings(max_examples=200, deadline=None)
    @given(size_and_index(), st.integers(1, MAX_SIZE))
    def test_other_tree_size_is_rejected(self, case: tuple[int, int], other: int) -> None:
        """The proof is checked against the genuine root of the claimed size."""
        n, i = case
        assume(other != n and i < other)
        proof = HASHER.inclusion_proof(i, n)
        with pytest.raises(InvalidProof):
            verify_inclusion(
                leaf_hash=LEAVES[i], index=i, tree_size=other, proof=proof, root=ROOTS[other]
            )

    def test_size_is_bound_only_together_with_its_root(self) -> None:
        """RFC 6962 proofs do not bind the tree size on their own.

        The path of leaf 0 in a tree of 3 is (h1, h2); checked as a tree of 4 against the
        root of the tree of 3 it computes the same value. A verifier must therefore take the
        size and the root from the same signed checkpoint.
        """
        proof = inclusion_proof(LEAVES, 0, 3)
        verify_inclusion(leaf_hash=LEAVES[0], index=0, tree_size=4, proof=proof, root=ROOTS[3])
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf_hash=LEAVES[0], index=0, tree_size=4, proof=proof, root=ROOTS[4])

    @pytest.mark.parametrize("size", [2, 3, 8, 77])
    def test_root_passed_as_leaf_is_rejected(self, size: int) -> None:
        with pytest.raises(InvalidProof):
            verify_inclusion(
                leaf_hash=ROOTS[size], index=0, tree_size=size, proof=[], root=ROOTS[size]
            )

    def test_proof_too_short_for_claimed_size_is_rejected(self) -> None:
        """A proof and root of a tree of 4 must not pass as a tree of 8 (path too short)."""
        proof = inclusion_proof(LEAVES, 0, 4)
        with pytest.raises(InvalidProof):
            verify_inclusion(leaf_hash=LEAVES[0], index=0, tree_size=8, proof=proof, root=ROOTS[4])

    def test_proof_too_long_for_claimed_size_is_rejected(self) -> None:
        """Leaf 1 of a tree of 2 must not pass as the only leaf of a tree of 1."""
        with pytest.raises(InvalidProof):
            verify_inclusion(
                leaf_hash=LEAVES[1], index=0, tree_size=1, proof=[LEAVES[0]], root=ROOTS[2]
            )

    @settings(max_examples=100, deadline=None)
    @given(size_and_index())
    def test_truncated_or_extended_proof_is_rejected(self, case: tuple[int, int]) -> None:
        n, i = case
        proof = HASHER.inclusion_proof(i, n)
        with pytest.raises(InvalidProof):
            verify_inclusion(
                leaf_hash=LEAVES[i], index=i, tree_size=n, proof=[*proof, ROOTS[n]], root=ROOTS[n]
            )
        if proof:
            with pytest.raises(InvalidProof):
                verify_inclusion(
                    leaf_hash=LEAVES[i], index=i, tree_size=n, proof=proof[:-1], root=ROOTS[n]
                )

    @pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 5)])
    def test_index_outside_tree_is_rejected(self, index: int, size: int) -> None:
        with pytest.raises(InvalidProof):
            verify_inclusion(
                leaf_hash=LEAVES[0], index=index, tree_size=size, proof=[], root=ROOTS[1]
            )

    def test_hash_of_wrong_length_is_rejected(self) -> None:
        proof = inclusion_proof(LEAVES, 0, 2)
        with pytest.raises(InvalidProof):
            verify_inclusion(
                leaf_hash=LEAVES[0][:31], index=0, tree_size=2, proof=proof, root=ROOTS[2]
            )
        with pytest.raises(InvalidProof):
            verify_inclusion(
                leaf_hash=LEAVES[0], index=0, tree_size=2, proof=[proof[0] + b"\x00"], root=ROOTS[2]
            )

    def test_single_leaf_tree_root_is_the_leaf(self) -> None:
        verify_inclusion(leaf_hash=LEAVES[0], index=0, tree_size=1, proof=[], root=LEAVES[0])

    def test_is_an_error_not_a_bool(self) -> None:
        assert issubclass(InvalidProof, CryptoError)
        result = verify_inclusion(  # type: ignore[func-returns-value]
            leaf_hash=LEAVES[0], index=0, tree_size=1, proof=[], root=LEAVES[0]
        )
        assert result is None


class TestConsistencyProof:
    @pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: str(v)[:30])
    def test_ct_vectors(self, vector: dict[str, Any]) -> None:
        first, second = vector["first"], vector["second"]
        proof = consistency_proof(CT_LEAVES, first, second)
        assert [p.hex() for p in proof] == vector["proof"]
        verify_consistency(
            first=first,
            second=second,
            first_root=bytes.fromhex(VECTORS["roots"][str(first)]),
            second_root=bytes.fromhex(VECTORS["roots"][str(second)]),
            proof=proof,
        )

    @pytest.mark.parametrize(
        "case", VECTORS["rfc_example"]["consistency"], ids=lambda c: f"{c['first']}-7"
    )
    def test_rfc_example_proof_shapes(self, case: dict[str, Any]) -> None:
        nodes = VECTORS["rfc_example"]["nodes"]
        proof = consistency_proof(CT_LEAVES, case["first"], 7)
        assert [p.hex() for p in proof] == [nodes[name]["hash"] for name in case["path"]]

    def test_matches_recursive_definition(self) -> None:
        for n in range(1, 40):
            for m in range(1, n):
                assert consistency_proof(LEAVES, m, n) == ref_subproof(m, LEAVES[:n], True)

    def test_every_proof_up_to_max_size_verifies(self) -> None:
        for n in range(1, MAX_SIZE + 1):
            for m in range(1, n + 1):
                verify_consistency(
                    first=m,
                    second=n,
                    first_root=ROOTS[m],
                    second_root=ROOTS[n],
                    proof=HASHER.consistency_proof(m, n),
                )

    @settings(max_examples=150, deadline=None)
    @given(two_sizes())
    def test_one_shot_equals_hasher(self, sizes: tuple[int, int]) -> None:
        m, n = sizes
        assert consistency_proof(LEAVES, m, n) == HASHER.consistency_proof(m, n)

    def test_trivial_proofs_are_empty(self) -> None:
        assert consistency_proof(LEAVES, 0, 10) == []
        assert consistency_proof(LEAVES, 10, 10) == []

    @pytest.mark.parametrize(("first", "second"), [(5, 4), (-1, 4), (1, MAX_SIZE + 1)])
    def test_rejects_bad_sizes(self, first: int, second: int) -> None:
        with pytest.raises(MerkleRangeError):
            consistency_proof(LEAVES, first, second)


class TestVerifyConsistency:
    @settings(max_examples=300, deadline=None)
    @given(two_sizes(), st.data())
    def test_any_flipped_bit_is_rejected(self, sizes: tuple[int, int], data: st.DataObject) -> None:
        m, n = sizes
        proof = HASHER.consistency_proof(m, n)
        target = data.draw(st.integers(-2, len(proof) - 1), label="target")
        bit = data.draw(st.integers(0, 255), label="bit")
        first_root, second_root = ROOTS[m], ROOTS[n]
        if target == -2:
            first_root = flip(first_root, bit)
        elif target == -1:
            second_root = flip(second_root, bit)
        else:
            proof[target] = flip(proof[target], bit)
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=m, second=n, first_root=first_root, second_root=second_root, proof=proof
            )

    @settings(max_examples=300, deadline=None)
    @given(two_sizes(), st.integers(0, MAX_SIZE), st.integers(1, MAX_SIZE))
    def test_other_sizes_are_rejected(
        self, sizes: tuple[int, int], first: int, second: int
    ) -> None:
        """The proof is checked against the genuine roots of the claimed sizes."""
        m, n = sizes
        assume((first, second) != (m, n) and first <= second)
        proof = HASHER.consistency_proof(m, n)
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=first,
                second=second,
                first_root=ROOTS[first],
                second_root=ROOTS[second],
                proof=proof,
            )

    @settings(max_examples=100, deadline=None)
    @given(two_sizes())
    def test_truncated_or_extended_proof_is_rejected(self, sizes: tuple[int, int]) -> None:
        m, n = sizes
        proof = HASHER.consistency_proof(m, n)
        for bad in ([*proof, ROOTS[n]], proof[:-1], [ROOTS[m], *proof]):
            with pytest.raises(InvalidProof):
                verify_consistency(
                    first=m, second=n, first_root=ROOTS[m], second_root=ROOTS[n], proof=bad
                )

    def test_proof_too_short_for_claimed_size_is_rejected(self) -> None:
        """A proof and roots for 2 -> 4 must not pass as 2 -> 8 (path too short)."""
        proof = consistency_proof(LEAVES, 2, 4)
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=2, second=8, first_root=ROOTS[2], second_root=ROOTS[4], proof=proof
            )

    def test_equal_sizes_need_equal_roots_and_empty_proof(self) -> None:
        verify_consistency(first=5, second=5, first_root=ROOTS[5], second_root=ROOTS[5], proof=[])
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=5, second=5, first_root=ROOTS[5], second_root=ROOTS[6], proof=[]
            )
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=5, second=5, first_root=ROOTS[5], second_root=ROOTS[5], proof=[ROOTS[5]]
            )

    def test_empty_tree_is_extended_by_every_tree(self) -> None:
        verify_consistency(
            first=0, second=9, first_root=EMPTY_ROOT_HASH, second_root=ROOTS[9], proof=[]
        )
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=0, second=9, first_root=ROOTS[1], second_root=ROOTS[9], proof=[]
            )
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=0,
                second=9,
                first_root=EMPTY_ROOT_HASH,
                second_root=ROOTS[9],
                proof=[ROOTS[1]],
            )

    def test_shrinking_tree_is_rejected(self) -> None:
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=6, second=5, first_root=ROOTS[6], second_root=ROOTS[5], proof=[]
            )

    def test_empty_proof_for_growing_tree_is_rejected(self) -> None:
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=4, second=8, first_root=ROOTS[4], second_root=ROOTS[8], proof=[]
            )

    def test_rewritten_history_is_rejected(self) -> None:
        forged = list(LEAVES[:20])
        forged[3] = leaf_hash(b"rewritten")
        forged_root = root_hash(forged)
        proof = consistency_proof(forged, 10, 20)
        with pytest.raises(InvalidProof):
            verify_consistency(
                first=10, second=20, first_root=ROOTS[10], second_root=forged_root, proof=proof
            )


class TestSubtreeHasher:
    def test_roots_match_one_shot(self) -> None:
        for n in range(0, MAX_SIZE + 1):
            assert HASHER.root_hash(n) == ROOTS[n]

    def test_unaligned_subtree_hash_matches_definition(self) -> None:
        for start in range(0, 40):
            for end in range(start + 1, 45):
                assert HASHER.subtree_hash(start, end) == ref_mth(LEAVES[start:end])

    def test_cache_survives_tree_growth(self) -> None:
        store: list[bytes] = []
        cache: dict[tuple[int, int], bytes] = {}
        hasher = SubtreeHasher(
            read_leaf_hashes=lambda s, e: store[s:e], cache=cache, min_cached_level=1
        )
        for n, h in enumerate(LEAVES[:130], start=1):
            store.append(h)
            assert hasher.root_hash(n) == ROOTS[n]
        assert cache
        for (level, index), value in cache.items():
            start = index << level
            assert value == ref_mth(LEAVES[start : start + (1 << level)])

    def test_warm_proofs_read_few_leaves(self) -> None:
        leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(1 << 15)]
        reads: list[int] = []

        def read(start: int, end: int) -> Sequence[bytes]:
            reads.append(end - start)
            return leaves[start:end]

        hasher = SubtreeHasher(read_leaf_hashes=read, min_cached_level=6)
        n = len(leaves) - 3
        assert hasher.root_hash(n) == root_hash(leaves[:n])
        assert sum(reads) <= len(leaves)
        reads.clear()
        proof = hasher.inclusion_proof(12345, n)
        assert proof == inclusion_proof(leaves, 12345, n)
        assert sum(reads) <= 6 * 64 + 3
        reads.clear()
        hasher.consistency_proof(20000, n)
        assert sum(reads) <= 2 * 6 * 64 + 3

    def test_short_read_is_an_error(self) -> None:
        hasher = SubtreeHasher(read_leaf_hashes=lambda s, e: LEAVES[s : e - 1])
        with pytest.raises(MerkleRangeError):
            hasher.root_hash(10)

    def test_wrong_size_hash_from_reader_is_an_error(self) -> None:
        hasher = SubtreeHasher(read_leaf_hashes=lambda s, e: [b"x"] * (e - s))
        with pytest.raises(MerkleRangeError):
            hasher.root_hash(3)

    def test_rejects_negative_cache_level(self) -> None:
        with pytest.raises(MerkleRangeError):
            SubtreeHasher(read_leaf_hashes=lambda s, e: LEAVES[s:e], min_cached_level=-1)

    def test_rejects_empty_or_negative_ranges(self) -> None:
        with pytest.raises(MerkleRangeError):
            HASHER.subtree_hash(3, 3)
        with pytest.raises(MerkleRangeError):
            HASHER.root_hash(-1)


class TestMerkleFrontier:
    def test_root_after_each_append_matches(self) -> None:
        frontier = MerkleFrontier()
        assert frontier.root_hash() == EMPTY_ROOT_HASH
        for n, h in enumerate(LEAVES, start=1):
            frontier.append(h)
            assert frontier.size == n
            assert len(frontier.hashes) == n.bit_count()
            assert frontier.root_hash() == ROOTS[n]

    def test_restores_from_stored_state(self) -> None:
        frontier = MerkleFrontier()
        for h in LEAVES[:77]:
            frontier.append(h)
        restored = MerkleFrontier(size=frontier.size, hashes=frontier.hashes)
        for h in LEAVES[77:100]:
            restored.append(h)
        assert restored.root_hash() == ROOTS[100]

    def test_rejects_inconsistent_state(self) -> None:
        with pytest.raises(MerkleRangeError):
            MerkleFrontier(size=3, hashes=[LEAVES[0]])
        with pytest.raises(MerkleRangeError):
            MerkleFrontier(size=1, hashes=[b"short"])
        with pytest.raises(MerkleRangeError):
            MerkleFrontier().append(b"short")
