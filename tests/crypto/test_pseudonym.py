from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import (
    BSN,
    PSEUDONYM_PURPOSE_ACCESS_LOG,
    CryptoError,
    PseudonymKey,
    derive_subkey,
    pseudonym_version,
)

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "pseudonym.json").read_text())
MASTER = bytes.fromhex(VECTORS["master_key_hex"])


class TestPseudonymVectors:
    @pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"v{c['version']}-{c['bsn']}")
    def test_known_answers(self, case: dict[str, object]) -> None:
        version = int(str(case["version"]))
        assert (
            derive_subkey(MASTER, purpose="match-pseudonym", version=version).hex()
            == case["subkey_hex"]
        )
        key = PseudonymKey.derive(master_key=MASTER, version=version)
        assert key.pseudonymise(BSN(str(case["bsn"]))) == case["pseudonym"]


class TestPseudonymKey:
    @given(st.binary(min_size=32, max_size=64), st.integers(1, 1000))
    def test_deterministic_and_versioned(self, master: bytes, version: int) -> None:
        key = PseudonymKey.derive(master_key=master, version=version)
        p = key.pseudonymise(BSN("111222333"))
        assert p == PseudonymKey.derive(master_key=master, version=version).pseudonymise(
            BSN("111222333")
        )
        assert pseudonym_version(p) == version
        assert "111222333" not in p

    @given(st.lists(st.from_regex(r"[0-9]{9}", fullmatch=True), min_size=1, max_size=20))
    def test_one_key_gives_the_recipes_mac_for_each_bsn_in_turn(self, numbers: list[str]) -> None:
        # The key is set up once and continued per pseudonym; each must stand alone.
        key = PseudonymKey.derive(master_key=MASTER, version=3)
        subkey = derive_subkey(MASTER, purpose="match-pseudonym", version=3)
        for number in numbers + numbers:
            mac = hmac.new(subkey, b"bsn:" + number.encode(), hashlib.sha256).digest()
            body = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
            assert key.pseudonymise(BSN(number)) == f"p3.{body}"

    def test_versions_and_purposes_give_unrelated_values(self) -> None:
        bsn = BSN("123456782")
        v1 = PseudonymKey.derive(master_key=MASTER, version=1).pseudonymise(bsn)
        v2 = PseudonymKey.derive(master_key=MASTER, version=2).pseudonymise(bsn)
        log = PseudonymKey.derive(
            master_key=MASTER, version=1, purpose=PSEUDONYM_PURPOSE_ACCESS_LOG
        )
        assert len({v1.split(".")[1], v2.split(".")[1], log.pseudonymise(bsn).split(".")[1]}) == 3

    def test_other_master_key_gives_other_pseudonym(self) -> None:
        bsn = BSN("123456782")
        a = PseudonymKey.derive(master_key=MASTER, version=1).pseudonymise(bsn)
        b = PseudonymKey.derive(master_key=bytes(32), version=1).pseudonymise(bsn)
        assert a != b

    def test_key_is_not_in_repr(self) -> None:
        key = PseudonymKey.derive(master_key=MASTER, version=1)
        assert derive_subkey(MASTER, purpose="match-pseudonym", version=1).hex() not in repr(key)
        assert "_key" not in repr(key)

    @pytest.mark.parametrize(
        ("master", "version", "purpose"),
        [(b"short", 1, "x"), (bytes(32), 0, "x"), (bytes(32), 1, ""), (bytes(32), 1, "a/b")],
    )
    def test_bad_parameters_raise(self, master: bytes, version: int, purpose: str) -> None:
        with pytest.raises(CryptoError):
            derive_subkey(master, purpose=purpose, version=version)

    @pytest.mark.parametrize("value", ["", "p1", "x1.abc", "p.abc", "p1." + "a" * 42])
    def test_malformed_pseudonym_version(self, value: str) -> None:
        with pytest.raises(CryptoError):
            pseudonym_version(value)
