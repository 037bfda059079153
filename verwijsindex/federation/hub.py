"""The hub: matching across regions.

It holds, per registration a region handed off, the region, the region's opaque reference,
the federated pseudonym and the participant card sealed for the regions (it cannot open it).
When active registrations of one federated pseudonym come from two or more regions it opens
a cross-region match; a registration that ends leaves it; fewer than two regions closes it.
Each change puts the match's whole state, with a new version, in the hub's outbox once for
every region taking part, and the drainer pushes them to the regions, signed, in order,
until each region has answered 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import NotifierError
from verwijsindex.clock import Clock
from verwijsindex.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from verwijsindex.federation import repository as repo
from verwijsindex.federation import transport
from verwijsindex.federation.keys import REGION_KEY_PURPOSE, TO_HUB, TO_REGION, direction_key
from verwijsindex.federation.models import (
    HandoffKind,
    HubMatch,
    HubOutbox,
    HubParticipant,
    HubReceived,
    HubRegion,
    HubRegistration,
)
from verwijsindex.federation.schemas import Handoff, Submission
from verwijsindex.federation.service import REPORTS_PATH
from verwijsindex.keys import KeyRing
from verwijsindex.logging import get_logger
from verwijsindex.matches.models import MatchStatus
from verwijsindex.registrations.repository import lock_subject
from verwijsindex.settings import Settings
from verwijsindex.storage import Database
from verwijsindex.storage.base import new_id

log = get_logger(__name__)

HUB_DUE = "hub_reports_due"
_REGION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_BATCH = 50


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class HubService:
    """The hub's side: regions, hand-offs in, reports out."""

    def __init__(
        self, *, settings: Settings, database: Database, keys: KeyRing, clock: Clock
    ) -> None:
        self._settings = settings
        self._database = database
        self._keys = keys
        self._clock = clock
        self._wake = asyncio.Event()
        self._backoff: dict[str, tuple[int, float]] = {}

    def after_commit(self, info: Mapping[str, Any]) -> None:
        if info.get(HUB_DUE):
            self._wake.set()

    def _region_key(self, region: str, version: int) -> bytes:
        return self._keys.subkey(f"{REGION_KEY_PURPOSE}-{region}", version=version)

    # --- regions (operator) -----------------------------------------------------------

    async def add_region(self, region: str, callback_url: str) -> str:
        """Register a region and issue its key (``whsec_``; shown once, derived again by the
        hub whenever it signs or checks, never stored)."""
        if not _REGION_ID.fullmatch(region):
            raise InvalidInput("the region id must be [a-z0-9-], up to 32 characters")
        transport.check_url(callback_url, self._settings)
        async with self._database.transaction() as session:
            if await repo.hub_region(session, region) is not None:
                raise Conflict("the region exists already")
            version = self._keys.current_version
            session.add(
                HubRegion(
                    id=region,
                    callback_url=callback_url,
                    key_version=version,
                    created_at=self._clock.now(),
                    disabled_at=None,
                )
            )
        return _as_secret(self._region_key(region, version))

    async def _authenticate(
        self, session: AsyncSession, headers: Mapping[str, str], body: bytes
    ) -> HubRegion:
        region_id = headers.get(transport.REGION_HEADER, "")
        region = (
            await repo.hub_region(session, region_id) if _REGION_ID.fullmatch(region_id) else None
        )
        if region is None or region.disabled_at is not None:
            raise Unauthenticated("unknown region")
        key = direction_key(self._region_key(region.id, region.key_version), TO_HUB)
        transport.verify_signed(headers, body, key=key)
        return region

    # --- hand-offs in -----------------------------------------------------------------

    async def receive(self, headers: Mapping[str, str], body: bytes) -> tuple[int, int]:
        """Apply a region's signed hand-offs in one unit of work: (applied, duplicates)."""
        async with self._database.transaction() as session:
            region = await self._authenticate(session, headers, body)
            try:
                submission = Submission.model_validate_json(body)
            except ValidationError:
                raise InvalidInput("the submission is malformed") from None
            now = self._clock.now()
            applied = duplicates = 0
            touched: set[str] = set()
            for item in submission.items:
                if await session.get(HubReceived, (region.id, item.key)) is not None:
                    duplicates += 1
                    continue
                session.add(HubReceived(region=region.id, key=item.key, received_at=now))
                fp = await self._apply(session, region.id, item, now)
                if fp is not None:
                    touched.add(fp)
                applied += 1
            await session.flush()
            for fp in sorted(touched):
                await lock_subject(session, fp)  # type: ignore[arg-type]
                if await self._rematch(session, fp, now):
                    session.info[HUB_DUE] = True
        return applied, duplicates

    async def _apply(
        self, session: AsyncSession, region: str, item: Handoff, now: datetime
    ) -> str | None:
        existing = await repo.hub_registration(session, region=region, reference=item.reference)
        if item.kind is HandoffKind.ACTIVE:
            if existing is not None:
                return None
            if item.federated_pseudonym is None or item.card is None:
                raise InvalidInput("an active hand-off needs a federated pseudonym and a card")
            session.add(
                HubRegistration(
                    id=new_id(),
                    region=region,
                    reference=item.reference,
                    federated_pseudonym=item.federated_pseudonym,
                    card=item.card,
                    active=True,
                    created_at=now,
                    ended_at=None,
                )
            )
            return item.federated_pseudonym
        if existing is None:
            # A registration the hub never had (from before federation, without the input, or
            # erased before it was handed off): a region sends in order, so no start follows.
            return None
        if not existing.active:
            return None
        existing.active = False
        existing.ended_at = now
        return existing.federated_pseudonym

    async def _rematch(self, session: AsyncSession, fp: str, now: datetime) -> bool:
        actives = await repo.active_hub_registrations(session, fp)
        regions = {r.region for r in actives}
        match = await repo.open_hub_match(session, fp)
        if match is None:
            if len(regions) < 2:
                return False
            match = HubMatch(
                id=new_id(),
                federated_pseudonym=fp,
                status=MatchStatus.OPEN,
                version=0,
                created_at=now,
                closed_at=None,
            )
            session.add(match)
            await session.flush()
        participants = await repo.hub_participants(session, match.id)
        known = {p.registration_id for p, _ in participants}
        active_ids = {r.id for r in actives}
        for p, _ in participants:
            if p.left_at is None and p.registration_id not in active_ids:
                p.left_at = now
        for registration in actives:
            if registration.id not in known:
                session.add(
                    HubParticipant(
                        id=new_id(),
                        match_id=match.id,
                        registration_id=registration.id,
                        joined_at=now,
                        left_at=None,
                    )
                )
        if len(regions) < 2:
            match.status = MatchStatus.CLOSED
            match.closed_at = now
            for p, _ in participants:
                if p.left_at is None:
                    p.left_at = now
        match.version += 1
        await session.flush()
        await self._report(session, match, now)
        return True

    async def _report(self, session: AsyncSession, match: HubMatch, now: datetime) -> None:
        participants = await repo.hub_participants(session, match.id)
        state = {
            "match_id": match.id,
            "version": match.version,
            "status": match.status.value,
            "created_at": _iso(match.created_at),
            "closed_at": _iso(match.closed_at),
            "participants": [
                {
                    "region": r.region,
                    "reference": r.reference,
                    "card": r.card,
                    "joined_at": _iso(p.joined_at),
                    "left_at": _iso(p.left_at),
                    "ended": not r.active,
                }
                for p, r in participants
            ],
        }
        for region in sorted({r.region for _, r in participants}):
            key = new_id()
            session.add(
                HubOutbox(
                    id=key,
                    region=region,
                    body=json.dumps({"key": key, **state}, separators=(",", ":")),
                    created_at=now,
                )
            )

    # --- reports out ------------------------------------------------------------------

    async def catch_up(self, headers: Mapping[str, str], body: bytes) -> int:
        """A region is back: send its pending reports now. Returns how many are pending."""
        async with self._database.read() as session:
            region = await self._authenticate(session, headers, body)
            pending = await repo.count_reports(session, region.id)
        self._backoff.pop(region.id, None)
        self._wake.set()
        return pending

    async def _deliver(self, http: httpx.AsyncClient, region_id: str) -> int:
        async with self._database.read() as session:
            region = await repo.hub_region(session, region_id)
            rows = await repo.pending_reports(session, region_id, _BATCH)
        if region is None or region.disabled_at is not None:
            raise NotFound("region not found")
        if not rows:
            return 0
        key = direction_key(self._region_key(region.id, region.key_version), TO_REGION)
        messages = [json.loads(r.body) for r in rows]
        response = await transport.post_signed(
            http,
            region.callback_url.rstrip("/") + REPORTS_PATH,
            {"messages": messages},
            region=region.id,
            key=key,
        )
        if response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"the region answered {response.status_code}",
                request=response.request,
                response=response,
            )
        async with self._database.transaction() as session:
            await repo.delete_reports(session, [r.id for r in rows])
        return len(rows)

    async def drain_once(self, http: httpx.AsyncClient) -> int:
        """Push every region's due reports once; a region that cannot be reached waits
        (exponential back-off up to the configured maximum) and keeps its reports."""
        loop = asyncio.get_running_loop()
        async with self._database.read() as session:
            regions = await repo.regions_with_reports(session)
        sent = 0
        for region in regions:
            failures, not_before = self._backoff.get(region, (0, 0.0))
            if loop.time() < not_before:
                continue
            try:
                sent += await self._deliver(http, region)
                self._backoff.pop(region, None)
            except (httpx.HTTPError, NotifierError, NotFound) as exc:
                failures += 1
                delay = min(self._settings.federation_retry_max_seconds, 0.25 * 2**failures)
                self._backoff[region] = (failures, loop.time() + delay)
                log.warning(
                    "federation_region_unreachable", region=region, error=type(exc).__name__
                )
        return sent

    async def purge(self) -> int:
        """Delete what ended longer than the retention period ago (``retention_days``, as
        regions keep ended registrations), and idempotency keys after 30 days (a region
        retries a hand-off only until its answer arrives)."""
        now = self._clock.now()
        async with self._database.transaction() as session:
            return await repo.purge_hub(
                session,
                before=now - timedelta(days=self._settings.retention_days),
                received_before=now - timedelta(days=max(30, self._settings.retention_days)),
            )

    async def run(self) -> None:
        """Until cancelled: push the regions' due reports, purge what retention allows."""
        loop = asyncio.get_running_loop()
        next_purge = loop.time()
        log.info("hub_worker_started")
        async with transport.client(self._settings) as http:
            while True:
                self._wake.clear()
                if loop.time() >= next_purge:
                    purged = await self.purge()
                    log.info("hub_purged", registrations=purged)
                    next_purge = loop.time() + self._settings.sweep_interval_seconds
                if await self.drain_once(http):
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), self._settings.federation_poll_interval_seconds
                    )


def _as_secret(raw: bytes) -> str:
    import base64

    return "whsec_" + base64.b64encode(raw).decode("ascii")
