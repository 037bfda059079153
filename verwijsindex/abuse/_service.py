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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    not_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.abuse._models import AnomalyFlag, BulkImportGrant, RateLimitCounter
from verwijsindex.clock import Clock
from verwijsindex.errors import InvalidInput, NotFound, VerwijsindexError
from verwijsindex.matches.models import MatchParticipant
from verwijsindex.organisations.models import Organisation, Professional
from verwijsindex.registrations.models import Registration
from verwijsindex.settings import Settings
from verwijsindex.storage.base import new_id

RULE_VOLUME = "registration-volume"
RULE_QUICK_WITHDRAWAL = "withdrawn-after-match"
_HOUR_SCOPE = "pro-hour-new"
_BULK_SCOPE = "bulk-import"
MAX_BULK_ITEMS = 10_000_000
MAX_BULK_DAYS = 30
_NORM_DAYS = 7
COUNTER_RETENTION = timedelta(days=_NORM_DAYS + 1)
_THRESHOLD_REUSE = timedelta(minutes=1)
_MEMO_ENTRIES = 10_000


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


def _volume_key(professional_id: str, hour: datetime) -> str:
    """The dedupe key of a volume flag: one per professional-hour."""
    return f"{RULE_VOLUME}:{professional_id}:{hour.isoformat()}"


_Key = tuple[str, str, datetime]
"""A counter row: (scope, subject id, window start)."""


@dataclass
class Admission:
    """The outcome of one registration attempt at the rate limits. ``keys`` are the counter
    rows the attempt was added to (refused or not, until :meth:`AbuseGuard.settle`)."""

    keys: tuple[_Key, ...]
    refused: RateLimited | None = None
    released: bool = False

    def release(self) -> None:
        """The admitted attempt failed after all: do not count it."""
        self.released = True


@dataclass(frozen=True)
class BulkGrant:
    """A bulk-import grant as the batch route uses it (see :class:`BulkImportGrant`)."""

    id: str
    organisation_id: str
    items: int
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    reference: str | None

    @classmethod
    def of(cls, row: BulkImportGrant) -> BulkGrant:
        return cls(
            id=row.id,
            organisation_id=row.organisation_id,
            items=row.items,
            granted_at=row.granted_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            reference=row.reference,
        )


_COUNTERS = cast(Table, RateLimitCounter.__table__)


def _upsert(dialect_insert: Any) -> Any:
    values = dialect_insert(_COUNTERS)
    return values.on_conflict_do_update(
        index_elements=["scope", "subject_id", "window_start"],
        set_={"hits": _COUNTERS.c.hits + values.excluded.hits},
    )


# Built once: building a statement and its cache key on every call costs more than running it
# for a small group.
_UPSERTS = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}


def _unnest_upsert() -> Any:
    """PostgreSQL: every row's upsert in one statement, its rows given as one array per
    column, returning the rows' new hits (``WHERE true``: an ``INSERT … SELECT … FROM``
    followed by ``ON CONFLICT`` is otherwise ambiguous to PostgreSQL's parser)."""
    columns = ("scope", "subject_id", "window_start", "hits")
    kinds: tuple[Any, ...] = (String(), String(), DateTime(timezone=True), Integer())
    arrays: list[Any] = [
        sql_cast(bindparam(name, type_=ARRAY(kind)), ARRAY(kind))
        for name, kind in zip(columns, kinds, strict=True)
    ]
    given = func.unnest(*arrays).table_valued(*columns).render_derived(name="given")
    statement = postgresql.insert(_COUNTERS).from_select(list(columns), select(given).where(true()))
    return statement.on_conflict_do_update(
        index_elements=["scope", "subject_id", "window_start"],
        set_={"hits": _COUNTERS.c.hits + statement.excluded.hits},
    ).returning(*(_COUNTERS.c[name] for name in columns))


_UNNEST_UPSERT = _unnest_upsert()
_COUNTS = select(
    _COUNTERS.c.scope, _COUNTERS.c.subject_id, _COUNTERS.c.window_start, _COUNTERS.c.hits
).where(
    _COUNTERS.c.subject_id.in_(bindparam("subjects", expanding=True)),
    _COUNTERS.c.window_start.in_(bindparam("windows", expanding=True)),
)


