"""Reading family matches: what an organisation may see of the family matches it takes part
in, each read in the access log before it is answered."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Subject, record_read
from verwijsindex.errors import NotFound
from verwijsindex.families import repository as repo
from verwijsindex.families.repository import FamilyHead, FamilyView
from verwijsindex.matches.repository import ParticipantView
from verwijsindex.storage import Database
from verwijsindex.storage.group_commit import GroupCommitter


def _subject(family_match_id: str) -> Subject:
    return Subject.reference("family_match", family_match_id)


def shown_to(view: FamilyView, organisation_id: str) -> FamilyView:
    """What ``organisation_id`` sees of the family match: its own registrations as they are;
    of every other professional one entry (the first time it joined, still taking part when
    any of its registrations is), without registration id or date. Nothing tells which child
    or which parent a participation is about (ADR 0016)."""
    own: list[ParticipantView] = []
    others: dict[str, ParticipantView] = {}
    for p in view.participants:
        if p.organisation_id == organisation_id:
            own.append(p)
            continue
        seen = others.get(p.professional_id)
        if seen is None:
            others[p.professional_id] = replace(p, registration_id="", registered_at=p.joined_at)
        elif seen.left_at is not None and (p.left_at is None or p.left_at > seen.left_at):
            others[p.professional_id] = replace(seen, left_at=p.left_at)
    merged = sorted([*own, *others.values()], key=lambda p: p.joined_at)
    return replace(view, participants=merged)


class FamilyMatchService:
    """The family matches an organisation takes part in, read in a snapshot and logged."""

    def __init__(
        self, *, database: Database, writes: GroupCommitter, access_log: AccessLogger
    ) -> None:
        self._database = database
        self._writes = writes
        self._access_log = access_log

    async def get(
        self, access: AccessContext, *, organisation_id: str, family_match_id: str
    ) -> FamilyView:
        """The family match as :func:`shown_to` the organisation; NotFound when it never took
        part. Logged: the family match and every professional whose contact details are
        shown."""
        async with self._database.read() as session:
            view = await repo.family_match_for_organisation(
                session, family_match_id=family_match_id, organisation_id=organisation_id
            )
        if view is None:
            raise NotFound("family match not found")
        subjects = [_subject(view.id)]
        professionals = dict.fromkeys(p.professional_id for p in view.participants)
        subjects += [Subject.professional(pro_id) for pro_id in professionals]
        await record_read(
            self._writes, self._access_log, access, Operation.FAMILY_MATCH_READ, subjects
        )
        return shown_to(view, organisation_id)

    async def page(
        self,
        access: AccessContext,
        *,
        organisation_id: str,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> tuple[list[FamilyHead], bool]:
        """Up to ``limit`` of the organisation's family matches after the cursor, oldest
        first, and whether more follow. Logged: each family match listed."""
        async with self._database.read() as session:
            rows = await repo.list_family_matches(
                session,
                organisation_id=organisation_id,
                status=status,
                after=after,
                limit=limit + 1,
            )
        page = rows[:limit]
        subjects = [_subject(f.id) for f in page]
        await record_read(
            self._writes, self._access_log, access, Operation.FAMILY_MATCH_LIST, subjects
        )
        return page, len(rows) > limit
