"""Consent events and the rules that fold them into a decision.

State is never updated in place: every professional action is an immutable
:class:`ConsentEvent`, and the question "may organisation A disclose data category C to
organisation B for purpose P at time t?" is answered by :func:`fold` over the events.

Example::

    decision = fold(events, sender="org-a", recipient="org-b",
                    purpose=Purpose.CARE_COORDINATION, category=DataCategory.CARE, at=now)
    consent_reference = decision.require()   # raises ConsentRequired when not allowed

The rules, precisely
--------------------
*Scope.* An event recorded by organisation R about counterpart K covers the flows
R→K (``outgoing``), K→R (``incoming``) or both (``both``). Its *scope* is the set of cells
``(sender, recipient, category)`` for those flows and its data categories. The purpose is
not part of the scope: an event only ever speaks about its own purpose.

*Applicable.* For the question (A→B, P, C, t) and one grantor role, an event is applicable
when it has that grantor role and purpose P, its scope contains (A, B, C), it was recorded
at or before t, and it is in force at t: ``valid_from`` (default: ``recorded_at``) <= t and
t < ``valid_until`` when that is set. Only grants carry a validity window; refusals and
withdrawals take effect when recorded and do not expire. Expiry ends a grant without an
event. Events recorded after t are ignored, so a past decision can be reproduced exactly.

*Withdrawal retracts.* A withdrawal cancels every applicable grant of the same grantor
role recorded at or before it, however specific that grant was: withdrawing consent for
"everything" also retracts an earlier narrow grant. A refusal does not retract anything;
it answers a request and stands as a "no" for its own scope.

*Specificity.* Event E is more specific than event F when scope(E) is a strict subset of
scope(F), e.g. ``outgoing`` is more specific than ``both`` with the same categories, and
{health} is more specific than {health, care} with the same direction. Of the remaining
applicable events (grants not cancelled, refusals, withdrawals) only the *most specific*
ones decide: those for which no other remaining applicable event is more specific. So a
narrow grant carves an exception out of a broad refusal, and a narrow refusal or
withdrawal carves one out of a broad grant, whatever their order in time.

*Equal specificity.* Among the deciding events the most recently recorded wins; when a
refusal or withdrawal and a grant were recorded at the same instant, the refusal or
withdrawal wins. In other words, at equal specificity a refusal or withdrawal beats every
grant recorded at or before it, and only a grant recorded strictly later re-enables
consent (consent can be given again after it was refused or withdrawn).

The result per grantor role is *granted* (with the grants it rests on), *refused* or
*none*. Grantor roles are folded separately; all parents are one role and all guardians
another (the index holds no identity of the grantor).

*Age rules.* The band applied is the one stored with the most recently recorded event of
the given events (at or before t; at equal time the oldest band), unless the caller passes
``age_band``. The band cannot advance on its own because the birth date is not kept.

- ``under-12``: allowed when a parent or a guardian has granted and neither a parent
  nor a guardian has refused. Events of the youth are not counted.
- ``12-15``: allowed when the youth has granted, a parent or guardian has granted, and
  none of youth, parent or guardian has refused.
- ``16-plus``: allowed when the youth has granted. Parents and guardians are not counted,
  neither their grants nor their refusals.

A decision that is not allowed names the parties whose grant is *missing* (neither granted
nor refused) and the grantor roles whose refusal or withdrawal blocks it (*refused_by*).
The *consent reference* of an allowed decision lists the ids of the grants it rests on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from consent._errors import ConsentRequired, InvalidConsent
from consent._vocabulary import (
    AgeBand,
    DataCategory,
    Direction,
    EventKind,
    GrantorRole,
    LegalGround,
    Method,
    Party,
    Purpose,
)

Cell = tuple[str, str, DataCategory]
"""``(sender organisation id, recipient organisation id, data category)``."""

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_BAND_ORDER = {AgeBand.UNDER_12: 0, AgeBand.FROM_12_TO_15: 1, AgeBand.FROM_16: 2}
_REPRESENTATIVES = (GrantorRole.PARENT, GrantorRole.GUARDIAN)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidConsent(f"{name} must be a timezone-aware datetime")


def _require_member(value: object, enum: type[Enum], name: str) -> None:
    if not isinstance(value, enum):
        raise InvalidConsent(f"{name} must be a {enum.__name__}")


@dataclass(frozen=True, kw_only=True)
class ConsentEvent:
    """One recorded consent event. Immutable; state is derived by :func:`fold`.

    ``organisation_id`` is the recorder's organisation, ``direction`` is seen from it.
    ``age_band`` is the youth's band on the day of the event (see :func:`age_band`).
    ``evidence_hash`` is the lowercase hex SHA-256 of a signed form or recording kept by
    the organisation, never the evidence itself.
    """

    id: str
    recorded_at: datetime
    organisation_id: str
    counterpart_organisation_id: str
    kind: EventKind
    grantor: GrantorRole
    purpose: Purpose
    data_categories: frozenset[DataCategory]
    direction: Direction
    age_band: AgeBand
    method: Method
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    evidence_hash: str | None = None

    def __post_init__(self) -> None:
        for name in ("id", "organisation_id", "counterpart_organisation_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise InvalidConsent(f"{name} must be a non-empty string")
        if self.organisation_id == self.counterpart_organisation_id:
            raise InvalidConsent("the counterpart must be another organisation")
        _require_aware(self.recorded_at, "recorded_at")
        _require_member(self.kind, EventKind, "kind")
        _require_member(self.grantor, GrantorRole, "grantor")
        _require_member(self.purpose, Purpose, "purpose")
        _require_member(self.direction, Direction, "direction")
        _require_member(self.age_band, AgeBand, "age_band")
        _require_member(self.method, Method, "method")
        if not isinstance(self.data_categories, frozenset) or not self.data_categories:
            raise InvalidConsent("data_categories must be a non-empty frozenset")
        for category in self.data_categories:
            _require_member(category, DataCategory, "each data category")
        if self.kind is not EventKind.GIVEN and (
            self.valid_from is not None or self.valid_until is not None
        ):
            raise InvalidConsent("only a grant has a validity period")
        if self.valid_from is not None:
            _require_aware(self.valid_from, "valid_from")
        if self.valid_until is not None:
            _require_aware(self.valid_until, "valid_until")
            if self.valid_until <= self.effective_from:
                raise InvalidConsent("valid_until must be after the start of validity")
        if self.evidence_hash is not None and not _HEX_SHA256.fullmatch(self.evidence_hash):
            raise InvalidConsent("evidence_hash must be 64 lowercase hex digits (SHA-256)")

    @property
    def effective_from(self) -> datetime:
        return self.valid_from if self.valid_from is not None else self.recorded_at

    @property
    def is_grant(self) -> bool:
        return self.kind is EventKind.GIVEN

    @property
    def flows(self) -> frozenset[tuple[str, str]]:
        """The (sender, recipient) pairs this event speaks about."""
        out = (self.organisation_id, self.counterpart_organisation_id)
        inc = (self.counterpart_organisation_id, self.organisation_id)
        if self.direction is Direction.OUTGOING:
            return frozenset({out})
        if self.direction is Direction.INCOMING:
            return frozenset({inc})
        return frozenset({out, inc})

    @property
    def scope(self) -> frozenset[Cell]:
        return frozenset(
            (sender, recipient, category)
            for sender, recipient in self.flows
            for category in self.data_categories
        )

    def in_force(self, at: datetime) -> bool:
        """Whether the event was recorded and is valid at ``at``."""
        if self.recorded_at > at or self.effective_from > at:
            return False
        return self.valid_until is None or at < self.valid_until


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The answer of :func:`fold`. If it is wrong to ignore it, call :meth:`require`."""

    allowed: bool
    consent_reference: tuple[str, ...]
    missing: tuple[Party, ...]
    refused_by: tuple[GrantorRole, ...]
    age_band: AgeBand | None
    explanation: str

    def require(self) -> tuple[str, ...]:
        """Return the consent reference, or raise :class:`ConsentRequired`."""
        if not self.allowed:
            raise ConsentRequired(
                self.explanation,
                missing=[p.value for p in self.missing],
                refused_by=[r.value for r in self.refused_by],
            )
        return self.consent_reference


