"""Secrets at rest: sealed values open only with the right key, version and context."""

from __future__ import annotations

import base64
import os

import pytest

from notifier import SealedSecretError, SecretBox


class TestSecretBox:
    def test_round_trip_and_no_plaintext(self) -> None:
        box = SecretBox(keys={1: os.urandom(32)}, current_version=1)
        sealed = box.seal("whsec_c2VjcmV0", context="webhook-endpoint:ep_1:secret")
        assert sealed.startswith("k1.")
        assert "whsec_" not in sealed and "c2VjcmV0" not in sealed
        assert box.open(sealed, context="webhook-endpoint:ep_1:secret") == "whsec_c2VjcmV0"

    def test_sealing_twice_differs(self) -> None:
        box = SecretBox(keys={1: os.urandom(32)}, current_version=1)
        assert box.seal("x", context="c") != box.seal("x", context="c")

    def test_another_row_or_column_does_not_open(self) -> None:
        box = SecretBox(keys={1: os.urandom(32)}, current_version=1)
        sealed = box.seal("whsec_x", context="webhook-endpoint:ep_1:secret")
        for context in ("webhook-endpoint:ep_2:secret", "webhook-endpoint:ep_1:previous_secret"):
            with pytest.raises(SealedSecretError):
                box.open(sealed, context=context)

    def test_tampering_and_garbage_are_refused(self) -> None:
        box = SecretBox(keys={1: os.urandom(32)}, current_version=1)
        sealed = box.seal("whsec_x", context="c")
        # Flip a bit of the decoded payload: changing a base64 character can touch only the
        # unused padding bits and decode to the same bytes.
        head, _, body = sealed.partition(".")
        raw = bytearray(base64.urlsafe_b64decode(body))
        raw[-1] ^= 0x01
        flipped = f"{head}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"
        for bad in (flipped, "k1.", "nonsense", "k9." + sealed[3:], "kx." + sealed[3:]):
            with pytest.raises(SealedSecretError):
                box.open(bad, context="c")

    def test_old_versions_stay_readable_after_a_key_rotation(self) -> None:
        old_key, new_key = os.urandom(32), os.urandom(32)
        sealed = SecretBox(keys={1: old_key}, current_version=1).seal("s", context="c")
        rotated = SecretBox(keys={1: old_key, 2: new_key}, current_version=2)
        assert rotated.open(sealed, context="c") == "s"
        assert rotated.seal("s", context="c").startswith("k2.")

    def test_keys_must_be_32_bytes_and_current_known(self) -> None:
        with pytest.raises(ValueError):
            SecretBox(keys={1: b"short"}, current_version=1)
        with pytest.raises(ValueError):
            SecretBox(keys={1: os.urandom(32)}, current_version=2)
