"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Hashes (RFC 9162 §2.1.1, SHA-256)::

    MTH({})      = SHA-256()
    leaf hash    = SHA-256(0x00 || data)
    node hash    = SHA-256(0x01 || left || right)
    MTH(D[n])    = node(MTH(D[0:k]), MTH(D[k:n]))   k = largest power of two < n

Everything here works on *leaf hashes*, never on leaf data: the caller hashes each entry
once with :func:`leaf_hash` and stores the 32-byte result.

Three ways to use it, from simplest to most scalable:

* one-shot functions over an in-memory sequence — :func:`root_hash`,
  :func:`inclusion_proof`, :func:`consistency_proof` (each O(n) hashes);
* :class:`SubtreeHasher` over a callable ``read_leaf_hashes(start, end)`` that a database
  repository provides; it memoises the hashes of *perfect aligned subtrees* (``2**level``
  leaves starting at a multiple of ``2**level``), which never change once complete, so after
  the first proof every further root or proof costs O(log n) hashes plus at most a few small
  leaf reads. The memo is any ``MutableMapping[(level, index), bytes]`` and may be backed by
  a table;
* :class:`MerkleFrontier`, the O(log n) compact state of an append-only log: append leaf
  hashes one by one and read the current root without touching earlier leaves.

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) follows the algorithms
of RFC 9162 §2.1.3.2 and §2.1.4.2 and raises :class:`InvalidProof` instead of returning a
bool.

Example::

    from crypto import leaf_hash, root_hash, inclusion_proof, verify_inclusion

    leaves = [leaf_hash(entry) for entry in (b"a", b"b", b"c")]
    proof = inclusion_proof(leaves, 1, 3)
    verify_inclusion(leaf_hash=leaves[1], index=1, tree_size=3, proof=proof,
                     root=root_hash(leaves))
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from hashlib import sha256

from crypto._errors import CryptoError

HASH_SIZE = 32
"""Length in bytes of every leaf, node and root hash (SHA-256)."""

EMPTY_ROOT_HASH = sha256(b"").digest()
"""MTH of the empty tree: SHA-256 of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

LeafHashReader = Callable[[int, int], Sequence[bytes]]
"""``read_leaf_hashes(start, end)`` returns the leaf hashes of entries ``start .. end-1``.

It must return exactly ``end - start`` hashes, in index order, each 32 bytes. A database
implementation is one range query such as
``SELECT leaf_hash FROM ledger_entries WHERE idx >= :start AND idx < :end ORDER BY idx``.
"""


class InvalidProof(CryptoError):
    """A Merkle inclusion or consistency proof does not verify."""


class MerkleRangeError(CryptoError, ValueError):
    """An index or tree size is outside the tree a proof or root was asked for."""


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``."""
    return sha256(_NODE_PREFIX + left + right).digest()


