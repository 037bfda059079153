"""C2SP signed notes with Ed25519 keys."""

from __future__ import annotations

import base64
import json
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    CryptoError,
    InvalidNoteKey,
    InvalidNoteSignature,
    MalformedNote,
    NoteVerifierKey,
    format_signer_key,
    format_verifier_key,
    note_key_id,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    verify_note,
)

VECTOR: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "c2sp_signed_note.json").read_text()
)
NAME = "verwijsindex.example/ledger"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
TEXT = "verwijsindex.example/ledger\n42\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"

# Valid note text: no ASCII control characters except newline, no lone surrogates.
note_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\n"),
    max_size=40,
).flatmap(
    lambda first: st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc")),
            max_size=20,
        ),
        max_size=3,
    ).map(lambda rest: "\n".join([first, *rest]) + "\n")
)


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def signature_bytes(note: str) -> bytes:
    line = note.rstrip("\n").split("\n")[-1]
    return base64.b64decode(line.rsplit(" ", 1)[1])


class TestNoteKeyId:
    def test_go_vector(self) -> None:
        vkey = parse_verifier_key(VECTOR["verifier_key"])
        assert (
            note_key_id(name=vkey.name, public_key=vkey.public_key).hex() == (VECTOR["key_id_hex"])
        )

    def test_is_truncated_sha256_of_name_newline_type_and_key(self) -> None:
        expected = sha256(NAME.encode() + b"\n\x01" + raw_public(KEY)).digest()[:4]
        assert note_key_id(name=NAME, public_key=KEY.public_key()) == expected

    @pytest.mark.parametrize("name", ["", "has space", "a+b", "tab\tname", "nbsp\u00a0name"])
    def test_rejects_bad_names(self, name: str) -> None:
        with pytest.raises(InvalidNoteKey):
            note_key_id(name=name, public_key=KEY.public_key())


class TestVerifierKey:
    def test_go_vector_round_trip(self) -> None:
        vkey = parse_verifier_key(VECTOR["verifier_key"])
        assert vkey.name == VECTOR["name"]
        assert vkey.encode() == VECTOR["verifier_key"]
        assert vkey.key_id.hex() == VECTOR["key_id_hex"]

    def test_format_then_parse(self) -> None:
        text = format_verifier_key(name=NAME, public_key=KEY.public_key())
        parsed = parse_verifier_key(text)
        assert parsed.name == NAME
        assert raw_public_of(parsed) == raw_public(KEY)
        assert text.startswith(f"{NAME}+{parsed.key_id.hex()}+")

    @pytest.mark.parametrize(
        "mutate",
        [
            lambda v: v.replace("c74f20a3", "c74f20a4"),
            lambda v: v.replace("c74f20a3", "C74F20A3"),
            lambda v: v.replace("PeterNeumann", "PeterNeuman"),
            lambda v: v.replace("+ARpc", "+AhpC"),
            lambda v: v.replace("+ARpc", "+Apc"),
            lambda v: v + "=",
            lambda v: v[:-1] + "X",
            lambda v: v.replace("+", " +", 1),
            lambda v: v.split("+", 1)[1],
            lambda v: "+" + v,
        ],
    )
    def test_rejects_malformed_or_mismatched(self, mutate: Any) -> None:
        with pytest.raises(InvalidNoteKey):
            parse_verifier_key(mutate(VECTOR["verifier_key"]))

    def test_is_a_crypto_error(self) -> None:
        with pytest.raises(CryptoError):
            parse_verifier_key("nonsense")


def raw_public_of(vkey: NoteVerifierKey) -> bytes:
    return vkey.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class TestSignerKey:
    def test_go_vector_round_trip(self) -> None:
        name, key = parse_signer_key(VECTOR["signer_key"])
        assert name == VECTOR["name"]
        assert format_signer_key(name=name, private_key=key) == VECTOR["signer_key"]
        assert (
            format_verifier_key(name=name, public_key=key.public_key()) == (VECTOR["verifier_key"])
        )

    @pytest.mark.parametrize(
        "skey",
        [
            "PRIVATE+KEY+PeterNeumann+c74f20a3",
            "PUBLIC+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "PRIVATE+KEY+PeterNeumann+00000000+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AoEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        ],
    )
    def test_rejects_malformed_or_mismatched(self, skey: str) -> None:
        with pytest.raises(InvalidNoteKey):
            parse_signer_key(skey)


