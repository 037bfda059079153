"""Covenants: read and replace a municipality's covenant, each a unit of work with its
access-log record; and the covenant a match starts under, for the code that coordinates it.

A municipality that never set a covenant has :data:`DEFAULT_TERMS` (docs/coordination.md).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Subject, record_read
from verwijsindex.clock import Clock
from verwijsindex.covenants import repository as repo
from verwijsindex.covenants.durations import format_duration, parse_duration
from verwijsindex.covenants.models import CovenantVersion
from verwijsindex.errors import Conflict, Forbidden, InvalidInput
from verwijsindex.organisations import repository as org_repo
from verwijsindex.organisations.models import Role, Sector
from verwijsindex.storage import Database
from verwijsindex.storage.base import new_id
from verwijsindex.storage.group_commit import GroupCommitter

MIN_PRODUCTION_SPAN = timedelta(hours=1)
"""Production refuses a deadline shorter than this; development accepts seconds (``PT2S``)."""
MAX_DEADLINE = timedelta(days=365)
MAX_RETENTION = timedelta(days=5 * 365)
"""``P5Y`` (a year counts 365 days): earlier involvement is kept at most five years."""


@dataclass(frozen=True, slots=True)
class EarlierInvolvement:
    enabled: bool
    retention: str


@dataclass(frozen=True, slots=True)
class CovenantTerms:
    """What a covenant says, validated."""

    coordinator_sectors: tuple[Sector, ...]
    respond_within: str
    coordinate_within: str
    inform_within: str
    earlier_involvement: EarlierInvolvement


DEFAULT_TERMS = CovenantTerms(
    coordinator_sectors=(
        Sector.YOUTH_PROTECTION,
        Sector.VEILIG_THUIS,
        Sector.MUNICIPAL_TEAM,
        Sector.YOUTH_CARE,
        Sector.HEALTH_CARE,
        Sector.EDUCATION,
        Sector.YOUTH_WORK,
    ),
    respond_within="P2D",
    coordinate_within="P10D",
    inform_within="P14D",
    earlier_involvement=EarlierInvolvement(enabled=False, retention="P5Y"),
)
"""The covenant of a municipality that has not set one (docs/coordination.md)."""


@dataclass(frozen=True, slots=True)
class Covenant:
    """One version of a municipality's covenant. ``id`` is None (and ``version`` 0) for the
    default of a municipality without a covenant of its own."""

    id: str | None
    municipality: str
    version: int
    terms: CovenantTerms
    changed_at: datetime | None
    changed_by_organisation_id: str | None
    changed_by_professional_id: str | None = None
    """The portal professional who made this version (None: through the API)."""

    @property
    def is_default(self) -> bool:
        return self.id is None

    @property
    def coordinator_sectors(self) -> tuple[Sector, ...]:
        return self.terms.coordinator_sectors

    @property
    def respond_span(self) -> timedelta:
        return parse_duration(self.terms.respond_within, "respond_within")

    @property
    def coordinate_span(self) -> timedelta:
        return parse_duration(self.terms.coordinate_within, "coordinate_within")

    @property
    def inform_span(self) -> timedelta:
        return parse_duration(self.terms.inform_within, "inform_within")

    @property
    def earlier_involvement_retention(self) -> timedelta:
        return parse_duration(self.terms.earlier_involvement.retention, "retention")


def default_covenant(municipality: str) -> Covenant:
    return Covenant(
        id=None,
        municipality=municipality,
        version=0,
        terms=DEFAULT_TERMS,
        changed_at=None,
        changed_by_organisation_id=None,
    )


def _of_row(row: CovenantVersion) -> Covenant:
    sectors = tuple(Sector(s) for s in row.coordinator_sectors.split(",") if s)
    return Covenant(
        id=row.id,
        municipality=row.municipality,
        version=row.version,
        terms=CovenantTerms(
            coordinator_sectors=sectors,
            respond_within=row.respond_within,
            coordinate_within=row.coordinate_within,
            inform_within=row.inform_within,
            earlier_involvement=EarlierInvolvement(
                enabled=row.earlier_involvement_enabled,
                retention=row.earlier_involvement_retention,
            ),
        ),
        changed_at=row.changed_at,
        changed_by_organisation_id=row.changed_by_organisation_id,
        changed_by_professional_id=row.changed_by_professional_id,
    )


def _span(text: str, field: str, *, production: bool, maximum: timedelta) -> str:
    span = parse_duration(text, field)
    if production and span < MIN_PRODUCTION_SPAN:
        raise InvalidInput(f"{field} must be at least one hour (PT1H) in production")
    if span > maximum:
        raise InvalidInput(f"{field} must be at most {format_duration(maximum)}")
    return text


def validate_terms(
    *,
    coordinator_sectors: Sequence[str],
    respond_within: str,
    coordinate_within: str,
    inform_within: str = DEFAULT_TERMS.inform_within,
    earlier_involvement_enabled: bool = False,
    earlier_involvement_retention: str = DEFAULT_TERMS.earlier_involvement.retention,
    production: bool,
) -> CovenantTerms:
    """The terms, checked: known sectors without repeats, ISO 8601 durations (at least an
    hour in production, at most a year; the retention at most five years). Raises
    :class:`InvalidInput` naming the field, never the value."""
    sectors: list[Sector] = []
    for value in coordinator_sectors:
        try:
            sector = Sector(value)
        except ValueError:
            raise InvalidInput(
                "coordinator_sectors holds an unknown sector; known: "
                + ", ".join(s.value for s in Sector)
            ) from None
        if sector in sectors:
            raise InvalidInput("coordinator_sectors names a sector twice")
        sectors.append(sector)
    if not sectors:
        raise InvalidInput("coordinator_sectors must name at least one sector")
    return CovenantTerms(
        coordinator_sectors=tuple(sectors),
        respond_within=_span(
            respond_within, "respond_within", production=production, maximum=MAX_DEADLINE
        ),
        coordinate_within=_span(
            coordinate_within, "coordinate_within", production=production, maximum=MAX_DEADLINE
        ),
        inform_within=_span(
            inform_within, "inform_within", production=production, maximum=MAX_DEADLINE
        ),
        earlier_involvement=EarlierInvolvement(
            enabled=earlier_involvement_enabled,
            retention=_span(
                earlier_involvement_retention,
                "earlier_involvement.retention",
                production=production,
                maximum=MAX_RETENTION,
            ),
        ),
    )


@dataclass(frozen=True, slots=True)
class MunicipalityAdmin:
    """A caller acting for a municipality: its organisation and either the API key or (in
    the portal) the signed-in professional."""

    organisation_id: str
    api_key_id: str | None
    role: Role
    professional_id: str | None = None


CURRENT_TTL_SECONDS = 1.0
"""How long a process reuses the current covenant it read for new matches. A change made in
this process applies at once; one made through another process within this time."""


class CurrentCovenants:
    """The current covenant of each municipality as the match path needs it, read at most once
    per :data:`CURRENT_TTL_SECONDS` (a write that opens matches would otherwise read the
    covenants every time, for a table that changes a few times a year)."""

    def __init__(self, ttl: float = CURRENT_TTL_SECONDS) -> None:
        self._ttl = ttl
        self._known: dict[str, tuple[float, Covenant]] = {}

    async def of(
        self, session: AsyncSession, municipalities: Collection[str]
    ) -> dict[str, Covenant]:
        now = time.monotonic()
        found = {
            m: known[1]
            for m in municipalities
            if (known := self._known.get(m)) is not None and now - known[0] < self._ttl
        }
        missing = set(municipalities) - found.keys()
        if missing:
            for municipality, covenant in (
                await CovenantService.current_of(session, missing)
            ).items():
                self._known[municipality] = (now, covenant)
                found[municipality] = covenant
        return found

    def forget(self, municipality: str) -> None:
        self._known.pop(municipality, None)


class CovenantService:
    """Covenants per municipality. ``current``, ``current_of`` and ``covenant_version`` work
    inside a session the caller gives (coordination, informing reminders, statistics); the
    other methods are units of work of their own, each in the access log."""

    def __init__(
        self,
        *,
        database: Database,
        writes: GroupCommitter,
        access_log: AccessLogger,
        clock: Clock,
        production: bool,
    ) -> None:
        self._database = database
        self._writes = writes
        self._access_log = access_log
        self._clock = clock
        self._production = production
        self.current_covenants = CurrentCovenants()
        """What the match path reads covenants through; a replace here forgets its entry."""

    @staticmethod
    async def current(session: AsyncSession, municipality: str) -> Covenant:
        """The municipality's covenant now: its newest version, or the default."""
        row = await repo.current(session, municipality)
        return _of_row(row) if row is not None else default_covenant(municipality)

    @staticmethod
    async def current_of(
        session: AsyncSession, municipalities: Collection[str]
    ) -> dict[str, Covenant]:
        """:meth:`current` of several municipalities in one query."""
        rows = await repo.current_of(session, municipalities)
        return {
            m: _of_row(rows[m]) if m in rows else default_covenant(m) for m in set(municipalities)
        }

    @staticmethod
    async def covenant_version(
        session: AsyncSession, covenant_id: str | None, *, municipality: str = ""
    ) -> Covenant:
        """The version with this id (what a match started under); None is the default."""
        if covenant_id is None:
            return default_covenant(municipality)
        row = await repo.by_id(session, covenant_id)
        if row is None:  # pragma: no cover - versions are never deleted
            return default_covenant(municipality)
        return _of_row(row)

    async def _check_manager(
        self, session: AsyncSession, caller: MunicipalityAdmin, municipality: str
    ) -> None:
        """A municipality-admin manages only its own municipality's covenant."""
        organisation = await org_repo.get_organisation(session, caller.organisation_id)
        if (
            caller.role is not Role.MUNICIPALITY_ADMIN
            or organisation is None
            or organisation.sector != Sector.MUNICIPALITY
            or organisation.municipality != municipality
        ):
            raise Forbidden("a municipality-admin manages only its own municipality's covenant")

    async def read(
        self, access: AccessContext, caller: MunicipalityAdmin, municipality: str
    ) -> Covenant:
        async with self._database.read() as session:
            await self._check_manager(session, caller, municipality)
            covenant = await self.current(session, municipality)
        await record_read(
            self._writes,
            self._access_log,
            access,
            Operation.COVENANT_READ,
            [Subject.reference("covenant", municipality)],
        )
        return covenant

    async def versions(
        self, access: AccessContext, caller: MunicipalityAdmin, municipality: str
    ) -> list[Covenant]:
        """Every version, newest first: who changed the covenant and when."""
        async with self._database.read() as session:
            await self._check_manager(session, caller, municipality)
            rows = await repo.versions(session, municipality)
        await record_read(
            self._writes,
            self._access_log,
            access,
            Operation.COVENANT_VERSIONS,
            [Subject.reference("covenant", municipality)],
        )
        return [_of_row(r) for r in rows]

    async def replace(
        self,
        access: AccessContext,
        caller: MunicipalityAdmin,
        municipality: str,
        terms: CovenantTerms,
    ) -> Covenant:
        """A new version of the municipality's covenant from now on; matches that started
        under an earlier version keep it. 409 when another change took the same version."""
        try:
            async with self._database.transaction() as session:
                await self._check_manager(session, caller, municipality)
                previous = await repo.current(session, municipality)
                row = CovenantVersion(
                    id=new_id(),
                    municipality=municipality,
                    version=(previous.version if previous is not None else 0) + 1,
                    coordinator_sectors=",".join(s.value for s in terms.coordinator_sectors),
                    respond_within=terms.respond_within,
                    coordinate_within=terms.coordinate_within,
                    inform_within=terms.inform_within,
                    earlier_involvement_enabled=terms.earlier_involvement.enabled,
                    earlier_involvement_retention=terms.earlier_involvement.retention,
                    changed_at=self._clock.now(),
                    changed_by_organisation_id=caller.organisation_id,
                    changed_by_api_key_id=caller.api_key_id,
                    changed_by_professional_id=caller.professional_id,
                )
                await repo.add(session, row)
                await self._access_log.record(
                    session,
                    access,
                    operation=Operation.COVENANT_UPDATE,
                    subject=Subject.reference("covenant", municipality),
                    reference=f"covenant-version:{row.id}",
                )
            self.current_covenants.forget(municipality)
        except IntegrityError:
            raise Conflict(
                "the covenant was changed at the same moment; read it and retry"
            ) from None
        return _of_row(row)

    def validate(
        self,
        *,
        coordinator_sectors: Sequence[str],
        respond_within: str,
        coordinate_within: str,
        inform_within: str,
        earlier_involvement_enabled: bool,
        earlier_involvement_retention: str,
    ) -> CovenantTerms:
        """:func:`validate_terms` with this deployment's rule (production: at least an hour)."""
        return validate_terms(
            coordinator_sectors=coordinator_sectors,
            respond_within=respond_within,
            coordinate_within=coordinate_within,
            inform_within=inform_within,
            earlier_involvement_enabled=earlier_involvement_enabled,
            earlier_involvement_retention=earlier_involvement_retention,
            production=self._production,
        )
