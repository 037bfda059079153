"""The fixed vocabulary of consent events and the age bands of the youth.

Every value here is part of the public interface (see docs/api.md): the string value of
each member is exactly the code an integrator sends and receives.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from consent._errors import InvalidBirthDate

__all__ = [
    "AgeBand",
    "DataCategory",
    "Direction",
    "EventKind",
    "GrantorRole",
    "LegalGround",
    "Method",
    "Party",
    "Purpose",
    "age_band",
]


class Purpose(StrEnum):
    CARE_COORDINATION = "care-coordination"
    SAFETY_ASSESSMENT = "safety-assessment"
    EDUCATION_SUPPORT = "education-support"


class DataCategory(StrEnum):
    CARE = "care"
    EDUCATION = "education"
    SAFETY = "safety"
    HEALTH = "health"
    JUSTICE = "justice"


class Direction(StrEnum):
    """Seen from the organisation that records the event.

    ``outgoing``: the recorder's organisation may disclose to the counterpart;
    ``incoming``: the counterpart may disclose to the recorder's organisation;
    ``both``: either way.
    """

    OUTGOING = "outgoing"
    INCOMING = "incoming"
    BOTH = "both"


class EventKind(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class GrantorRole(StrEnum):
    YOUTH = "youth"
    PARENT = "parent"
    GUARDIAN = "guardian"


class Party(StrEnum):
    """A party whose consent the age rules may require.

    Parents and guardians form one party: the legal representative(s) of the youth.
    """

    YOUTH = "youth"
    PARENT_OR_GUARDIAN = "parent-or-guardian"


class Method(StrEnum):
    ORAL = "oral"
    WRITTEN = "written"
    DIGITAL = "digital"


class AgeBand(StrEnum):
    """The youth's age band at the time of an event. The birth date itself is never kept."""

    UNDER_12 = "under-12"
    FROM_12_TO_15 = "12-15"
    FROM_16 = "16-plus"


class LegalGround(StrEnum):
    """Grounds for an exchange without consent; each needs a written justification."""

    MELDRECHT = "meldrecht"
    """The child's safety is directly at stake (Wmo 2015 art. 5.2.6, conflict van plichten)."""
    COURT_MEASURE = "court-measure"
    """A child protection measure ordered by a court (Jeugdwet art. 7.3.11)."""
    LEGAL_DUTY = "legal-duty"
    """Another statutory duty to provide the information."""

    @property
    def statutory_reference(self) -> str:
        return _LEGAL_REFERENCES[self]


_LEGAL_REFERENCES = {
    LegalGround.MELDRECHT: "Wmo 2015 art. 5.2.6; conflict van plichten",
    LegalGround.COURT_MEASURE: "Jeugdwet art. 7.3.11",
    LegalGround.LEGAL_DUTY: "AVG art. 6(1)(c)",
}

_MAX_AGE_EXCLUSIVE = 23


def _age_in_years(birth_date: date, on: date) -> int:
    # The birthday of someone born on 29 February counts as 1 March in other years.
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - int(before_birthday)


def age_band(birth_date: date, on: date) -> AgeBand:
    """Return the youth's :class:`AgeBand` on the day ``on``.

    Raise :class:`InvalidBirthDate` when ``birth_date`` is after ``on`` or the youth is
    23 or older on ``on`` (only youths younger than 23 may be registered). ``on`` should be
    the Dutch calendar date (Europe/Amsterdam) of the event.
    """
    if not isinstance(birth_date, date) or not isinstance(on, date):
        raise InvalidBirthDate("the birth date and the reference date must be dates")
    if birth_date > on:
        raise InvalidBirthDate("the birth date lies in the future")
    age = _age_in_years(birth_date, on)
    if age >= _MAX_AGE_EXCLUSIVE:
        raise InvalidBirthDate("the youth is 23 or older")
    if age < 12:
        return AgeBand.UNDER_12
    if age < 16:
        return AgeBand.FROM_12_TO_15
    return AgeBand.FROM_16