@dataclass(frozen=True, kw_only=True)
class ConsentState:
    """The folded decision for one (sender→recipient, purpose, category)."""

    sender: str
    recipient: str
    purpose: Purpose
    category: DataCategory
    decision: Decision


class _Status(Enum):
    NONE = "none"
    GRANTED = "granted"
    REFUSED = "refused"


@dataclass(frozen=True)
class _RoleVerdict:
    status: _Status
    event_ids: tuple[str, ...]


def _role_verdict(
    events: Sequence[ConsentEvent],
    role: GrantorRole,
    cell: Cell,
    purpose: Purpose,
    at: datetime,
) -> _RoleVerdict:
    applicable = [
        e
        for e in events
        if e.grantor is role and e.purpose is purpose and e.in_force(at) and cell in e.scope
    ]
    withdrawals = [e for e in applicable if e.kind is EventKind.WITHDRAWN]
    remaining = [
        e
        for e in applicable
        if not (e.is_grant and any(w.recorded_at >= e.recorded_at for w in withdrawals))
    ]
    deciding = [e for e in remaining if not any(f.scope < e.scope for f in remaining)]
    if not deciding:
        # Only cancelled grants (or nothing) apply: a withdrawal always remains, so an
        # empty list here means nothing at all was recorded for this role.
        return _RoleVerdict(_Status.NONE, ())
    latest = max(e.recorded_at for e in deciding)
    top = [e for e in deciding if e.recorded_at == latest]
    refusals = sorted(e.id for e in top if not e.is_grant)
    if refusals:
        return _RoleVerdict(_Status.REFUSED, tuple(refusals))
    return _RoleVerdict(_Status.GRANTED, tuple(sorted(e.id for e in top)))


