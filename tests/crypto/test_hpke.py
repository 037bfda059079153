import json
from pathlib import Path

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    CryptoError,
    HPKEError,
    exchange_info,
    hpke_generate_keypair,
    hpke_open,
    hpke_seal,
    public_key_from_private,
)
from crypto._hpke import _SUITE

VECTOR = json.loads(
    (Path(__file__).parent.parent / "vectors" / "rfc9180_x25519_sha256_chacha20.json").read_text()
)

INFO_FIELDS = {
    "match_id": "match-1",
    "consent_reference": ["ev-1", "ev-2"],
    "sender_org": "org-a",
    "recipient_org": "org-b",
}


def _info(**changes: object) -> bytes:
    return exchange_info(**{**INFO_FIELDS, **changes})  # type: ignore[arg-type]


class TestRFC9180Vector:
    """Known answers from RFC 9180 A.2.1 for exactly our suite (0x0020, 0x0001, 0x0003)."""

    def test_suite_ids(self) -> None:
        assert (VECTOR["mode"], VECTOR["kem_id"], VECTOR["kdf_id"], VECTOR["aead_id"]) == (
            0,
            0x20,
            0x01,
            0x03,
        )

    def test_raw_x25519_keys(self) -> None:
        assert public_key_from_private(bytes.fromhex(VECTOR["skRm"])).hex() == VECTOR["pkRm"]
        assert public_key_from_private(bytes.fromhex(VECTOR["skEm"])).hex() == VECTOR["pkEm"]

    def test_decrypts_the_rfc_ciphertext_with_our_suite(self) -> None:
        # The public API has no aad argument, the RFC vectors all use one: go through the
        # private hook cryptography keeps for vectors, with our suite object.
        enc_0 = VECTOR["encryptions"][0]
        private = X25519PrivateKey.from_private_bytes(bytes.fromhex(VECTOR["skRm"]))
        plaintext = rust_openssl.hpke._decrypt_with_aad(
            _SUITE,
            bytes.fromhex(VECTOR["enc"]) + bytes.fromhex(enc_0["ct"]),
            private,
            info=bytes.fromhex(VECTOR["info"]),
            aad=bytes.fromhex(enc_0["aad"]),
        )
        assert plaintext.hex() == enc_0["pt"]

    def test_aead_layer_matches_key_and_nonce(self) -> None:
        enc_0 = VECTOR["encryptions"][0]
        ct = ChaCha20Poly1305(bytes.fromhex(VECTOR["key"])).encrypt(
            bytes.fromhex(enc_0["nonce"]), bytes.fromhex(enc_0["pt"]), bytes.fromhex(enc_0["aad"])
        )
        assert ct.hex() == enc_0["ct"]

    def test_open_without_the_vector_aad_fails(self) -> None:
        enc_0 = VECTOR["encryptions"][0]
        with pytest.raises(HPKEError):
            hpke_open(
                private_key=bytes.fromhex(VECTOR["skRm"]),
                enc=bytes.fromhex(VECTOR["enc"]),
                info=bytes.fromhex(VECTOR["info"]),
                ciphertext=bytes.fromhex(enc_0["ct"]),
            )


