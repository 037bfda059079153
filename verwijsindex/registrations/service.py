"""What a registration does, end to end: the one place routes, the sweeper and the command
line call. Each method is a unit of work of its own (it chooses the storage call: a grouped
write, a transaction or a read), so no caller picks among transaction kinds.

The index's own rules (one open match per youth, the lifecycle) are :class:`MatchIndex`'s;
this service adds what surrounds them: rate limits and anomaly flags, the access log, and
the transaction.
"""

from __future__ import annotations

from datetime import timedelta

from verwijsindex.abuse import AbuseGuard
from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Subject
from verwijsindex.clock import Clock
from verwijsindex.registrations.index import Actor, MatchIndex, SweepResult
from verwijsindex.registrations.models import Registration
from verwijsindex.storage import Database
from verwijsindex.storage.group_commit import GroupCommitter

_SWEEP_BATCH = 500


class RegistrationService:
    """Register, withdraw and end registrations, each in its own unit of work."""

    def __init__(
        self,
        *,
        index: MatchIndex,
        database: Database,
        writes: GroupCommitter,
        abuse: AbuseGuard,
        access_log: AccessLogger,
        clock: Clock,
    ) -> None:
        self.index = index
        self._database = database
        self._writes = writes
        self._abuse = abuse
        self._access_log = access_log
        self._clock = clock

    async def withdraw(
        self, access: AccessContext, *, actor: Actor, registration_id: str, reason: str
    ) -> Registration:
        """End the registration now (``withdrawn``): the match it took part in loses it (and
        closes below two participants), the withdrawal is checked for fishing, and logged."""
        async with self._database.transaction() as session:
            registration = await self.index.withdraw(
                session, actor=actor, registration_id=registration_id, reason=reason
            )
            await self._abuse.after_withdrawal(session, registration=registration)
            await self._access_log.record(
                session,
                access,
                operation=Operation.REGISTRATION_WITHDRAW,
                subject=Subject.registration(registration.id),
                reason=reason,
            )
        return registration

    async def end_due(self) -> int:
        """End every registration whose end date has passed (expiry, the 23rd birthday), in
        batches of one transaction each; each ending is in the access log as the system's."""
        ended = 0
        while True:
            async with self._database.transaction() as session:
                due = await self.index.end_due_registrations(session, limit=_SWEEP_BATCH)
                if due:
                    await self._access_log.record_many(
                        session,
                        AccessContext.system(role="system", started_at=self._clock.now()),
                        operation=Operation.REGISTRATION_EXPIRE,
                        subjects=[Subject.registration(r.id) for r in due],
                    )
            ended += len(due)
            if len(due) < _SWEEP_BATCH:
                return ended

    async def purge(self, *, retention: timedelta) -> SweepResult:
        """Delete what ended longer than ``retention`` ago (registrations, closed matches)."""
        async with self._database.transaction() as session:
            registrations, matches = await self.index.purge(session, retention=retention)
        return SweepResult(ended=0, purged_registrations=registrations, purged_matches=matches)
