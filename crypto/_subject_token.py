"""The subject token: a youth's OPRF output as the index receives it on the blind path.

``t<version>.<base64url(64-byte OPRF output)>``: the key service's key version and the RFC 9497
output of :func:`oprf_input` of the BSN. The OPRF input is the BSN with a label of its own, so
the output of another application's OPRF over the same key could never collide with ours.
A token is as identifying as the BSN inside the service that derives from it (the index keeps
only an HMAC of it under its own key, docs/adr/0020); it is never stored or logged.
"""

from __future__ import annotations

import base64
import binascii
from typing import NewType

from crypto._bsn import BSN
from crypto._errors import CryptoError

SubjectToken = NewType("SubjectToken", str)
"""``t<key service key version>.<86 base64url characters>``; never stored."""

OPRF_INPUT_LABEL = b"verwijsindex-bsn-v1:"
_OUTPUT_BYTES = 64
_ENCODED_LENGTH = 86


class InvalidSubjectToken(CryptoError, ValueError):
    """Not a subject token. The message never contains the value."""


def oprf_input(bsn: BSN) -> bytes:
    """The OPRF input for a (checked) BSN."""
    return OPRF_INPUT_LABEL + bsn.encode("ascii")


def format_subject_token(*, version: int, output: bytes) -> SubjectToken:
    if version < 1 or len(output) != _OUTPUT_BYTES:
        raise InvalidSubjectToken("a subject token is a 64-byte output under a version >= 1")
    encoded = base64.urlsafe_b64encode(output).rstrip(b"=").decode("ascii")
    return SubjectToken(f"t{version}.{encoded}")


def parse_subject_token(value: str) -> tuple[int, bytes]:
    """The key service version and the 64-byte output of a subject token."""
    if not isinstance(value, str):
        raise InvalidSubjectToken("a subject token is a string")
    head, sep, body = value.partition(".")
    if (
        not sep
        or not head.startswith("t")
        or not head[1:].isascii()
        or not head[1:].isdigit()
        or len(head) > 10
        or len(body) != _ENCODED_LENGTH
    ):
        raise InvalidSubjectToken("not a subject token (t<version>.<86 base64url characters>)")
    try:
        output = base64.urlsafe_b64decode(body + "==")
    except (binascii.Error, ValueError) as exc:
        raise InvalidSubjectToken("not a subject token (bad base64url)") from exc
    version = int(head[1:])
    if (
        version < 1
        or len(output) != _OUTPUT_BYTES
        or format_subject_token(version=version, output=output) != value
    ):
        raise InvalidSubjectToken("not a canonical subject token")
    return version, output