class TestSealOpen:
    @settings(max_examples=25, deadline=None)
    @given(plaintext=st.binary(max_size=2048))
    def test_round_trip(self, plaintext: bytes) -> None:
        private, public = hpke_generate_keypair()
        enc, ciphertext = hpke_seal(recipient_public_key=public, info=_info(), plaintext=plaintext)
        assert len(enc) == 32
        assert len(ciphertext) == len(plaintext) + 16
        assert hpke_open(private_key=private, enc=enc, info=_info(), ciphertext=ciphertext) == (
            plaintext
        )

    def test_sealing_is_randomised(self) -> None:
        _, public = hpke_generate_keypair()
        first = hpke_seal(recipient_public_key=public, info=_info(), plaintext=b"x")
        second = hpke_seal(recipient_public_key=public, info=_info(), plaintext=b"x")
        assert first != second

    @pytest.mark.parametrize(
        "changes",
        [
            {"match_id": "match-2"},
            {"consent_reference": ["ev-1"]},
            {"consent_reference": ["ev-2", "ev-1"]},
            {"sender_org": "org-c"},
            {"recipient_org": "org-c"},
            {"sender_org": "org-b", "recipient_org": "org-a"},
        ],
    )
    def test_wrong_info_fails(self, changes: dict[str, object]) -> None:
        private, public = hpke_generate_keypair()
        enc, ciphertext = hpke_seal(recipient_public_key=public, info=_info(), plaintext=b"data")
        assert _info(**changes) != _info()
        with pytest.raises(HPKEError):
            hpke_open(private_key=private, enc=enc, info=_info(**changes), ciphertext=ciphertext)

    def test_tampered_ciphertext_fails(self) -> None:
        private, public = hpke_generate_keypair()
        enc, ciphertext = hpke_seal(recipient_public_key=public, info=_info(), plaintext=b"data")
        for i in range(len(ciphertext)):
            flipped = ciphertext[:i] + bytes([ciphertext[i] ^ 1]) + ciphertext[i + 1 :]
            with pytest.raises(HPKEError):
                hpke_open(private_key=private, enc=enc, info=_info(), ciphertext=flipped)
        with pytest.raises(HPKEError):
            hpke_open(private_key=private, enc=enc, info=_info(), ciphertext=ciphertext[:-1])

    def test_tampered_enc_fails(self) -> None:
        private, public = hpke_generate_keypair()
        enc, ciphertext = hpke_seal(recipient_public_key=public, info=_info(), plaintext=b"data")
        with pytest.raises(HPKEError):
            hpke_open(
                private_key=private,
                enc=bytes([enc[0] ^ 1]) + enc[1:],
                info=_info(),
                ciphertext=ciphertext,
            )
        with pytest.raises(HPKEError):
            hpke_open(private_key=private, enc=enc[:31], info=_info(), ciphertext=ciphertext)

    def test_wrong_key_fails(self) -> None:
        _, public = hpke_generate_keypair()
        other_private, _ = hpke_generate_keypair()
        enc, ciphertext = hpke_seal(recipient_public_key=public, info=_info(), plaintext=b"data")
        with pytest.raises(HPKEError):
            hpke_open(private_key=other_private, enc=enc, info=_info(), ciphertext=ciphertext)

    def test_malformed_keys_are_rejected(self) -> None:
        with pytest.raises(HPKEError):
            hpke_seal(recipient_public_key=b"\x01" * 31, info=_info(), plaintext=b"")
        with pytest.raises(HPKEError):  # all-zero point: no shared secret
            hpke_seal(recipient_public_key=b"\x00" * 32, info=_info(), plaintext=b"")
        with pytest.raises(HPKEError):
            hpke_open(private_key=b"\x01" * 33, enc=b"\x00" * 32, info=b"", ciphertext=b"")

    def test_errors_share_the_package_base_class(self) -> None:
        assert issubclass(HPKEError, CryptoError)


class TestExchangeInfo:
    def test_canonical_versioned_encoding(self) -> None:
        assert _info() == (
            b'{"consent_reference":["ev-1","ev-2"],"label":"verwijsindex-exchange-v1",'
            b'"match_id":"match-1","recipient_org":"org-b","sender_org":"org-a"}'
        )

    def test_field_boundaries_are_unambiguous(self) -> None:
        first = exchange_info(
            match_id="m", consent_reference=["a,b"], sender_org="x", recipient_org="y"
        )
        second = exchange_info(
            match_id="m", consent_reference=["a", "b"], sender_org="x", recipient_org="y"
        )
        third = exchange_info(
            match_id='m","sender_org":"x',
            consent_reference=["a"],
            sender_org="z",
            recipient_org="y",
        )
        assert len({first, second, third}) == 3
        assert json.loads(third)["match_id"] == 'm","sender_org":"x'

    def test_single_reference_string(self) -> None:
        assert _info(consent_reference="ev-1") == _info(consent_reference=["ev-1"])

    @pytest.mark.parametrize(
        "changes",
        [
            {"match_id": ""},
            {"consent_reference": []},
            {"consent_reference": [""]},
            {"sender_org": "org-b"},
        ],
    )
    def test_rejects_incomplete_context(self, changes: dict[str, object]) -> None:
        with pytest.raises(HPKEError):
            _info(**changes)
