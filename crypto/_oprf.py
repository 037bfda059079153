"""RFC 9497 OPRF and VOPRF over ristretto255 with SHA-512 (``ristretto255-SHA512``).

The server holds an :class:`OprfKey`; a client blinds its inputs (:func:`blind`), the server
evaluates the blinded elements (:meth:`OprfKey.blind_evaluate`, with a batched DLEQ proof in
VOPRF mode) and the client verifies the proof and unblinds (:func:`finalize`). The server never
sees an input; the client cannot compute an output without the server.

Example::

    key = OprfKey.derive(seed=secrets.token_bytes(32), info=b"my key v1")
    blinded = blind([b"input"])
    evaluation = key.blind_evaluate([b.element for b in blinded])
    (output,) = finalize(blinded, evaluation, public_key=key.public_key)
    assert output == key.evaluate(b"input")

Randomness (the blinds, the proof's nonce) is injected only through private ``_``-prefixed
parameters, so the RFC's known-answer vectors can be reproduced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from crypto import _ristretto as group
from crypto._errors import CryptoError

IDENTIFIER = b"ristretto255-SHA512"
MAX_BATCH = 65535
OUTPUT_BYTES = 64
PROOF_BYTES = 2 * group.SCALAR_BYTES


class OprfMode(IntEnum):
    OPRF = 0x00
    VOPRF = 0x01


class OprfError(CryptoError):
    """Base class of the OPRF errors (bad element, bad proof, bad input)."""


class InvalidOprfProof(OprfError):
    """The server's proof does not verify against its public key: the outputs are not the
    server's PRF of the inputs (a wrong key, a tampered or substituted evaluation)."""


def _context(mode: OprfMode) -> bytes:
    return b"OPRFV1-" + bytes([mode]) + b"-" + IDENTIFIER


def _i2osp2(value: int) -> bytes:
    return value.to_bytes(2, "big")


def _prefixed(data: bytes) -> bytes:
    return _i2osp2(len(data)) + data


_ZERO_PAD = hashlib.sha512(bytes(128))
"""The hash state after the 128 zero bytes that every expand_message_xmd input starts with."""


