"""Reading matches: what an organisation may see of the matches it takes part in, each read
in the access log before it is answered."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Subject, record_read
from verwijsindex.coordination import repository as coordination_repo
from verwijsindex.errors import NotFound
from verwijsindex.matches import repository as repo
from verwijsindex.matches.repository import MatchHead, MatchView
from verwijsindex.storage import Database
from verwijsindex.storage.group_commit import GroupCommitter


class MatchService:
    """The matches an organisation takes part in, read in a snapshot and logged."""

    def __init__(
        self, *, database: Database, writes: GroupCommitter, access_log: AccessLogger
    ) -> None:
        self._database = database
        self._writes = writes
        self._access_log = access_log

    @staticmethod
    async def open_participants(
        session: AsyncSession, *, match_id: str, organisation_id: str
    ) -> set[str]:
        """The organisations taking part in the open match, inside the caller's unit of work;
        NotFound when the match is not open or ``organisation_id`` does not take part."""
        organisations = await repo.open_match_participant_organisations(session, match_id)
        if organisations is None or organisation_id not in organisations:
            raise NotFound("match not found")
        return organisations

    @staticmethod
    async def share_open_match(
        session: AsyncSession, organisation_a: str, organisation_b: str
    ) -> bool:
        """Whether both organisations take part in one open match."""
        return await repo.share_open_match(session, organisation_a, organisation_b)

    async def get(self, access: AccessContext, *, organisation_id: str, match_id: str) -> MatchView:
        """The match with its participants' organisations and contact details and its
        coordination (status, level, coordinator, deadline); NotFound when
        the organisation does not take part. Logged: the youth (by match reference) and every
        professional whose contact details are shown."""
        async with self._database.read() as session:
            match = await repo.match_for_organisation(
                session, match_id=match_id, organisation_id=organisation_id
            )
            if match is None:
                raise NotFound("match not found")
            coordination = await coordination_repo.summary(session, match_id)
        match = replace(match, coordination=coordination)
        subjects = [Subject.match(match.id)]
        professionals = dict.fromkeys(p.professional_id for p in match.participants)
        subjects += [Subject.professional(pro_id) for pro_id in professionals]
        await record_read(self._writes, self._access_log, access, Operation.MATCH_READ, subjects)
        return match

    async def page(
        self,
        access: AccessContext,
        *,
        organisation_id: str,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> tuple[list[MatchHead], bool]:
        """Up to ``limit`` of the organisation's matches after the cursor, oldest first, and
        whether more follow. Logged: each match listed."""
        async with self._database.read() as session:
            rows = await repo.list_matches(
                session,
                organisation_id=organisation_id,
                status=status,
                after=after,
                limit=limit + 1,
            )
        page = rows[:limit]
        subjects = [Subject.match(m.id) for m in page]
        await record_read(self._writes, self._access_log, access, Operation.MATCH_LIST, subjects)
        return page, len(rows) > limit
