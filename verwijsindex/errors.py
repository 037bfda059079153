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


class ConfigurationError(VerwijsindexError):
    code = "configuration-error"
