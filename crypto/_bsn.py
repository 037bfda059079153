"""Burgerservicenummer (BSN) parsing with the 11-test (elfproef)."""

from operator import mul
from typing import NewType

from crypto._errors import CryptoError

BSN = NewType("BSN", str)
"""A syntactically valid BSN: nine ASCII digits passing the 11-test. Never store it."""

_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
_ZERO_SUM = ord("0") * sum(_WEIGHTS)
"""What the weighted sum of the digits' ASCII codes exceeds the sum of the digits by."""


class InvalidBSN(CryptoError, ValueError):
    """The value is not a valid BSN. The message never contains the value itself."""


def parse_bsn(value: str) -> BSN:
    """Return ``value`` as a :data:`BSN` or raise :class:`InvalidBSN`.

    Rules: exactly nine ASCII digits (no spaces, signs or other Unicode digits), not all
    zeros, and ``sum(d_i * w_i) % 11 == 0`` with weights 9..2 and -1 for the last digit.
    """
    if not isinstance(value, str):
        raise InvalidBSN("a BSN must be a string of nine digits")
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        raise InvalidBSN("a BSN must be exactly nine digits")
    if value == "000000000":
        raise InvalidBSN("a BSN cannot be all zeros")
    # Nine ASCII digits, nine weights: weigh the codes and take off what the '0's add.
    total = sum(map(mul, value.encode("ascii"), _WEIGHTS)) - _ZERO_SUM
    if total % 11 != 0:
        raise InvalidBSN("the BSN fails the 11-test")
    return BSN(value)
