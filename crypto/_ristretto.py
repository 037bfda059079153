"""The ristretto255 group (RFC 9496) as RFC 9497 uses it: the only module that touches
libsodium (through ``pysodium``; see docs/adr/0020). Scalars are Python integers modulo the
group order; elements are their canonical 32-byte encodings.
"""

from __future__ import annotations

import secrets

import pysodium

from crypto._errors import CryptoError

ORDER = 2**252 + 27742317777372353535851937790883648493
"""The prime order of the ristretto255 group."""
ELEMENT_BYTES = 32
SCALAR_BYTES = 32
UNIFORM_BYTES = 64
_IDENTITY = bytes(ELEMENT_BYTES)


class InvalidElement(CryptoError, ValueError):
    """Bytes that are not the canonical encoding of a non-identity ristretto255 element."""


def scalar_to_bytes(scalar: int) -> bytes:
    """SerializeScalar: 32 bytes, little-endian."""
    return (scalar % ORDER).to_bytes(SCALAR_BYTES, "little")


def scalar_from_bytes(data: bytes) -> int:
    """DeserializeScalar: refuses encodings of values at or above the group order."""
    if len(data) != SCALAR_BYTES:
        raise CryptoError("a scalar is 32 bytes")
    value = int.from_bytes(data, "little")
    if value >= ORDER:
        raise CryptoError("the scalar is not reduced modulo the group order")
    return value


def random_scalar() -> int:
    """A uniformly random non-zero scalar."""
    return secrets.randbelow(ORDER - 1) + 1


def element_from_uniform(uniform: bytes) -> bytes:
    """The one-way map of RFC 9496 section 4.3.4 applied to 64 uniform bytes."""
    return bytes(pysodium.crypto_core_ristretto255_from_hash(uniform))


def check_element(data: bytes) -> bytes:
    """DeserializeElement: the canonical encoding of a valid, non-identity element."""
    if (
        not isinstance(data, bytes)
        or len(data) != ELEMENT_BYTES
        or data == _IDENTITY
        or not pysodium.crypto_core_ristretto255_is_valid_point(data)
    ):
        raise InvalidElement("not a valid ristretto255 element")
    return data


def multiply(scalar: int, element: bytes) -> bytes:
    """``scalar * element``; the result of a non-zero scalar and a valid element is never
    the identity (the group has prime order)."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255(scalar_to_bytes(scalar), element))
    except ValueError as exc:
        raise InvalidElement("the product is the identity or the element is invalid") from exc


def multiply_base(scalar: int) -> bytes:
    """``scalar * G``."""
    try:
        return bytes(pysodium.crypto_scalarmult_ristretto255_base(scalar_to_bytes(scalar)))
    except ValueError as exc:
        raise InvalidElement("the scalar is zero") from exc


def add(left: bytes, right: bytes) -> bytes:
    """``left + right``."""
    try:
        return bytes(pysodium.crypto_core_ristretto255_add(left, right))
    except ValueError as exc:
        raise InvalidElement("an element is invalid") from exc


GENERATOR = multiply_base(1)
