"""The ristretto255 group (RFC 9496) as RFC 9497 uses it: the only module that touches
libsodium (through ``pysodium``; see docs/adr/0020). Scalars are Python integers modulo the
group order; elements are their canonical 32-byte encodings.

The operations call libsodium's functions on the library ``pysodium`` loaded, not through
``pysodium``'s per-function wrappers, which check the library's version on every call: about
4 µs of a 60 µs scalar multiplication, and a blind registration makes seven such calls on the
organisation's side. The version is checked once, here; every length is checked before a
call, as the wrappers do.
"""

from __future__ import annotations

import ctypes
import secrets

import pysodium

from crypto._errors import CryptoError

ORDER = 2**252 + 27742317777372353535851937790883648493
"""The prime order of the ristretto255 group."""
ELEMENT_BYTES = 32
SCALAR_BYTES = 32
UNIFORM_BYTES = 64
_IDENTITY = bytes(ELEMENT_BYTES)

if not pysodium.sodium_version_check(1, 0, 18):  # pragma: no cover - Debian 12 has 1.0.18
    raise ImportError("ristretto255 needs libsodium 1.0.18 or newer")
_sodium = pysodium.sodium


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
    if len(uniform) != UNIFORM_BYTES:
        raise CryptoError("the one-way map takes 64 bytes")
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    _sodium.crypto_core_ristretto255_from_hash(out, uniform)
    return out.raw


def check_element(data: bytes) -> bytes:
    """DeserializeElement: the canonical encoding of a valid, non-identity element."""
    if (
        not isinstance(data, bytes)
        or len(data) != ELEMENT_BYTES
        or data == _IDENTITY
        or _sodium.crypto_core_ristretto255_is_valid_point(data) != 1
    ):
        raise InvalidElement("not a valid ristretto255 element")
    return data


def check_encoding(data: bytes) -> bytes:
    """The part of :func:`check_element` that needs no decoding: 32 bytes, not the
    identity's. For an element that is only ever passed to :func:`multiply` or :func:`add`,
    which decode it and raise :class:`InvalidElement` for an invalid or non-canonical
    encoding (and :func:`multiply` for an identity product), this is the whole check at the
    cost of no point decoding (about a tenth of a scalar multiplication)."""
    if not isinstance(data, bytes) or len(data) != ELEMENT_BYTES or data == _IDENTITY:
        raise InvalidElement("not a valid ristretto255 element")
    return data


def _element(data: bytes) -> bytes:
    if not isinstance(data, bytes) or len(data) != ELEMENT_BYTES:
        raise InvalidElement("not a valid ristretto255 element")
    return data


def multiply(scalar: int, element: bytes) -> bytes:
    """``scalar * element``; the result of a non-zero scalar and a valid element is never
    the identity (the group has prime order)."""
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    if _sodium.crypto_scalarmult_ristretto255(out, scalar_to_bytes(scalar), _element(element)):
        raise InvalidElement("the product is the identity or the element is invalid")
    return out.raw


def multiply_base(scalar: int) -> bytes:
    """``scalar * G``."""
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    if _sodium.crypto_scalarmult_ristretto255_base(out, scalar_to_bytes(scalar)):
        raise InvalidElement("the scalar is zero")
    return out.raw


def add(left: bytes, right: bytes) -> bytes:
    """``left + right``."""
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    if _sodium.crypto_core_ristretto255_add(out, _element(left), _element(right)):
        raise InvalidElement("an element is invalid")
    return out.raw


GENERATOR = multiply_base(1)