def _split_point(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_aligned_perfect(start: int, end: int) -> bool:
    size = end - start
    return size > 0 and size & (size - 1) == 0 and start % size == 0


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH over all of ``leaf_hashes``: O(n) hashes, iterative, O(log n) extra memory.

    Leaves are folded into a stack of perfect subtree roots (the frontier) and the stack is
    merged right to left at the end, which is exactly the RFC 6962 recursive definition.
    """
    frontier = MerkleFrontier()
    for h in leaf_hashes:
        frontier.append(h)
    return frontier.root_hash()


def _inclusion_path(
    subtree: Callable[[int, int], bytes], index: int, tree_size: int
) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:tree_size]) with MTH of ranges supplied by ``subtree``."""
    if not 0 <= index < tree_size:
        raise MerkleRangeError("the leaf index must be smaller than the tree size")
    path: list[bytes] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:
        k = _split_point(hi - lo)
        if index < lo + k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo += k
    path.reverse()
    return path


def _consistency_path(subtree: Callable[[int, int], bytes], first: int, second: int) -> list[bytes]:
    """RFC 6962 PROOF(first, D[0:second]) = SUBPROOF(first, D[0:second], true)."""
    if not 0 <= first <= second:
        raise MerkleRangeError("need 0 <= first <= second")
    if first == 0 or first == second:
        return []
    collected: list[bytes] = []
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        k = _split_point(hi - lo)
        if m <= k:
            collected.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            collected.append(subtree(lo, lo + k))
            lo += k
            m -= k
            whole = False
    head = [] if whole else [subtree(lo, hi)]
    collected.reverse()
    return head + collected


def _check_sizes(leaf_hashes: Sequence[bytes], needed: int) -> None:
    if needed > len(leaf_hashes):
        raise MerkleRangeError("the tree size exceeds the number of leaf hashes given")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """Return the audit path of leaf ``index`` in the tree of the first ``tree_size`` leaves.

    One-shot: O(tree_size) hashes. For repeated proofs use :class:`SubtreeHasher`.
    """
    _check_sizes(leaf_hashes, tree_size)
    return _inclusion_path(lambda s, e: root_hash(leaf_hashes[s:e]), index, tree_size)


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """Return the consistency proof between the trees of the first ``first`` and ``second`` leaves.

    The proof is empty when ``first == second`` or ``first == 0``. One-shot: O(second)
    hashes. For repeated proofs use :class:`SubtreeHasher`.
    """
    _check_sizes(leaf_hashes, second)
    return _consistency_path(lambda s, e: root_hash(leaf_hashes[s:e]), first, second)


class SubtreeHasher:
    """Roots and proofs of a growing log whose leaf hashes live in storage.

    ``read_leaf_hashes(start, end)`` (see :data:`LeafHashReader`) is the only way this class
    reads leaves. The hash of every perfect aligned subtree of at least
    ``2**min_cached_level`` leaves is remembered in ``cache`` under the key
    ``(level, start >> level)``. Such a subtree is immutable once its last leaf exists, so
    the cache stays valid as the log grows and can be shared between tree sizes, processes
    (a table keyed by ``(level, index)``) and requests. Smaller subtrees are recomputed from
    one leaf read of at most ``2**min_cached_level`` hashes, which bounds the cache to about
    ``2 * n / 2**min_cached_level`` entries.

    Cost: the first root or proof over ``n`` leaves reads and hashes every leaf once
    (O(n)); afterwards a root, inclusion proof or consistency proof is O(log n) cache look-ups
    and hashes plus O(log n) small reads.
    """

    def __init__(
        self,
        *,
        read_leaf_hashes: LeafHashReader,
        cache: MutableMapping[tuple[int, int], bytes] | None = None,
        min_cached_level: int = 6,
    ) -> None:
        if min_cached_level < 0:
            raise MerkleRangeError("min_cached_level must be non-negative")
        self._read = read_leaf_hashes
        self._cache: MutableMapping[tuple[int, int], bytes] = {} if cache is None else cache
        self._min_level = min_cached_level

    def _read_exact(self, start: int, end: int) -> Sequence[bytes]:
        hashes = self._read(start, end)
        if len(hashes) != end - start:
            raise MerkleRangeError("the leaf hash reader returned the wrong number of hashes")
        for h in hashes:
            if len(h) != HASH_SIZE:
                raise MerkleRangeError("the leaf hash reader returned a hash of the wrong size")
        return hashes

    def _perfect(self, level: int, start: int) -> bytes:
        """MTH of the perfect subtree of ``2**level`` leaves starting at ``start``."""
        if level < self._min_level:
            return root_hash(self._read_exact(start, start + (1 << level)))
        key = (level, start >> level)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        # Read the whole block at the lowest cached level once, then fill upwards.
        if level == self._min_level:
            value = root_hash(self._read_exact(start, start + (1 << level)))
        else:
            half = 1 << (level - 1)
            value = node_hash(
                self._perfect(level - 1, start), self._perfect(level - 1, start + half)
            )
        self._cache[key] = value
        return value

    def subtree_hash(self, start: int, end: int) -> bytes:
        """Return MTH(D[start:end]) for ``0 <= start < end``; ``start`` need not be aligned.

        The range is split the RFC 6962 way (largest power of two first), so the ranges that
        proofs ask for decompose into O(log n) perfect aligned subtrees.
        """
        if not 0 <= start < end:
            raise MerkleRangeError("need 0 <= start < end")
        # Split D[start:end] into its RFC 6962 right spine: left parts are perfect whenever
        # start is aligned to them; otherwise recurse on the smaller range.
        lefts: list[bytes] = []
        lo = start
        while True:
            n = end - lo
            if _is_aligned_perfect(lo, end):
                acc = self._perfect(n.bit_length() - 1, lo)
                break
            k = _split_point(n)
            if _is_aligned_perfect(lo, lo + k):
                lefts.append(self._perfect(k.bit_length() - 1, lo))
            else:
                lefts.append(self.subtree_hash(lo, lo + k))
            lo += k
        for left in reversed(lefts):
            acc = node_hash(left, acc)
        return acc

    def root_hash(self, tree_size: int) -> bytes:
        """Return the root hash of the tree of the first ``tree_size`` leaves."""
        if tree_size < 0:
            raise MerkleRangeError("the tree size cannot be negative")
        if tree_size == 0:
            return EMPTY_ROOT_HASH
        return self.subtree_hash(0, tree_size)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        """Return the audit path of leaf ``index`` in the tree of size ``tree_size``."""
        return _inclusion_path(self.subtree_hash, index, tree_size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """Return the consistency proof from tree size ``first`` to ``second``."""
        return _consistency_path(self.subtree_hash, first, second)


class MerkleFrontier:
    """The compact state of an append-only Merkle log: one hash per set bit of its size.

    ``hashes`` are the roots of the perfect subtrees that make up the tree, largest (leftmost)
    first; there are ``size.bit_count()`` of them. Store ``(size, hashes)`` next to the log
    to compute the next root without reading old leaves.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, *, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        stack = list(hashes)
        if size < 0 or len(stack) != size.bit_count():
            raise MerkleRangeError("a frontier needs one hash per set bit of the tree size")
        if any(len(h) != HASH_SIZE for h in stack):
            raise MerkleRangeError("frontier hashes must be 32 bytes")
        self._size = size
        self._hashes = stack

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Perfect subtree roots, largest first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash: amortised O(1) hashes."""
        if len(leaf_hash) != HASH_SIZE:
            raise MerkleRangeError("leaf hashes must be 32 bytes")
        acc = leaf_hash
        size = self._size
        # Each trailing set bit of the old size is a perfect subtree to merge with.
        while size & 1:
            acc = node_hash(self._hashes.pop(), acc)
            size >>= 1
        self._hashes.append(acc)
        self._size += 1

    def root_hash(self) -> bytes:
        """Return the root hash of the tree of :attr:`size` leaves: O(log n) hashes."""
        if not self._hashes:
            return EMPTY_ROOT_HASH
        acc = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            acc = node_hash(h, acc)
        return acc


def _bad_hash(value: bytes) -> bool:
    return not isinstance(value, bytes) or len(value) != HASH_SIZE


def verify_inclusion(
    *, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of size ``tree_size`` with ``root``.

    RFC 9162 §2.1.3.2. Raises :class:`InvalidProof`; returns nothing on success.
    """
    if _bad_hash(leaf_hash) or _bad_hash(root) or any(_bad_hash(p) for p in proof):
        raise InvalidProof("hashes must be 32 bytes")
    if not 0 <= index < tree_size:
        raise InvalidProof("the leaf index is outside the tree")
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise InvalidProof("the proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("the proof is too short")
    if not hmac.compare_digest(r, root):
        raise InvalidProof("the computed root does not match")


def verify_consistency(
    *,
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree of size ``second`` with ``second_root`` extends the one of ``first``.

    RFC 9162 §2.1.4.2. ``first == second`` needs an empty proof and equal roots;
    ``first == 0`` needs an empty proof and ``first_root`` equal to :data:`EMPTY_ROOT_HASH`
    (every tree extends the empty tree). Raises :class:`InvalidProof`.
    """
    if _bad_hash(first_root) or _bad_hash(second_root) or any(_bad_hash(p) for p in proof):
        raise InvalidProof("hashes must be 32 bytes")
    if not 0 <= first <= second:
        raise InvalidProof("need 0 <= first <= second")
    if first == second:
        if proof:
            raise InvalidProof("equal tree sizes need an empty proof")
        if not hmac.compare_digest(first_root, second_root):
            raise InvalidProof("equal tree sizes with different roots")
        return
    if first == 0:
        if proof:
            raise InvalidProof("a proof from the empty tree must be empty")
        if not hmac.compare_digest(first_root, EMPTY_ROOT_HASH):
            raise InvalidProof("the root of the empty tree is wrong")
        return
    if not proof:
        raise InvalidProof("the proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("the proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InvalidProof("the proof is too short")
    if not hmac.compare_digest(fr, first_root) or not hmac.compare_digest(sr, second_root):
        raise InvalidProof("the computed roots do not match")