def current_age_band(events: Iterable[ConsentEvent], at: datetime) -> AgeBand | None:
    """The band stored with the most recently recorded event at or before ``at``."""
    known = [e for e in events if e.recorded_at <= at]
    if not known:
        return None
    latest = max(e.recorded_at for e in known)
    return min((e.age_band for e in known if e.recorded_at == latest), key=_BAND_ORDER.__getitem__)


_RULE_TEXT = {
    AgeBand.UNDER_12: "a parent or guardian must consent",
    AgeBand.FROM_12_TO_15: "both the youth and a parent or guardian must consent",
    AgeBand.FROM_16: "the youth alone must consent",
}


def fold(
    events: Iterable[ConsentEvent],
    *,
    sender: str,
    recipient: str,
    purpose: Purpose,
    category: DataCategory,
    at: datetime,
    age_band: AgeBand | None = None,
) -> Decision:
    """Decide whether ``sender`` may disclose ``category`` to ``recipient`` for ``purpose``.

    ``events`` are all consent events of one match, in any order. See the module
    docstring for the rules. ``age_band`` overrides the band derived from the events.
    """
    _require_aware(at, "at")
    _require_member(purpose, Purpose, "purpose")
    _require_member(category, DataCategory, "category")
    if sender == recipient:
        raise InvalidConsent("sender and recipient must be different organisations")
    materialised = list(events)
    band = age_band if age_band is not None else current_age_band(materialised, at)
    subject = f"{sender} → {recipient}, {purpose.value}, {category.value}"
    if band is None:
        return Decision(
            allowed=False,
            consent_reference=(),
            missing=(Party.YOUTH, Party.PARENT_OR_GUARDIAN),
            refused_by=(),
            age_band=None,
            explanation=f"Not allowed ({subject}): no consent event has been recorded.",
        )
    cell: Cell = (sender, recipient, category)
    verdicts = {role: _role_verdict(materialised, role, cell, purpose, at) for role in GrantorRole}
    if band is AgeBand.UNDER_12:
        counted: tuple[GrantorRole, ...] = _REPRESENTATIVES
    elif band is AgeBand.FROM_12_TO_15:
        counted = (GrantorRole.YOUTH, *_REPRESENTATIVES)
    else:
        counted = (GrantorRole.YOUTH,)
    refused_by = tuple(r for r in counted if verdicts[r].status is _Status.REFUSED)
    granted = [r for r in counted if verdicts[r].status is _Status.GRANTED]

    missing: list[Party] = []
    if GrantorRole.YOUTH in counted and verdicts[GrantorRole.YOUTH].status is _Status.NONE:
        missing.append(Party.YOUTH)
    if GrantorRole.PARENT in counted and all(
        verdicts[r].status is _Status.NONE for r in _REPRESENTATIVES
    ):
        missing.append(Party.PARENT_OR_GUARDIAN)

    allowed = not refused_by and not missing
    if allowed:
        reference = tuple(sorted(i for r in granted for i in verdicts[r].event_ids))
        who = ", ".join(r.value for r in granted)
        explanation = (
            f"Allowed ({subject}): age band {band.value}, {_RULE_TEXT[band]}; "
            f"consent recorded by: {who}."
        )
        return Decision(
            allowed=True,
            consent_reference=reference,
            missing=(),
            refused_by=(),
            age_band=band,
            explanation=explanation,
        )
    reasons = []
    if missing:
        reasons.append("no consent recorded by " + " and ".join(p.value for p in missing))
    if refused_by:
        reasons.append(
            "consent refused or withdrawn by " + " and ".join(r.value for r in refused_by)
        )
    explanation = (
        f"Not allowed ({subject}): age band {band.value}, {_RULE_TEXT[band]}; "
        + "; ".join(reasons)
        + "."
    )
    return Decision(
        allowed=False,
        consent_reference=(),
        missing=tuple(missing),
        refused_by=refused_by,
        age_band=band,
        explanation=explanation,
    )


