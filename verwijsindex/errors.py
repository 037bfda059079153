"""Domain errors of the index. They carry no HTTP status: ``http/problems.py`` maps them.

Messages never contain a BSN, birth date, name or contact detail.
"""


class VerwijsindexError(Exception):
    """Base class of every error the index raises on purpose."""

    code = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(VerwijsindexError):
    code = "invalid-input"


class InvalidBSN(InvalidInput):
    code = "invalid-bsn"


class InvalidBirthDate(InvalidInput):
    code = "invalid-birth-date"


class SubjectTooOld(InvalidInput):
    code = "subject-too-old"


class InvalidTerm(InvalidInput):
    code = "invalid-term"


class Forbidden(VerwijsindexError):
    """The actor may not do this (for example act for a professional of another
    organisation)."""

    code = "forbidden"


class ProfessionalNotInOrganisation(Forbidden):
    code = "professional-not-in-organisation"


class NotFound(VerwijsindexError):
    code = "not-found"


class Conflict(VerwijsindexError):
    code = "conflict"


class RegistrationNotActive(Conflict):
    code = "registration-not-active"


class BlindPathClosed(Conflict):
    """A subject token while the blind path is not open (no key service configured, or
    active registrations still under pseudonyms of the BSN; docs/blind-pseudonyms.md)."""

    code = "blind-path-closed"


class SubjectTokenOutdated(Conflict):
    """Subject tokens that do not cover exactly the key service's key versions (a client
    that has not seen a rotation): fetch the key service's keys again and retry."""

    code = "subject-token-outdated"


class ServiceUnavailable(VerwijsindexError):
    code = "service-unavailable"


class KeyServiceUnavailable(ServiceUnavailable):
    """The key service could not be used (down, refusing, or a proof that does not verify);
    the direct path with a key service configured waits for it rather than store a
    pseudonym the blind path cannot find."""

    code = "keyservice-unavailable"


class ConfigurationError(VerwijsindexError):
    code = "configuration-error"


class Unauthenticated(VerwijsindexError):
    """A request between a region and the hub is not signed by the key it must be signed by."""

    code = "unauthorized"