class TestSignNote:
    def test_go_vector(self) -> None:
        name, key = parse_signer_key(VECTOR["signer_key"])
        assert sign_note(VECTOR["text"], name=name, private_key=key) == VECTOR["note"]

    def test_layout(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY)
        text, blank_and_sig = note[: len(TEXT)], note[len(TEXT) :]
        assert text == TEXT
        assert blank_and_sig.startswith(f"\n\u2014 {NAME} ")
        assert blank_and_sig.endswith("\n")
        raw = signature_bytes(note)
        assert len(raw) == 4 + 64
        assert raw[:4] == note_key_id(name=NAME, public_key=KEY.public_key())

    def test_signature_is_plain_ed25519_over_the_text(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY)
        # Independent check: the raw signature verifies over the text bytes alone.
        KEY.public_key().verify(signature_bytes(note)[4:], TEXT.encode("utf-8"))

    @pytest.mark.parametrize("text", ["", "no newline", "tab\there\n", "cr\r\n", "nul\x00\n"])
    def test_rejects_bad_text(self, text: str) -> None:
        with pytest.raises(MalformedNote):
            sign_note(text, name=NAME, private_key=KEY)

    def test_rejects_lone_surrogate(self) -> None:
        with pytest.raises(MalformedNote):
            sign_note("\ud800\n", name=NAME, private_key=KEY)

    def test_rejects_bad_name(self) -> None:
        with pytest.raises(InvalidNoteKey):
            sign_note(TEXT, name="two words", private_key=KEY)