def state(
    events: Iterable[ConsentEvent], at: datetime, *, age_band: AgeBand | None = None
) -> tuple[ConsentState, ...]:
    """Fold every (sender→recipient, purpose, category) some event speaks about.

    Sorted by sender, recipient, purpose and category; cells no event mentions are left
    out (they are simply not allowed).
    """
    _require_aware(at, "at")
    materialised = list(events)
    keys = sorted(
        {
            (sender, recipient, e.purpose, category)
            for e in materialised
            if e.recorded_at <= at
            for sender, recipient, category in e.scope
        }
    )
    return tuple(
        ConsentState(
            sender=sender,
            recipient=recipient,
            purpose=purpose,
            category=category,
            decision=fold(
                materialised,
                sender=sender,
                recipient=recipient,
                purpose=purpose,
                category=category,
                at=at,
                age_band=age_band,
            ),
        )
        for sender, recipient, purpose, category in keys
    )


# --- legal grounds for an exchange without consent ---------------------------------------

MIN_JUSTIFICATION_CHARS = 100
MIN_JUSTIFICATION_SENTENCES = 3
MAX_JUSTIFICATION_CHARS = 4000
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_BSN_LIKE = re.compile(r"\d{9}")


@dataclass(frozen=True, kw_only=True)
class LegalGroundClaim:
    """A validated legal ground with its written justification; always flagged for audit."""

    ground: LegalGround
    justification: str


def _sentences(text: str) -> list[str]:
    parts = _SENTENCE_END.split(text)
    return [p for p in (part.strip() for part in parts) if len(p.split()) >= 3]


def validate_justification(justification: object) -> str:
    """Check the written justification of a legal ground; return it without surrounding
    white space, or raise :class:`InvalidConsent` naming the rule it breaks.

    At least 100 characters and three sentences (of three or more words each), at most
    4000 characters, and no run of nine digits (a BSN has no place in it).
    """
    if not isinstance(justification, str):
        raise InvalidConsent("the justification must be text")
    text = justification.strip()
    if len(text) < MIN_JUSTIFICATION_CHARS:
        raise InvalidConsent(
            f"the justification must be at least {MIN_JUSTIFICATION_CHARS} characters"
        )
    if len(text) > MAX_JUSTIFICATION_CHARS:
        raise InvalidConsent(
            f"the justification must be at most {MAX_JUSTIFICATION_CHARS} characters"
        )
    if len(_sentences(text)) < MIN_JUSTIFICATION_SENTENCES:
        raise InvalidConsent(
            f"the justification must have at least {MIN_JUSTIFICATION_SENTENCES} sentences"
        )
    if _BSN_LIKE.search(text):
        raise InvalidConsent("the justification must not contain a BSN or other long number")
    return text


def validate_legal_ground(code: str, justification: str) -> LegalGroundClaim:
    """Check a legal ground for an exchange without consent.

    ``code`` must be one of :class:`LegalGround`; the justification must pass
    :func:`validate_justification`.
    """
    try:
        ground = LegalGround(code)
    except ValueError:
        allowed = ", ".join(g.value for g in LegalGround)
        raise InvalidConsent(f"unknown legal ground; expected one of: {allowed}") from None
    return LegalGroundClaim(ground=ground, justification=validate_justification(justification))
