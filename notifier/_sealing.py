"""Secrets at rest: ChaCha20-Poly1305 under a key that never lives in the database.

A sealed value is ``"k<version>.<base64url(nonce || ciphertext)>"``. The version names the
key it was sealed under (the index derives one per master-key version), so values sealed
before a master-key rotation stay readable. The associated data binds a value to its row and
column: a ciphertext copied to another endpoint or column does not open.

Example::

    box = SecretBox(keys={1: key}, current_version=1)
    sealed = box.seal("whsec_...", context="endpoint:ep_1:secret")
    box.open(sealed, context="endpoint:ep_1:secret")
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from notifier._errors import NotifierError

_NONCE_BYTES = 12


class SealedSecretError(NotifierError):
    """A sealed value is malformed, sealed under an unknown key, or was tampered with."""


class SecretBox:
    """Seal and open short secrets with versioned 32-byte keys."""

    def __init__(self, *, keys: Mapping[int, bytes], current_version: int) -> None:
        if current_version not in keys:
            raise ValueError("the current key version has no key")
        if any(len(key) != 32 for key in keys.values()):
            raise ValueError("keys are 32 bytes")
        self._ciphers = {version: ChaCha20Poly1305(key) for version, key in keys.items()}
        self._current = current_version

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._ciphers[self._current].encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        encoded = base64.urlsafe_b64encode(nonce + ciphertext).decode("ascii")
        return f"k{self._current}.{encoded}"

    @staticmethod
    def version_of(value: str) -> int | None:
        """The key version a sealed value names, or None when ``value`` is not of the sealed
        form (``k<version>.…``)."""
        head, sep, _ = value.partition(".")
        if not sep or not head.startswith("k") or not head[1:].isdigit():
            return None
        return int(head[1:])

    def is_current(self, value: str) -> bool:
        """Whether ``value`` is sealed under the current key version."""
        return self.version_of(value) == self._current

    def open(self, sealed: str, *, context: str) -> str:
        version = self.version_of(sealed)
        if version is None:
            raise SealedSecretError("the sealed value is malformed")
        encoded = sealed.partition(".")[2]
        cipher = self._ciphers.get(version)
        if cipher is None:
            raise SealedSecretError("the sealed value uses an unknown key version")
        try:
            raw = base64.urlsafe_b64decode(encoded)
            plaintext = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise SealedSecretError("the sealed value does not open") from None
        return plaintext.decode("utf-8")
