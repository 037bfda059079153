"""One base class for every error this package raises."""

from __future__ import annotations

from collections.abc import Iterable


class ConsentError(Exception):
    """Base class of all errors raised by :mod:`consent`."""


class InvalidConsent(ConsentError, ValueError):
    """A consent event, its vocabulary or a legal ground is malformed.

    The message names the offending field but never echoes a birth date or other
    personal data.
    """


class InvalidBirthDate(InvalidConsent):
    """The youth's birth date lies in the future or the youth is 23 or older."""


class ConsentRequired(ConsentError):
    """An exchange was asked for without the consent the age rules require.

    ``missing`` lists the parties (``"youth"``, ``"parent-or-guardian"``) whose grant is
    absent; ``refused_by`` lists the grantor roles whose refusal or withdrawal blocks it.
    """

    def __init__(
        self, explanation: str, *, missing: Iterable[str] = (), refused_by: Iterable[str] = ()
    ) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.missing: tuple[str, ...] = tuple(missing)
        self.refused_by: tuple[str, ...] = tuple(refused_by)


class ExchangeNotFound(ConsentError):
    """No such exchange for this organisation (or no such consent event)."""


class ExchangeUnavailable(ConsentError):
    """The exchange exists but its ciphertext is gone: acknowledged, expired or withdrawn."""


class RecipientKeyMissing(ConsentError):
    """The recipient organisation has no current encryption key, or not the one named."""


class InvalidEncryptionKey(ConsentError, ValueError):
    """A public key is not 32 raw bytes of a usable X25519 key."""


class StaleConsentReference(ConsentError):
    """The consent reference the sender sealed to is no longer the current decision."""


class LedgerInconsistent(ConsentError):
    """The stored log does not extend the last signed checkpoint; nothing is signed."""


class LedgerRangeError(ConsentError, ValueError):
    """An index or tree size outside the ledger was asked for."""


class ConsentLedgerMismatch(ConsentError):
    """A consent event row disagrees with the ledger entry it claims to be (or has none).

    The table was changed outside the service; nothing is decided from it. ``ledger_index``
    names the entry and ``fields`` the fields that differ (names only, never values).
    """

    def __init__(self, explanation: str, *, ledger_index: int, fields: Iterable[str]) -> None:
        super().__init__(explanation)
        self.ledger_index = ledger_index
        self.fields: tuple[str, ...] = tuple(fields)
