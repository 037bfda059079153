from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crypto import InvalidBSN, parse_bsn


def _check_digit_ok(digits: str) -> bool:
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 == 0


class TestParseBSN:
    @pytest.mark.parametrize("value", ["111222333", "123456782", "999999990", "012345672"])
    def test_valid_numbers_pass(self, value: str) -> None:
        assert parse_bsn(value) == value

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("123456789", "11-test"),
            ("000000000", "zeros"),
            ("12345678", "nine digits"),
            ("1234567820", "nine digits"),
            (" 23456782", "nine digits"),
            ("12345678a", "nine digits"),
            ("１２３４５６７８２", "nine digits"),  # full-width digits are not ASCII
            ("", "nine digits"),
        ],
    )
    def test_invalid_numbers_are_rejected_without_echo(self, value: str, reason: str) -> None:
        with pytest.raises(InvalidBSN) as info:
            parse_bsn(value)
        assert reason in str(info.value)
        if value.strip():
            assert value not in str(info.value)

    def test_non_string_is_rejected(self) -> None:
        with pytest.raises(InvalidBSN):
            parse_bsn(123456782)  # type: ignore[arg-type]

    @given(st.text(alphabet="0123456789", min_size=9, max_size=9))
    def test_accepts_exactly_the_eleven_test(self, digits: str) -> None:
        expected = _check_digit_ok(digits) and digits != "000000000"
        try:
            parse_bsn(digits)
            accepted = True
        except InvalidBSN:
            accepted = False
        assert accepted == expected

    @given(
        st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 8), st.integers(1, 9)
    )
    def test_a_single_digit_change_is_caught(self, digits: str, pos: int, delta: int) -> None:
        if not _check_digit_ok(digits) or digits == "000000000":
            return
        changed = digits[:pos] + str((int(digits[pos]) + delta) % 10) + digits[pos + 1 :]
        with pytest.raises(InvalidBSN):
            parse_bsn(changed)