def expand_message_xmd(message: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-512."""
    ell = -(-length // 64)
    if ell > 255 or length > 65535 or len(dst) > 255:
        raise OprfError("expand_message_xmd parameters out of range")
    dst_prime = dst + bytes([len(dst)])
    first = _ZERO_PAD.copy()
    first.update(message + _i2osp2(length) + b"\x00" + dst_prime)
    b0 = first.digest()
    block = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    uniform = block
    for i in range(2, ell + 1):
        mixed = bytes(x ^ y for x, y in zip(b0, block, strict=True))
        block = hashlib.sha512(mixed + bytes([i]) + dst_prime).digest()
        uniform += block
    return uniform[:length]


@dataclass(frozen=True)
class _Suite:
    mode: OprfMode
    group_dst: bytes = field(init=False)
    scalar_dst: bytes = field(init=False)
    seed_dst: bytes = field(init=False)
    derive_dst: bytes = field(init=False)

    def __post_init__(self) -> None:
        context = _context(self.mode)
        object.__setattr__(self, "group_dst", b"HashToGroup-" + context)
        object.__setattr__(self, "scalar_dst", b"HashToScalar-" + context)
        object.__setattr__(self, "seed_dst", b"Seed-" + context)
        object.__setattr__(self, "derive_dst", b"DeriveKeyPair" + context)

    def hash_to_group(self, message: bytes) -> bytes:
        if len(message) > MAX_BATCH:
            raise OprfError("an OPRF input is at most 65535 bytes")
        uniform = expand_message_xmd(message, self.group_dst, group.UNIFORM_BYTES)
        return group.element_from_uniform(uniform)

    def hash_to_scalar(self, message: bytes, dst: bytes | None = None) -> int:
        uniform = expand_message_xmd(message, self.scalar_dst if dst is None else dst, 64)
        return int.from_bytes(uniform, "little") % group.ORDER

    def _seed(self, public_key: bytes) -> bytes:
        return hashlib.sha512(_prefixed(public_key) + _prefixed(self.seed_dst)).digest()

    def _weights(self, public_key: bytes, c: Sequence[bytes], d: Sequence[bytes]) -> list[int]:
        seed = _prefixed(self._seed(public_key))
        return [
            self.hash_to_scalar(seed + _i2osp2(i) + _prefixed(ci) + _prefixed(di) + b"Composite")
            for i, (ci, di) in enumerate(zip(c, d, strict=True))
        ]

    def composite(self, weights: Sequence[int], elements: Sequence[bytes]) -> bytes:
        total = group.multiply(weights[0], elements[0])
        for weight, element in zip(weights[1:], elements[1:], strict=True):
            total = group.add(total, group.multiply(weight, element))
        return total

    def challenge(self, public_key: bytes, m: bytes, z: bytes, t2: bytes, t3: bytes) -> int:
        transcript = b"".join(_prefixed(e) for e in (public_key, m, z, t2, t3)) + b"Challenge"
        return self.hash_to_scalar(transcript)


_SUITES = {mode: _Suite(mode) for mode in OprfMode}


@dataclass(frozen=True)
class Evaluation:
    """What the server returns for one batch: the evaluated elements, in order, and in VOPRF
    mode one proof (``c || s``, 64 bytes) covering all of them."""

    elements: tuple[bytes, ...]
    proof: bytes | None


@dataclass(frozen=True)
class BlindedInput:
    """The client's state for one input: the input and blind stay on the client, only
    ``element`` is sent to the server."""

    input: bytes = field(repr=False)
    blind: int = field(repr=False)
    element: bytes


@dataclass(frozen=True)
class OprfKey:
    """A server's private key and its public key (``pkS = skS * G``)."""

    mode: OprfMode
    _scalar: int = field(repr=False)
    public_key: bytes

    @classmethod
    def derive(cls, *, seed: bytes, info: bytes, mode: OprfMode = OprfMode.VOPRF) -> OprfKey:
        """DeriveKeyPair (RFC 9497 section 3.2.1): the same seed and info give the same key."""
        if len(seed) != 32:
            raise OprfError("the key seed is 32 bytes")
        if len(info) > MAX_BATCH:
            raise OprfError("the key info is too long")
        suite = _SUITES[mode]
        derive_input = seed + _prefixed(info)
        for counter in range(256):
            scalar = suite.hash_to_scalar(derive_input + bytes([counter]), suite.derive_dst)
            if scalar != 0:
                return cls(mode=mode, _scalar=scalar, public_key=group.multiply_base(scalar))
        raise OprfError("DeriveKeyPair found no key")  # pragma: no cover - probability 2^-2000

    @property
    def private_scalar_bytes(self) -> bytes:
        """``skS`` serialised (for known-answer tests and the cross-check only)."""
        return group.scalar_to_bytes(self._scalar)

    def blind_evaluate(self, blinded_elements: Sequence[bytes]) -> Evaluation:
        """BlindEvaluate for a batch; in VOPRF mode one proof covers the batch. Raises
        :class:`~crypto._ristretto.InvalidElement` for any element that is not a valid,
        non-identity ristretto255 element (nothing is evaluated then)."""
        return self._blind_evaluate(blinded_elements, _proof_random=None)

    def _blind_evaluate(
        self, blinded_elements: Sequence[bytes], *, _proof_random: int | None
    ) -> Evaluation:
        if not 1 <= len(blinded_elements) <= MAX_BATCH:
            raise OprfError("a batch holds 1 to 65535 elements")
        # Each element is decoded, and refused when invalid, by its multiplication.
        blinded = [group.check_encoding(e) for e in blinded_elements]
        evaluated = tuple(group.multiply(self._scalar, e) for e in blinded)
        if self.mode is OprfMode.OPRF:
            return Evaluation(elements=evaluated, proof=None)
        return Evaluation(elements=evaluated, proof=self._prove(blinded, evaluated, _proof_random))

    def _prove(self, c: Sequence[bytes], d: Sequence[bytes], random: int | None) -> bytes:
        """GenerateProof with ComputeCompositesFast (Z = k * M)."""
        suite = _SUITES[self.mode]
        m = suite.composite(suite._weights(self.public_key, c, d), c)
        z = group.multiply(self._scalar, m)
        r = group.random_scalar() if random is None else random
        t2 = group.multiply_base(r)
        t3 = group.multiply(r, m)
        challenge = suite.challenge(self.public_key, m, z, t2, t3)
        response = (r - challenge * self._scalar) % group.ORDER
        return group.scalar_to_bytes(challenge) + group.scalar_to_bytes(response)

    def evaluate(self, value: bytes) -> bytes:
        """Evaluate (RFC 9497 section 3.3.1/3.3.2): the PRF output of ``value`` computed
        directly, as :func:`finalize` computes it from a blinded evaluation."""
        suite = _SUITES[self.mode]
        element = suite.hash_to_group(value)
        return _finalize_hash(value, group.multiply(self._scalar, element))


def _finalize_hash(value: bytes, element: bytes) -> bytes:
    return hashlib.sha512(_prefixed(value) + _prefixed(element) + b"Finalize").digest()


def blind(inputs: Sequence[bytes], *, mode: OprfMode = OprfMode.VOPRF) -> list[BlindedInput]:
    """Blind each input with a fresh random scalar."""
    return _blind(inputs, mode=mode, _blinds=None)


def _blind(
    inputs: Sequence[bytes], *, mode: OprfMode, _blinds: Sequence[int] | None
) -> list[BlindedInput]:
    suite = _SUITES[mode]
    result = []
    for i, value in enumerate(inputs):
        scalar = group.random_scalar() if _blinds is None else _blinds[i]
        element = suite.hash_to_group(value)
        result.append(
            BlindedInput(input=value, blind=scalar, element=group.multiply(scalar, element))
        )
    return result


def verify_proof(
    *,
    mode: OprfMode,
    public_key: bytes,
    blinded: Sequence[bytes],
    evaluated: Sequence[bytes],
    proof: bytes,
) -> None:
    """VerifyProof (RFC 9497 section 2.2.2); raises :class:`InvalidOprfProof`."""
    if len(proof) != PROOF_BYTES or len(blinded) != len(evaluated) or not blinded:
        raise InvalidOprfProof("the proof does not verify")
    suite = _SUITES[mode]
    try:
        group.check_element(public_key)
        challenge = group.scalar_from_bytes(proof[:32])
        response = group.scalar_from_bytes(proof[32:])
        weights = suite._weights(public_key, blinded, evaluated)
        m = suite.composite(weights, blinded)
        z = suite.composite(weights, evaluated)
        t2 = group.add(group.multiply_base(response), group.multiply(challenge, public_key))
        t3 = group.add(group.multiply(response, m), group.multiply(challenge, z))
    except CryptoError as exc:
        raise InvalidOprfProof("the proof does not verify") from exc
    if suite.challenge(public_key, m, z, t2, t3) != challenge:
        raise InvalidOprfProof("the proof does not verify")


def finalize(
    blinded: Sequence[BlindedInput],
    evaluation: Evaluation,
    *,
    public_key: bytes | None,
    mode: OprfMode = OprfMode.VOPRF,
) -> list[bytes]:
    """Finalize each input: in VOPRF mode first verify the batch proof against
    ``public_key`` (raises :class:`InvalidOprfProof`), then unblind and hash. The outputs are
    64 bytes each, in the order of ``blinded``."""
    if len(evaluation.elements) != len(blinded):
        raise OprfError("the evaluation does not answer every blinded input")
    try:
        # each element is decoded, and refused when invalid, by the proof's composite and
        # by its unblinding below
        evaluated = [group.check_encoding(e) for e in evaluation.elements]
    except CryptoError as exc:
        raise InvalidOprfProof("the server returned an invalid element") from exc
    if mode is OprfMode.VOPRF:
        if public_key is None or evaluation.proof is None:
            raise InvalidOprfProof("VOPRF mode needs the server's public key and proof")
        verify_proof(
            mode=mode,
            public_key=public_key,
            blinded=[b.element for b in blinded],
            evaluated=evaluated,
            proof=evaluation.proof,
        )
    inverses = _invert_all([b.blind for b in blinded])
    try:
        return [
            _finalize_hash(b.input, group.multiply(inverse, element))
            for b, inverse, element in zip(blinded, inverses, evaluated, strict=True)
        ]
    except CryptoError as exc:
        raise InvalidOprfProof("the server returned an invalid element") from exc


def _invert_all(scalars: Sequence[int]) -> list[int]:
    """The inverses of non-zero scalars with one modular inversion (Montgomery's trick)."""
    prefix = [1]
    for scalar in scalars:
        prefix.append(prefix[-1] * scalar % group.ORDER)
    running = pow(prefix[-1], -1, group.ORDER)
    inverses = [0] * len(scalars)
    for i in range(len(scalars) - 1, -1, -1):
        inverses[i] = running * prefix[i] % group.ORDER
        running = running * scalars[i] % group.ORDER
    return inverses
