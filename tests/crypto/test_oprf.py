"""RFC 9497 OPRF/VOPRF(ristretto255, SHA-512): the RFC's vectors, properties, tampering, and
a cross-check against the independent ``voprf`` package (a Rust implementation)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from voprf import ristretto as independent

from crypto import (
    BSN,
    CryptoError,
    Evaluation,
    InvalidElement,
    InvalidOprfProof,
    InvalidSubjectToken,
    OprfError,
    OprfKey,
    OprfMode,
    _oprf,
    _ristretto,
    format_subject_token,
    oprf_blind,
    oprf_finalize,
    oprf_input,
    parse_subject_token,
)

VECTORS = json.loads(
    (Path(__file__).parent.parent / "vectors" / "rfc9497_ristretto255_sha512.json").read_text()
)
SEED = bytes.fromhex(VECTORS["seed"])
INFO = bytes.fromhex(VECTORS["key_info"])
CASES = [(mode, vector) for mode in VECTORS["modes"] for vector in mode["vectors"]]


def _hex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


class TestRfc9497Vectors:
    @pytest.mark.parametrize("mode", VECTORS["modes"], ids=lambda m: m["name"])
    def test_derive_key_pair(self, mode: dict[str, object]) -> None:
        key = OprfKey.derive(seed=SEED, info=INFO, mode=OprfMode(int(str(mode["mode"]))))
        assert key.private_scalar_bytes.hex() == mode["skSm"]
        if "pkSm" in mode:
            assert key.public_key.hex() == mode["pkSm"]

    @pytest.mark.parametrize(("mode", "vector"), CASES, ids=lambda c: c.get("name", ""))
    def test_blind_evaluate_finalize(
        self, mode: dict[str, object], vector: dict[str, object]
    ) -> None:
        oprf_mode = OprfMode(int(str(mode["mode"])))
        key = OprfKey.derive(seed=SEED, info=INFO, mode=oprf_mode)
        inputs = _hex(vector["inputs"])  # type: ignore[arg-type]
        blinds = [_ristretto.scalar_from_bytes(b) for b in _hex(vector["blinds"])]  # type: ignore[arg-type]
        blinded = _oprf._blind(inputs, mode=oprf_mode, _blinds=blinds)
        assert [b.element.hex() for b in blinded] == vector["blinded_elements"]
        nonce = vector.get("proof_random_scalar")
        evaluation = key._blind_evaluate(
            [b.element for b in blinded],
            _proof_random=None
            if nonce is None
            else _ristretto.scalar_from_bytes(bytes.fromhex(str(nonce))),
        )
        assert [e.hex() for e in evaluation.elements] == vector["evaluation_elements"]
        if oprf_mode is OprfMode.VOPRF:
            assert evaluation.proof is not None
            assert evaluation.proof.hex() == vector["proof"]
        else:
            assert evaluation.proof is None
        outputs = oprf_finalize(blinded, evaluation, public_key=key.public_key, mode=oprf_mode)
        assert [o.hex() for o in outputs] == vector["outputs"]
        assert [key.evaluate(i).hex() for i in inputs] == vector["outputs"]

    @pytest.mark.parametrize("vector", VECTORS["modes"][1]["vectors"], ids=lambda v: str(v["name"]))
    def test_the_rfcs_proof_verifies_and_a_flipped_bit_does_not(
        self, vector: dict[str, object]
    ) -> None:
        public_key = bytes.fromhex(VECTORS["modes"][1]["pkSm"])
        proof = bytes.fromhex(str(vector["proof"]))
        args = {
            "mode": OprfMode.VOPRF,
            "public_key": public_key,
            "blinded": _hex(vector["blinded_elements"]),  # type: ignore[arg-type]
            "evaluated": _hex(vector["evaluation_elements"]),  # type: ignore[arg-type]
        }
        _oprf.verify_proof(proof=proof, **args)  # type: ignore[arg-type]
        for bit in (0, 9, 300, 511):
            flipped = bytearray(proof)
            flipped[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(InvalidOprfProof):
                _oprf.verify_proof(proof=bytes(flipped), **args)  # type: ignore[arg-type]


class TestOprfProperties:
    KEY = OprfKey.derive(seed=b"\x01" * 32, info=b"property key")

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=5))
    def test_blinded_round_trip_equals_direct_evaluation(self, inputs: list[bytes]) -> None:
        blinded = oprf_blind(inputs)
        evaluation = self.KEY.blind_evaluate([b.element for b in blinded])
        outputs = oprf_finalize(blinded, evaluation, public_key=self.KEY.public_key)
        assert outputs == [self.KEY.evaluate(i) for i in inputs]

    def test_blinding_hides_the_input_each_time(self) -> None:
        first, second = oprf_blind([b"same", b"same"])
        assert first.element != second.element

    def test_another_key_gives_other_outputs_and_fails_the_proof(self) -> None:
        other = OprfKey.derive(seed=b"\x02" * 32, info=b"property key")
        blinded = oprf_blind([b"input"])
        evaluation = other.blind_evaluate([blinded[0].element])
        with pytest.raises(InvalidOprfProof):
            oprf_finalize(blinded, evaluation, public_key=self.KEY.public_key)
        assert other.evaluate(b"input") != self.KEY.evaluate(b"input")

    def test_a_substituted_element_fails_the_batch_proof(self) -> None:
        blinded = oprf_blind([b"a", b"b"])
        evaluation = self.KEY.blind_evaluate([b.element for b in blinded])
        swapped = Evaluation(elements=evaluation.elements[::-1], proof=evaluation.proof)
        with pytest.raises(InvalidOprfProof):
            oprf_finalize(blinded, swapped, public_key=self.KEY.public_key)

    def test_invalid_elements_are_refused(self) -> None:
        for bad in (bytes(32), b"\xff" * 32, b"\x01" * 31):
            with pytest.raises(InvalidElement):
                self.KEY.blind_evaluate([bad])
        with pytest.raises(OprfError):
            self.KEY.blind_evaluate([])
        # an invalid element anywhere in a batch refuses the batch
        valid = oprf_blind([b"a"])[0].element
        with pytest.raises(InvalidElement):
            self.KEY.blind_evaluate([valid, b"\xff" * 32])

    def test_an_invalid_evaluated_element_fails_finalisation_in_both_modes(self) -> None:
        # Not canonical (b"\xff" * 32), not on the curve (a flipped bit of a valid
        # encoding), the identity (zeros): with and without a proof, refused as the
        # server's fault, never a result.
        for mode in (OprfMode.VOPRF, OprfMode.OPRF):
            key = OprfKey.derive(seed=b"\x03" * 32, info=b"modes", mode=mode)
            blinded = oprf_blind([b"a", b"b"], mode=mode)
            evaluation = key.blind_evaluate([b.element for b in blinded])
            good = evaluation.elements[1]
            off_curve = bytes([good[0] ^ 1, *good[1:]])
            for bad in (b"\xff" * 32, off_curve, bytes(32)):
                broken = Evaluation(elements=(evaluation.elements[0], bad), proof=evaluation.proof)
                with pytest.raises(InvalidOprfProof):
                    oprf_finalize(blinded, broken, public_key=key.public_key, mode=mode)

    def test_voprf_mode_needs_the_proof(self) -> None:
        blinded = oprf_blind([b"a"])
        evaluation = self.KEY.blind_evaluate([blinded[0].element])
        with pytest.raises(InvalidOprfProof):
            oprf_finalize(
                blinded, Evaluation(evaluation.elements, None), public_key=self.KEY.public_key
            )


class TestAgainstTheIndependentVoprfPackage:
    """The ``voprf`` package (Rust, RFC 9497) and ours: same key, same outputs, and each side
    verifies the other's proofs. Its wire format is the proof (``c || s``) then the
    evaluated element(s)."""

    def test_same_seed_same_key(self) -> None:
        seed, info = secrets.token_bytes(32), b"verwijsindex keyservice v1"
        theirs = independent.Evaluator.from_seed(seed, info)
        ours = OprfKey.derive(seed=seed, info=info)
        assert theirs.public_key.serialize() == ours.public_key

    def test_same_input_same_output(self) -> None:
        seed, info = secrets.token_bytes(32), b"k"
        theirs = independent.Evaluator.from_seed(seed, info)
        ours = OprfKey.derive(seed=seed, info=info)
        value = oprf_input(BSN("111222333"))
        assert theirs.evaluate_known_input(value) == ours.evaluate(value)

    def test_their_client_finalises_our_evaluation(self) -> None:
        seed, info = secrets.token_bytes(32), b"k"
        ours = OprfKey.derive(seed=seed, info=info)
        value = b"verwijsindex-bsn-v1:111222333"
        client, blinded = independent.Client.blind(value)
        evaluation = ours.blind_evaluate([blinded.serialize()])
        assert evaluation.proof is not None
        wire = independent.VerifiableOutput.deserialize(evaluation.proof + evaluation.elements[0])
        public_key = independent.PublicKey.deserialize(ours.public_key)
        assert client.finalize(wire, public_key) == ours.evaluate(value)
        tampered = bytearray(evaluation.proof)
        tampered[0] ^= 1
        forged = independent.VerifiableOutput.deserialize(bytes(tampered) + evaluation.elements[0])
        with pytest.raises(ValueError):
            client.finalize(forged, public_key)

    def test_their_client_finalises_our_batch(self) -> None:
        ours = OprfKey.derive(seed=secrets.token_bytes(32), info=b"k")
        values = [b"one", b"two", b"three"]
        pairs = [independent.Client.blind(v) for v in values]
        evaluation = ours.blind_evaluate([b.serialize() for _, b in pairs])
        assert evaluation.proof is not None
        wire = independent.VerifiableBatchOutput.deserialize(
            evaluation.proof + b"".join(evaluation.elements)
        )
        outputs = independent.Client.finalize_batch(
            [c for c, _ in pairs], wire, independent.PublicKey.deserialize(ours.public_key)
        )
        assert outputs == [ours.evaluate(v) for v in values]

    def test_we_finalise_their_evaluation(self) -> None:
        seed, info = secrets.token_bytes(32), b"k"
        theirs = independent.Evaluator.from_seed(seed, info)
        public_key = theirs.public_key.serialize()
        values = [b"alpha", b"beta"]
        blinded = oprf_blind(values)
        batch = theirs.evaluate_batch(
            [independent.BlindedInput.deserialize(b.element) for b in blinded]
        ).serialize()
        evaluation = Evaluation(elements=(batch[64:96], batch[96:128]), proof=batch[:64])
        outputs = oprf_finalize(blinded, evaluation, public_key=public_key)
        assert outputs == [theirs.evaluate_known_input(v) for v in values]
        other = OprfKey.derive(seed=secrets.token_bytes(32), info=b"k").public_key
        with pytest.raises(InvalidOprfProof):
            oprf_finalize(blinded, evaluation, public_key=other)


class TestSubjectToken:
    def test_round_trip(self) -> None:
        output = secrets.token_bytes(64)
        token = format_subject_token(version=3, output=output)
        assert token.startswith("t3.")
        assert parse_subject_token(token) == (3, output)

    @pytest.mark.parametrize(
        "value",
        ["", "t1.", "p1." + "A" * 86, "t0." + "A" * 86, "t1." + "A" * 85, "t1." + "!" * 86, "t1.x"],
    )
    def test_malformed_tokens_are_refused_without_echoing(self, value: str) -> None:
        with pytest.raises(InvalidSubjectToken) as info:
            parse_subject_token(value)
        assert value not in str(info.value) or not value


class TestGroupOperations:
    """The group's operations call libsodium directly: what they are given is checked first."""

    def test_wrong_lengths_and_types_are_refused_before_libsodium_sees_them(self) -> None:
        g = _ristretto.GENERATOR
        for bad in (b"", g[:31], g + b"\x00", bytearray(g), "x" * 32):
            with pytest.raises(InvalidElement):
                _ristretto.multiply(2, bad)  # type: ignore[arg-type]
            with pytest.raises(InvalidElement):
                _ristretto.add(g, bad)  # type: ignore[arg-type]
            with pytest.raises(InvalidElement):
                _ristretto.add(bad, g)  # type: ignore[arg-type]
        with pytest.raises(CryptoError):
            _ristretto.element_from_uniform(bytes(63))

    def test_the_operations_agree_with_each_other(self) -> None:
        g = _ristretto.GENERATOR
        two_g = _ristretto.add(g, g)
        assert _ristretto.multiply(2, g) == two_g == _ristretto.multiply_base(2)
        assert _ristretto.multiply(3, two_g) == _ristretto.multiply_base(6)
        with pytest.raises(InvalidElement):
            _ristretto.multiply_base(0)
        with pytest.raises(InvalidElement):
            _ristretto.multiply(_ristretto.ORDER, g)  # the identity
        with pytest.raises(InvalidElement):
            _ristretto.add(g, b"\xff" * 32)  # not canonical
        point = _ristretto.element_from_uniform(bytes(range(64)))
        assert _ristretto.check_element(point) == point