async def _add_hits(session: AsyncSession, counts: Mapping[_Key, int]) -> dict[_Key, int]:
    """Add to counter rows (created as needed) with one atomic upsert; the rows' new hits.

    The upsert takes the rows' locks (PostgreSQL) inside the write transaction (SQLite), so
    concurrent writers, in this process or another, see each other's counts."""
    if not counts:
        return {}
    dialect = session.get_bind().dialect.name
    keys = sorted(counts)
    if dialect == "postgresql":
        # One round trip: the upsert returns the new hits. Rows are locked in key order.
        result = await session.execute(
            _UNNEST_UPSERT,
            {
                "scope": [scope for scope, _subject, _window in keys],
                "subject_id": [subject for _scope, subject, _window in keys],
                "window_start": [window for _scope, _subject, window in keys],
                "hits": [counts[key] for key in keys],
            },
        )
        returned = {
            (scope, subject, _utc(window)): int(hits) for scope, subject, window, hits in result
        }
        return {key: returned[key] for key in keys}
    upsert = _UPSERTS[dialect]
    # Keys sorted, so concurrent upserts lock rows in one order and cannot deadlock. A plain
    # executemany (the driver runs one prepared statement per row) and one read of the new
    # counts: with RETURNING, SQLAlchemy sends one statement per row on SQLite to keep the
    # rows in parameter order. The rows stay locked (PostgreSQL) or the database's write lock
    # is held (SQLite) between the two, so the read sees exactly this transaction's sums.
    await session.execute(
        upsert,
        [
            {"scope": scope, "subject_id": subject, "window_start": window, "hits": counts[key]}
            for key in keys
            for scope, subject, window in [key]
        ],
    )
    rows = await session.execute(
        _COUNTS,
        {
            "subjects": sorted({subject for _scope, subject, _window in keys}),
            "windows": sorted({window for _scope, _subject, window in keys}),
        },
    )
    found = {(scope, subject, _utc(window)): int(hits) for scope, subject, window, hits in rows}
    return {key: found[key] for key in keys}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_TAKE = (
    update(_COUNTERS)
    .where(
        _COUNTERS.c.scope == bindparam("k_scope"),
        _COUNTERS.c.subject_id == bindparam("k_subject"),
        _COUNTERS.c.window_start == bindparam("k_window"),
    )
    .values(hits=_COUNTERS.c.hits - bindparam("k_by"))
)


