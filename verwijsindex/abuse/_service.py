"""Rate limits on registrations and anomaly rules, evaluated on write.

Counting is done with fixed-window counter rows, incremented with one atomic
``INSERT .. ON CONFLICT DO UPDATE .. RETURNING`` in the registration's own transaction. The row
lock (PostgreSQL) or the write lock (SQLite ``BEGIN IMMEDIATE``) serialises concurrent
registrations of the same professional or organisation, so the limit holds across processes
and a rolled-back registration does not count.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, not_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.abuse._models import AnomalyFlag, RateLimitCounter
from verwijsindex.clock import Clock
from verwijsindex.db.base import new_id
from verwijsindex.domain.models import MatchParticipant, Professional, Registration
from verwijsindex.errors import VerwijsindexError
from verwijsindex.settings import Settings

RULE_VOLUME = "registration-volume"
RULE_QUICK_WITHDRAWAL = "withdrawn-after-match"
_HOUR_SCOPE = "pro-hour-new"
_NORM_DAYS = 7
COUNTER_RETENTION = timedelta(days=_NORM_DAYS + 1)


class RateLimited(VerwijsindexError):
    """Too many registrations in a window. ``retry_after`` is in whole seconds."""

    code = "rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def _minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


async def _increment(
    session: AsyncSession, scope: str, subject_id: str, window: datetime, by: int = 1
) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = insert(RateLimitCounter).values(
        scope=scope, subject_id=subject_id, window_start=window, hits=by
    )
    stmt = values.on_conflict_do_update(
        index_elements=["scope", "subject_id", "window_start"],
        set_={"hits": RateLimitCounter.hits + by},
    ).returning(RateLimitCounter.hits)
    return int((await session.execute(stmt)).scalar_one())


async def _raise_flag(session: AsyncSession, flag: AnomalyFlag) -> bool:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {c.key: getattr(flag, c.key) for c in AnomalyFlag.__table__.columns}
    stmt = (
        insert(AnomalyFlag).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


class AbuseGuard:
    """Per-professional and per-organisation registration limits and anomaly flags."""

    def __init__(self, *, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock

    async def check_registration_rate(
        self, session: AsyncSession, *, organisation_id: str, professional_id: str
    ) -> None:
        """Count this attempt; raise :class:`RateLimited` when a limit is exceeded."""
        s = self._settings
        now = self._clock.now()
        windows = (
            ("pro-minute", professional_id, _minute(now), timedelta(minutes=1),
             s.rate_limit_professional_per_minute),
            ("pro-day", professional_id, _day(now), timedelta(days=1),
             s.rate_limit_professional_per_day),
            ("org-minute", organisation_id, _minute(now), timedelta(minutes=1),
             s.rate_limit_organisation_per_minute),
        )  # fmt: skip
        retry_after = 0
        for scope, subject_id, start, length, limit in windows:
            if limit <= 0:
                continue
            hits = await _increment(session, scope, subject_id, start)
            if hits > limit:
                wait = math.ceil((start + length - now).total_seconds())
                retry_after = max(retry_after, wait, 1)
        if retry_after:
            raise RateLimited("too many registrations; try again later", retry_after=retry_after)

    async def after_registration(
        self, session: AsyncSession, *, registration: Registration, created: bool, count: int = 1
    ) -> bool:
        """Rule ``registration-volume``: a professional registering more new youths in one
        clock hour than max(minimum, factor × the organisation's median professional-hour
        over the last 7 days). Cheap: the median is only computed above the minimum.
        ``count`` > 1 accounts for that many new registrations of the same professional at
        once (a batch), with one counter update and one evaluation."""
        if not created or count < 1:
            return False
        s = self._settings
        now = self._clock.now()
        hour = _hour(now)
        pro = registration.professional_id
        hits = await _increment(session, _HOUR_SCOPE, pro, hour, by=count)
        if hits <= s.anomaly_volume_minimum:
            return False
        rows = await session.execute(
            select(RateLimitCounter.hits)
            .join(Professional, Professional.id == RateLimitCounter.subject_id)
            .where(
                RateLimitCounter.scope == _HOUR_SCOPE,
                Professional.organisation_id == registration.organisation_id,
                RateLimitCounter.window_start >= hour - timedelta(days=_NORM_DAYS),
                not_(
                    and_(
                        RateLimitCounter.subject_id == pro,
                        RateLimitCounter.window_start == hour,
                    )
                ),
            )
        )
        values = [int(v) for v in rows.scalars()]
        median = float(statistics.median(values)) if values else 0.0
        threshold = max(float(s.anomaly_volume_minimum), s.anomaly_volume_factor * median)
        if hits <= threshold:
            return False
        return await _raise_flag(
            session,
            AnomalyFlag(
                id=new_id(),
                rule=RULE_VOLUME,
                organisation_id=registration.organisation_id,
                professional_id=pro,
                subject_ref_type=None,
                subject_ref=None,
                window_start=hour,
                observed=float(hits),
                threshold=threshold,
                raised_at=now,
                dedupe_key=f"{RULE_VOLUME}:{pro}:{hour.isoformat()}",
            ),
        )

    async def after_withdrawal(self, session: AsyncSession, *, registration: Registration) -> bool:
        """Rule ``withdrawn-after-match``: withdrawn within N minutes of registering, having
        joined a match within the same N minutes (learning of others' involvement, then
        leaving: possible fishing)."""
        window = timedelta(minutes=self._settings.anomaly_withdraw_minutes)
        now = self._clock.now()
        if window <= timedelta(0) or now - registration.created_at > window:
            return False
        joined = (
            await session.execute(
                select(MatchParticipant.joined_at)
                .where(MatchParticipant.registration_id == registration.id)
                .order_by(MatchParticipant.joined_at.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if joined is None or now - joined > window:
            return False
        return await _raise_flag(
            session,
            AnomalyFlag(
                id=new_id(),
                rule=RULE_QUICK_WITHDRAWAL,
                organisation_id=registration.organisation_id,
                professional_id=registration.professional_id,
                subject_ref_type="registration",
                subject_ref=registration.id,
                window_start=None,
                observed=round((now - registration.created_at).total_seconds() / 60, 2),
                threshold=float(self._settings.anomaly_withdraw_minutes),
                raised_at=now,
                dedupe_key=f"{RULE_QUICK_WITHDRAWAL}:{registration.id}",
            ),
        )

    async def prune(self, session: AsyncSession) -> int:
        """Delete counter windows older than the norm period (called by the sweep)."""
        cutoff = self._clock.now() - COUNTER_RETENTION
        result = await session.execute(
            delete(RateLimitCounter).where(RateLimitCounter.window_start < cutoff)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


async def list_flags(
    session: AsyncSession,
    *,
    organisation_id: str | None,
    rule: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[AnomalyFlag]:
    query = select(AnomalyFlag)
    if organisation_id is not None:
        query = query.where(AnomalyFlag.organisation_id == organisation_id)
    if rule is not None:
        query = query.where(AnomalyFlag.rule == rule)
    if after is not None:
        raised, fid = after
        query = query.where(
            (AnomalyFlag.raised_at > raised)
            | ((AnomalyFlag.raised_at == raised) & (AnomalyFlag.id > fid))
        )
    query = query.order_by(AnomalyFlag.raised_at, AnomalyFlag.id).limit(limit)
    return list((await session.execute(query)).scalars())
