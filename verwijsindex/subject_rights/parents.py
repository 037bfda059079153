"""A parent's or guardian's rights (AVG art. 15 and 17, ADR 0024), exercised by the
municipality's privacy officer for a verified request carrying the parent's BSN.

What the index holds of a parent is its links to active registrations
(``registration_parents``); a link ends with its registration. Access lists the registrations
that name the parent, each marked whether it may be disclosed to them; erasure removes the
links, and the family matches that rested on them are looked at again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import crypto
from crypto import Pseudonym
from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Subject
from verwijsindex.blind.service import BlindPath
from verwijsindex.clock import Clock
from verwijsindex.families import repository as family_repo
from verwijsindex.families.index import FamilyIndex
from verwijsindex.families.models import FamilyMatch
from verwijsindex.keys import KeyRing
from verwijsindex.organisations import repository as org_repo
from verwijsindex.organisations.models import Organisation
from verwijsindex.registrations import repository as repo
from verwijsindex.registrations.duties import informing_records
from verwijsindex.registrations.models import (
    InformingStatus,
    Registration,
    RegistrationInforming,
)
from verwijsindex.storage import Database
from verwijsindex.storage.checkpoint import truncate_log


@dataclass(frozen=True)
class ParentLink:
    """An active registration that names the parent, as the privacy officer sees it."""

    registration: Registration
    organisation: Organisation
    informing: RegistrationInforming | None
    """The registration's latest record of the duty to inform, if any."""
    family_match: FamilyMatch | None
    """The open family match the registration takes part in, if any."""

    @property
    def disclose(self) -> bool:
        """Whether the parent may be told of this registration (ADR 0024): only once its
        latest record says the parents were informed. Postponed informing (to protect the
        youth or others), nothing recorded yet, or only the youth informed (16 and older:
        the parents are not told) mean the officer withholds it (UAVG art. 41(1)(i))."""
        record = self.informing
        return (
            record is not None
            and record.status == InformingStatus.INFORMED
            and record.parents_informed
        )


@dataclass(frozen=True)
class ParentAccessReport:
    links: list[ParentLink]
    access_log_pseudonym: str


@dataclass(frozen=True)
class ParentErasureReport:
    unlinked_registrations: int
    family_matches_changed: int
    access_log_pseudonym: str
    completed_at: datetime


class ParentRightsService:
    """A parent's or guardian's rights (AVG art. 15 and 17), exercised by the municipality's
    privacy officer for a verified request carrying the parent's BSN. What the index holds of
    a parent is its links to active registrations (``registration_parents``); a link ends with
    its registration, so ended registrations hold nothing of the parent."""

    def __init__(
        self,
        *,
        keys: KeyRing,
        clock: Clock,
        database: Database,
        access_log: AccessLogger,
        blind: BlindPath | None = None,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._database = database
        self._access_log = access_log
        self._blind = blind
        self._families = FamilyIndex()

    async def _pseudonyms(self, bsn: crypto.BSN) -> list[Pseudonym]:
        """Every pseudonym a link can name the parent by: of the BSN under every key version
        and, with a key service, of its subject tokens (obtained before the transaction)."""
        pseudonyms = self._keys.all_parent_pseudonyms(bsn)
        if self._blind is not None and self._blind.configured:
            (tokens,) = await self._blind.tokens_for([bsn])
            for token in (tokens.current, *tokens.earlier):
                pseudonyms.extend(self._keys.blind_parent_pseudonyms(token))
        return pseudonyms

    def _log_pseudonym(self, bsn: crypto.BSN, actor_organisation_id: str | None) -> str:
        return str(self._keys.all_access_log_subjects(bsn, [actor_organisation_id])[0])

    async def request_access(
        self, access: AccessContext, *, bsn: crypto.BSN, actor_organisation_id: str | None
    ) -> ParentAccessReport:
        """The registrations naming the parent, each with whether it may be disclosed; one
        unit of work, recorded in the access log under the parent's access-log pseudonym."""
        pseudonyms = await self._pseudonyms(bsn)
        log_pseudonym = self._log_pseudonym(bsn, actor_organisation_id)
        async with self._database.transaction() as session:
            links = await self._links(session, pseudonyms)
            await self._access_log.record(
                session,
                access,
                operation=Operation.SUBJECT_ACCESS,
                subject=Subject.person(log_pseudonym),
            )
        return ParentAccessReport(links=links, access_log_pseudonym=log_pseudonym)

    async def _links(self, session: AsyncSession, pseudonyms: list[Pseudonym]) -> list[ParentLink]:
        ids = await family_repo.registrations_of_parents(session, pseudonyms)
        if not ids:
            return []
        registrations = (
            await session.execute(
                select(Registration)
                .where(Registration.id.in_(ids))
                .order_by(Registration.created_at, Registration.id)
            )
        ).scalars()
        family_of = await family_repo.open_families_of_registrations(session, ids)
        families = {
            f.id: f
            for f in await family_repo.family_matches(session, sorted(set(family_of.values())))
        }
        organisations: dict[str, Organisation] = {}
        links = []
        for registration in registrations:
            if registration.organisation_id not in organisations:
                found = await org_repo.get_organisation(session, registration.organisation_id)
                assert found is not None
                organisations[registration.organisation_id] = found
            records = await informing_records(session, registration.id)
            family_id = family_of.get(registration.id)
            links.append(
                ParentLink(
                    registration=registration,
                    organisation=organisations[registration.organisation_id],
                    informing=records[-1] if records else None,
                    family_match=families.get(family_id) if family_id else None,
                )
            )
        return links

    async def request_erasure(
        self,
        access: AccessContext,
        *,
        bsn: crypto.BSN,
        reason: str,
        request_reference: str,
        actor_organisation_id: str | None,
    ) -> ParentErasureReport:
        """Remove every link naming the parent: the registrations stay (they are the youths'),
        the family matches they take part in are looked at again (a participant left without
        a link leaves, with the usual webhook events; below two participants a family match
        closes). One unit of work recorded in the access log; then the SQLite write-ahead log
        is truncated, as after a youth's erasure."""
        pseudonyms = await self._pseudonyms(bsn)
        log_pseudonym = self._log_pseudonym(bsn, actor_organisation_id)
        now = self._clock.now()
        async with self._database.transaction() as session:
            await repo.lock_subjects(session, pseudonyms)
            unlinked, changed = await self._families.unlink_parent(session, pseudonyms, now)
            await self._access_log.record(
                session,
                access,
                operation=Operation.SUBJECT_ERASURE,
                subject=Subject.person(log_pseudonym),
                reason=reason,
                reference=request_reference,
            )
        await truncate_log(self._database)
        return ParentErasureReport(
            unlinked_registrations=len(unlinked),
            family_matches_changed=changed,
            access_log_pseudonym=log_pseudonym,
            completed_at=now,
        )
