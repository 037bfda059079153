"""C2SP tlog-checkpoint text and signed checkpoints."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import (
    Checkpoint,
    CryptoError,
    InvalidCheckpoint,
    InvalidNoteSignature,
    MerkleFrontier,
    format_checkpoint,
    inclusion_proof,
    leaf_hash,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_inclusion,
)

ORIGIN = "verwijsindex.example/ledger"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ROOT = bytes(range(32))

# The body of the example in the C2SP tlog-checkpoint specification.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

line = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
checkpoints = st.builds(
    Checkpoint,
    origin=line,
    size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    extensions=st.lists(line, max_size=3).map(tuple),
)


class TestCheckpoint:
    def test_is_frozen(self) -> None:
        checkpoint = Checkpoint(origin=ORIGIN, size=1, root_hash=ROOT)
        with pytest.raises(AttributeError):
            checkpoint.size = 2  # type: ignore[misc]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"origin": ""},
            {"origin": "two\nlines"},
            {"origin": "tab\t"},
            {"size": -1},
            {"size": 2**64},
            {"root_hash": ROOT[:31]},
            {"root_hash": ROOT + b"\x00"},
            {"extensions": ("",)},
            {"extensions": ("a\nb",)},
        ],
    )
    def test_rejects_invalid_fields(self, kwargs: dict[str, object]) -> None:
        fields: dict[str, object] = {"origin": ORIGIN, "size": 1, "root_hash": ROOT, **kwargs}
        with pytest.raises(InvalidCheckpoint):
            Checkpoint(**fields)  # type: ignore[arg-type]


class TestFormatCheckpoint:
    def test_spec_example_round_trips(self) -> None:
        checkpoint = parse_checkpoint(SPEC_BODY)
        assert checkpoint.origin == "example.com/behind-the-sofa"
        assert checkpoint.size == 20852163
        assert checkpoint.root_hash == base64.b64decode(
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        )
        assert format_checkpoint(checkpoint) == SPEC_BODY

    def test_empty_tree(self) -> None:
        empty_root = bytes.fromhex(
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        text = format_checkpoint(Checkpoint(origin=ORIGIN, size=0, root_hash=empty_root))
        assert text == f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"

    def test_extension_lines_follow_root(self) -> None:
        checkpoint = Checkpoint(origin=ORIGIN, size=7, root_hash=ROOT, extensions=("x", "y z"))
        assert format_checkpoint(checkpoint).splitlines()[3:] == ["x", "y z"]

    @settings(max_examples=200, deadline=None)
    @given(checkpoints)
    def test_parse_inverts_format(self, checkpoint: Checkpoint) -> None:
        assert parse_checkpoint(format_checkpoint(checkpoint)) == checkpoint


class TestParseCheckpoint:
    @pytest.mark.parametrize(
        "size_line",
        ["007", "00", "+1", "-1", " 1", "1 ", "1_000", "\u0661", "18446744073709551616", ""],
    )
    def test_rejects_bad_sizes(self, size_line: str) -> None:
        with pytest.raises(InvalidCheckpoint):
            parse_checkpoint(f"{ORIGIN}\n{size_line}\n{base64.b64encode(ROOT).decode()}\n")

    def test_accepts_largest_size(self) -> None:
        text = f"{ORIGIN}\n18446744073709551615\n{base64.b64encode(ROOT).decode()}\n"
        assert parse_checkpoint(text).size == 2**64 - 1

    @pytest.mark.parametrize(
        "root_line",
        [
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I",  # missing padding
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=",  # non-zero padding bits
            "CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=",  # URL-safe alphabet
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I= ",
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx",  # 30 bytes
            base64.b64encode(bytes(31)).decode(),
            base64.b64encode(bytes(33)).decode(),
            base64.b64encode(bytes(48)).decode(),
            "",
        ],
    )
    def test_rejects_bad_root_hashes(self, root_line: str) -> None:
        with pytest.raises(InvalidCheckpoint):
            parse_checkpoint(f"{ORIGIN}\n5\n{root_line}\n")

    @pytest.mark.parametrize(
        "text",
        [
            SPEC_BODY[:-1],  # no final newline
            "example.com/behind-the-sofa\n20852163\n",
            SPEC_BODY + "\n",  # empty extension line
            "\n" + SPEC_BODY.split("\n", 1)[1],  # empty origin
            SPEC_BODY.replace("\n", "\r\n"),
            "",
        ],
    )
    def test_rejects_bad_structure(self, text: str) -> None:
        with pytest.raises(InvalidCheckpoint):
            parse_checkpoint(text)

    def test_keeps_extension_lines(self) -> None:
        assert parse_checkpoint(SPEC_BODY + "ext one\next2\n").extensions == ("ext one", "ext2")


class TestSignedCheckpoint:
    def test_round_trip(self) -> None:
        checkpoint = Checkpoint(origin=ORIGIN, size=12, root_hash=ROOT)
        note = sign_checkpoint(checkpoint, name=ORIGIN, private_key=KEY)
        assert note.startswith(format_checkpoint(checkpoint) + "\n\u2014 " + ORIGIN + " ")
        verified = verify_checkpoint(note, origin=ORIGIN, name=ORIGIN, public_key=KEY.public_key())
        assert verified == checkpoint

    def test_other_origin_is_rejected(self) -> None:
        checkpoint = Checkpoint(origin="other.example/log", size=12, root_hash=ROOT)
        note = sign_checkpoint(checkpoint, name=ORIGIN, private_key=KEY)
        with pytest.raises(InvalidCheckpoint):
            verify_checkpoint(note, origin=ORIGIN, name=ORIGIN, public_key=KEY.public_key())

    def test_wrong_key_is_rejected(self) -> None:
        note = sign_checkpoint(
            Checkpoint(origin=ORIGIN, size=12, root_hash=ROOT), name=ORIGIN, private_key=KEY
        )
        with pytest.raises(InvalidNoteSignature):
            verify_checkpoint(note, origin=ORIGIN, name=ORIGIN, public_key=OTHER_KEY.public_key())

    def test_signed_note_that_is_not_a_checkpoint_is_rejected(self) -> None:
        note = sign_note(
            f"{ORIGIN}\n012\n{base64.b64encode(ROOT).decode()}\n", name=ORIGIN, private_key=KEY
        )
        with pytest.raises(InvalidCheckpoint):
            verify_checkpoint(note, origin=ORIGIN, name=ORIGIN, public_key=KEY.public_key())

    def test_changed_size_is_rejected(self) -> None:
        note = sign_checkpoint(
            Checkpoint(origin=ORIGIN, size=12, root_hash=ROOT), name=ORIGIN, private_key=KEY
        )
        with pytest.raises(CryptoError):
            verify_checkpoint(
                note.replace("\n12\n", "\n13\n"),
                origin=ORIGIN,
                name=ORIGIN,
                public_key=KEY.public_key(),
            )

    def test_auditor_checks_inclusion_against_signed_checkpoint(self) -> None:
        entries = [f"entry {i}".encode() for i in range(21)]
        hashes = [leaf_hash(e) for e in entries]
        frontier = MerkleFrontier()
        for h in hashes:
            frontier.append(h)
        note = sign_checkpoint(
            Checkpoint(origin=ORIGIN, size=frontier.size, root_hash=frontier.root_hash()),
            name=ORIGIN,
            private_key=KEY,
        )
        head = verify_checkpoint(note, origin=ORIGIN, name=ORIGIN, public_key=KEY.public_key())
        verify_inclusion(
            leaf_hash=leaf_hash(entries[13]),
            index=13,
            tree_size=head.size,
            proof=inclusion_proof(hashes, 13, head.size),
            root=head.root_hash,
        )