class TestVerifyNote:
    def test_go_vector(self) -> None:
        vkey = parse_verifier_key(VECTOR["verifier_key"])
        assert (
            verify_note(VECTOR["note"], name=vkey.name, public_key=vkey.public_key)
            == (VECTOR["text"])
        )

    @settings(max_examples=100, deadline=None)
    @given(note_text)
    def test_round_trip(self, text: str) -> None:
        note = sign_note(text, name=NAME, private_key=KEY)
        assert verify_note(note, name=NAME, public_key=KEY.public_key()) == text
        assert verify_note(note.encode(), name=NAME, public_key=KEY.public_key()) == text

    def test_text_may_contain_blank_lines(self) -> None:
        text = "first\n\nthird\n\n"
        note = sign_note(text, name=NAME, private_key=KEY)
        assert verify_note(note, name=NAME, public_key=KEY.public_key()) == text

    def test_every_single_byte_change_is_rejected(self) -> None:
        note = VECTOR["note"].encode()
        vkey = parse_verifier_key(VECTOR["verifier_key"])
        for position in range(len(note)):
            for mask in (0x01, 0x20, 0x80):
                changed = bytearray(note)
                changed[position] ^= mask
                with pytest.raises(CryptoError):
                    verify_note(bytes(changed), name=vkey.name, public_key=vkey.public_key)

    @settings(max_examples=200, deadline=None)
    @given(note_text, st.data())
    def test_changed_byte_is_rejected(self, text: str, data: st.DataObject) -> None:
        note = sign_note(text, name=NAME, private_key=KEY).encode()
        position = data.draw(st.integers(0, len(note) - 1), label="position")
        value = data.draw(st.integers(0, 255).filter(lambda b: b != note[position]))
        changed = note[:position] + bytes([value]) + note[position + 1 :]
        with pytest.raises(CryptoError):
            verify_note(changed, name=NAME, public_key=KEY.public_key())

    def test_wrong_name_is_rejected(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY)
        with pytest.raises(InvalidNoteSignature):
            verify_note(note, name="verwijsindex.example/other", public_key=KEY.public_key())

    def test_wrong_key_is_rejected(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY)
        with pytest.raises(InvalidNoteSignature):
            verify_note(note, name=NAME, public_key=OTHER_KEY.public_key())

    def test_forged_signature_with_right_key_id_is_rejected(self) -> None:
        key_id = note_key_id(name=NAME, public_key=KEY.public_key())
        forged = base64.b64encode(key_id + OTHER_KEY.sign(TEXT.encode())).decode()
        note = f"{TEXT}\n\u2014 {NAME} {forged}\n"
        with pytest.raises(InvalidNoteSignature):
            verify_note(note, name=NAME, public_key=KEY.public_key())

    def test_truncated_signature_with_right_key_id_is_rejected(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY)
        raw = signature_bytes(note)[:-1]
        note = f"{TEXT}\n\u2014 {NAME} {base64.b64encode(raw).decode()}\n"
        with pytest.raises(InvalidNoteSignature):
            verify_note(note, name=NAME, public_key=KEY.public_key())

    def test_unknown_signatures_are_ignored(self) -> None:
        ours = sign_note(TEXT, name=NAME, private_key=KEY)
        theirs = sign_note(TEXT, name="witness.example/w1", private_key=OTHER_KEY)
        cosigned = ours + theirs[len(TEXT) + 1 :]
        assert verify_note(cosigned, name=NAME, public_key=KEY.public_key()) == TEXT
        assert (
            verify_note(cosigned, name="witness.example/w1", public_key=OTHER_KEY.public_key())
            == TEXT
        )

    def test_bad_signature_from_known_key_rejects_whole_note(self) -> None:
        good = sign_note(TEXT, name=NAME, private_key=KEY)
        key_id = note_key_id(name=NAME, public_key=KEY.public_key())
        bad = base64.b64encode(key_id + b"\x00" * 64).decode()
        with pytest.raises(InvalidNoteSignature):
            verify_note(good + f"\u2014 {NAME} {bad}\n", name=NAME, public_key=KEY.public_key())

    def test_unsigned_note_is_rejected(self) -> None:
        with pytest.raises(MalformedNote):
            verify_note(TEXT, name=NAME, public_key=KEY.public_key())

    @pytest.mark.parametrize(
        "signature_line",
        [
            "- {name} {sig}",  # hyphen instead of em dash
            "\u2014{name} {sig}",
            "\u2014 {name}  {sig}",
            "\u2014 {name} {sig}=",
            "\u2014 {name} AAAA",
            "\u2014 {name}",
        ],
    )
    def test_malformed_signature_line_is_rejected(self, signature_line: str) -> None:
        sig = sign_note(TEXT, name=NAME, private_key=KEY).rstrip("\n").rsplit(" ", 1)[1]
        note = f"{TEXT}\n" + signature_line.format(name=NAME, sig=sig) + "\n"
        with pytest.raises(MalformedNote):
            verify_note(note, name=NAME, public_key=KEY.public_key())

    def test_too_many_signatures_is_rejected(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY)
        line = note[len(TEXT) + 1 :]
        with pytest.raises(MalformedNote):
            verify_note(note + line * 100, name=NAME, public_key=KEY.public_key())

    def test_sixteen_signatures_are_accepted(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY)
        others = "".join(
            sign_note(TEXT, name=f"witness.example/w{i}", private_key=OTHER_KEY)[len(TEXT) + 1 :]
            for i in range(15)
        )
        assert verify_note(note + others, name=NAME, public_key=KEY.public_key()) == TEXT

    def test_invalid_utf8_is_rejected(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY).encode()
        with pytest.raises(MalformedNote):
            verify_note(b"\xff" + note, name=NAME, public_key=KEY.public_key())

    def test_carriage_return_is_rejected(self) -> None:
        note = sign_note(TEXT, name=NAME, private_key=KEY).replace("\n", "\r\n")
        with pytest.raises(MalformedNote):
            verify_note(note, name=NAME, public_key=KEY.public_key())