async def _take_hits(session: AsyncSession, counts: Mapping[_Key, int]) -> None:
    if not counts:
        return
    await session.execute(
        _TAKE,
        [
            {"k_scope": scope, "k_subject": subject, "k_window": window, "k_by": n}
            for (scope, subject, window), n in sorted(counts.items())
        ],
    )


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
        self._flagged: set[str] = set()
        self._thresholds: dict[tuple[str, str, datetime], tuple[float, datetime]] = {}

    def _windows(
        self, now: datetime, organisation_id: str, professional_id: str
    ) -> list[tuple[_Key, datetime, int]]:
        """The counted windows of one attempt: (key, window end, limit), enabled limits only."""
        s = self._settings
        minute, day = _minute(now), _day(now)
        windows = (
            (("pro-minute", professional_id, minute), minute + timedelta(minutes=1),
             s.rate_limit_professional_per_minute),
            (("pro-day", professional_id, day), day + timedelta(days=1),
             s.rate_limit_professional_per_day),
            (("org-minute", organisation_id, minute), minute + timedelta(minutes=1),
             s.rate_limit_organisation_per_minute),
        )  # fmt: skip
        return [w for w in windows if w[2] > 0]

    def _bulk_windows(self, now: datetime, grant: BulkGrant) -> list[tuple[_Key, datetime, int]]:
        """The counted windows of one batch item under a bulk-import grant: the grant's items
        (until it expires) and the organisation's daily ceiling on granted items."""
        windows = [((_BULK_SCOPE, grant.id, grant.expires_at), grant.expires_at, grant.items)]
        limit = self._settings.rate_limit_organisation_batch_per_day
        if limit > 0:
            day = _day(now)
            windows.append(
                (("org-batch-day", grant.organisation_id, day), day + timedelta(days=1), limit)
            )
        return windows

    async def admit_registrations(
        self,
        session: AsyncSession,
        callers: Sequence[tuple[str, str]],
        *,
        grants: Sequence[BulkGrant | None] | None = None,
    ) -> list[Admission]:
        """Count registration attempts of (organisation, professional) callers, in order, with
        one statement whatever their number; an attempt over a limit is refused and not
        counted. Every attempt counts against the per-minute and per-day limits of its
        professional and organisation, items of a batch registration included, unless
        ``grants`` gives it a bulk-import grant (:meth:`active_bulk_grant`): then it counts
        against the grant's items and the organisation's daily ceiling on granted items
        instead. Call :meth:`Admission.release` for an admitted attempt that failed after all
        and :meth:`settle` before the transaction ends, so that only attempts that registered
        stay counted (as if each had rolled back on its own)."""
        now = self._clock.now()
        granted = grants if grants is not None else [None] * len(callers)
        # The windows depend only on the caller and the grant (a batch of a thousand items
        # has one caller): computed once per distinct caller and grant.
        windows_of: dict[tuple[str, str, str | None], list[tuple[_Key, datetime, int]]] = {}
        per_attempt = []
        for (org, pro), grant in zip(callers, granted, strict=True):
            caller = (org, pro, None if grant is None else grant.id)
            windows = windows_of.get(caller)
            if windows is None:
                windows = windows_of[caller] = (
                    self._windows(now, org, pro)
                    if grant is None
                    else self._bulk_windows(now, grant)
                )
            per_attempt.append(windows)
        demand: dict[_Key, int] = {}
        for windows in per_attempt:
            for key, _end, _limit in windows:
                demand[key] = demand.get(key, 0) + 1
        hits = await _add_hits(session, demand)
        used = {key: hits[key] - n for key, n in demand.items()}
        admissions: list[Admission] = []
        for windows in per_attempt:
            keys = tuple(key for key, _end, _limit in windows)
            retry_after = 0
            detail = "too many registrations; try again later"
            for key, end, limit in windows:
                if used[key] + 1 > limit:
                    retry_after = max(retry_after, math.ceil((end - now).total_seconds()), 1)
                    if key[0] == _BULK_SCOPE:
                        detail = "the bulk-import grant is used up"
            if retry_after:
                refused = RateLimited(detail, retry_after=retry_after)
                admissions.append(Admission(keys=keys, refused=refused))
                continue
            for key in keys:
                used[key] += 1
            admissions.append(Admission(keys=keys))
        return admissions

    async def settle(self, session: AsyncSession, admissions: Sequence[Admission]) -> None:
        """Take back the counts of attempts that were refused or released (one statement when
        there are any)."""
        surplus: dict[_Key, int] = {}
        for admission in admissions:
            if admission.refused is None and not admission.released:
                continue
            for key in admission.keys:
                surplus[key] = surplus.get(key, 0) + 1
        await _take_hits(session, surplus)

    async def after_registrations(
        self, session: AsyncSession, created: Mapping[tuple[str, str], int]
    ) -> int:
        """Rule ``registration-volume``: a professional registering more new youths in one
        clock hour than max(minimum, factor × the organisation's median professional-hour
        over the last 7 days). ``created`` maps (organisation, professional) to the number of
        new registrations; one counter statement for all of them, and the median is only
        computed for a professional above the minimum. Returns the number of flags raised."""
        s = self._settings
        now = self._clock.now()
        hour = _hour(now)
        counts = {(_HOUR_SCOPE, pro, hour): n for (_org, pro), n in created.items() if n > 0}
        organisation_of = {pro: org for (org, pro) in created}
        hits = await _add_hits(session, counts)
        raised = 0
        for (_scope, pro, _hour_start), total in sorted(hits.items()):
            if total <= s.anomaly_volume_minimum:
                continue
            if _volume_key(pro, hour) in self._flagged:
                continue  # raised already: at most one flag per professional-hour
            if await self._flag_volume(session, organisation_of[pro], pro, hour, total, now):
                raised += 1
        return raised

    async def _threshold(
        self, session: AsyncSession, organisation_id: str, pro: str, hour: datetime, now: datetime
    ) -> float:
        """max(minimum, factor × the organisation's median professional-hour over the norm
        period, the professional's current hour excluded). Reused for up to a minute of
        service time, so a burst of registrations does not recompute it for every group."""
        key = (organisation_id, pro, hour)
        cached = self._thresholds.get(key)
        if cached is not None and now - cached[1] < _THRESHOLD_REUSE:
            return cached[0]
        s = self._settings
        rows = await session.execute(
            select(RateLimitCounter.hits)
            .join(Professional, Professional.id == RateLimitCounter.subject_id)
            .where(
                RateLimitCounter.scope == _HOUR_SCOPE,
                Professional.organisation_id == organisation_id,
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
        if len(self._thresholds) >= _MEMO_ENTRIES:
            self._thresholds.clear()
        self._thresholds[key] = (threshold, now)
        return threshold

    async def _flag_volume(
        self,
        session: AsyncSession,
        organisation_id: str,
        pro: str,
        hour: datetime,
        hits: int,
        now: datetime,
    ) -> bool:
        threshold = await self._threshold(session, organisation_id, pro, hour, now)
        if hits <= threshold:
            return False
        dedupe_key = _volume_key(pro, hour)
        raised = await _raise_flag(
            session,
            AnomalyFlag(
                id=new_id(),
                rule=RULE_VOLUME,
                organisation_id=organisation_id,
                professional_id=pro,
                subject_ref_type=None,
                subject_ref=None,
                window_start=hour,
                observed=float(hits),
                threshold=threshold,
                raised_at=now,
                dedupe_key=dedupe_key,
            ),
        )
        if not raised:  # the flag is in the database already: skip this hour from now on
            if len(self._flagged) >= _MEMO_ENTRIES:
                self._flagged.clear()
            self._flagged.add(dedupe_key)
        return raised

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

    async def grant_bulk_import(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        items: int,
        days: int,
        reference: str | None = None,
    ) -> BulkGrant:
        """Let the organisation register up to ``items`` youths through the batch endpoint
        within ``days`` days, beyond the per-professional limits (an operator's decision, for
        a migration or onboarding). The newest grant in force is the one used."""
        if not 1 <= items <= MAX_BULK_ITEMS:
            raise InvalidInput(f"items must be 1 to {MAX_BULK_ITEMS:,}")
        if not 1 <= days <= MAX_BULK_DAYS:
            raise InvalidInput(f"days must be 1 to {MAX_BULK_DAYS}")
        if reference is not None and (
            not 1 <= len(reference) <= 100 or any(ord(c) < 32 for c in reference)
        ):
            raise InvalidInput("reference must be 1 to 100 printable characters")
        if await session.get(Organisation, organisation_id) is None:
            raise NotFound("organisation not found")
        now = self._clock.now()
        row = BulkImportGrant(
            id=new_id(),
            organisation_id=organisation_id,
            items=items,
            granted_at=now,
            expires_at=now + timedelta(days=days),
            revoked_at=None,
            reference=reference,
        )
        session.add(row)
        await session.flush()
        return BulkGrant.of(row)

    async def revoke_bulk_import(self, session: AsyncSession, *, grant_id: str) -> BulkGrant:
        """End a grant now (idempotent)."""
        row = await session.get(BulkImportGrant, grant_id)
        if row is None:
            raise NotFound("bulk-import grant not found")
        if row.revoked_at is None:
            row.revoked_at = self._clock.now()
            await session.flush()
        return BulkGrant.of(row)

    async def active_bulk_grant(
        self, session: AsyncSession, *, organisation_id: str
    ) -> BulkGrant | None:
        """The organisation's newest grant in force (not expired, not revoked), or None."""
        row = (
            await session.execute(
                select(BulkImportGrant)
                .where(
                    BulkImportGrant.organisation_id == organisation_id,
                    BulkImportGrant.expires_at > self._clock.now(),
                    BulkImportGrant.revoked_at.is_(None),
                )
                .order_by(BulkImportGrant.granted_at.desc(), BulkImportGrant.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        return None if row is None else BulkGrant.of(row)

    async def bulk_grant_used(self, session: AsyncSession, grant: BulkGrant) -> int:
        """The items registered under the grant so far."""
        hits = (
            await session.execute(
                select(RateLimitCounter.hits).where(
                    RateLimitCounter.scope == _BULK_SCOPE,
                    RateLimitCounter.subject_id == grant.id,
                    RateLimitCounter.window_start == grant.expires_at,
                )
            )
        ).scalar_one_or_none()
        return int(hits or 0)

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
