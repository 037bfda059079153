"""A federated region's side: sending the outbox to the hub, applying the hub's reports of
cross-region matches, and reading those matches for the organisations that take part.

The hand-off is written in the registration's transaction (:mod:`.staging`) and sent here, in
the background, in order; a row leaves the outbox only once the hub has answered 200, and
the hub ignores a row it has applied before (its idempotency key), so a region that was down
or lost an answer sends again and nothing is lost or doubled. Reports carry a match's whole
state with a version; a lower or equal version than the one held changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import Event, EventType, NotifierError, enqueue_many
from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Subject
from verwijsindex.clock import Clock
from verwijsindex.errors import InvalidInput, Unauthenticated
from verwijsindex.federation import repository as repo
from verwijsindex.federation import transport
from verwijsindex.federation.keys import (
    TO_HUB,
    TO_REGION,
    FederationKeys,
    References,
    direction_key,
)
from verwijsindex.federation.models import FederatedMatch, FederatedParticipant, HandoffKind
from verwijsindex.federation.schemas import Handoff, MatchReport, ReportParticipant, Reports
from verwijsindex.federation.staging import FEDERATION_DUE
from verwijsindex.logging import get_logger
from verwijsindex.matches.models import MatchStatus
from verwijsindex.matches.repository import MatchHead, MatchView, ParticipantView
from verwijsindex.settings import Settings, ShareContacts
from verwijsindex.storage import Database
from verwijsindex.storage.base import new_id

log = get_logger(__name__)

SUBMISSIONS_PATH = "/hub/v1/submissions"
CATCH_UP_PATH = "/hub/v1/catch-up"
REPORTS_PATH = "/federation/v1/reports"
_BATCH = 200
CROSS_REGION = "cross_region"


@dataclass(frozen=True)
class RegionConfig:
    region: str
    hub_url: str
    region_key: bytes
    share_contacts: bool


class RegionFederation:
    """One region's federation with the hub."""

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        keys: FederationKeys,
        config: RegionConfig,
        references: References,
        clock: Clock,
        access_log: AccessLogger,
    ) -> None:
        self._references = references
        self._settings = settings
        self._database = database
        self._keys = keys
        self._config = config
        self._clock = clock
        self._to_hub = direction_key(config.region_key, TO_HUB)
        self._from_hub = direction_key(config.region_key, TO_REGION)
        self._wake = asyncio.Event()
        self._caught_up = False
        self._sent_registrations: list[str] = []
        self._access_log = access_log

    @property
    def region(self) -> str:
        return self._config.region

    def after_commit(self, info: Mapping[str, Any]) -> None:
        if info.get(FEDERATION_DUE):
            self._wake.set()

    # --- to the hub -------------------------------------------------------------------

    def _card(self, source: tuple[Any, ...]) -> dict[str, Any]:
        org_id, org_name, sector, pro_name, email, phone, registered_at = source
        card: dict[str, Any] = {
            "organisation": {"id": org_id, "name": org_name, "sector": sector},
            "registered_at": registered_at.isoformat(),
            "professional": None,
        }
        if self._config.share_contacts:
            card["professional"] = {"name": pro_name, "email": email, "phone": phone}
        return card

    async def _items(self) -> tuple[list[str], list[dict[str, Any]]]:
        self._sent_registrations = []
        async with self._database.read() as session:
            rows = await repo.pending_handoffs(session, _BATCH)
            sources = await repo.card_sources(
                session, [r.registration_id for r in rows if r.registration_id]
            )
        items: list[dict[str, Any]] = []
        for row in rows:
            item = Handoff(key=row.id, kind=row.kind, reference=row.reference)
            if row.registration_id is not None:
                self._sent_registrations.append(row.registration_id)
            if row.kind is HandoffKind.ACTIVE:
                source = sources.get(row.registration_id or "")
                if source is None:  # erased before it was sent: the hub never needs it
                    item = Handoff(key=row.id, kind=HandoffKind.ENDED, reference=row.reference)
                else:
                    item.federated_pseudonym = row.federated_pseudonym
                    item.card = self._keys.seal_card(
                        self._card(source), region=self.region, reference=row.reference
                    )
            items.append(item.model_dump(mode="json", exclude_none=True))
        return [r.id for r in rows], items

    async def drain_once(self, http: httpx.AsyncClient) -> int:
        """Send the oldest pending hand-offs; return how many the hub took (0: none
        pending). Raises ``httpx.HTTPError`` or ``NotifierError`` when the hub is unreachable
        or refuses."""
        ids, items = await self._items()
        if not items:
            return 0
        response = await transport.post_signed(
            http,
            self._config.hub_url.rstrip("/") + SUBMISSIONS_PATH,
            {"items": items},
            region=self.region,
            key=self._to_hub,
        )
        if response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"the hub answered {response.status_code}",
                request=response.request,
                response=response,
            )
        async with self._database.transaction() as session:
            await repo.delete_handoffs(session, ids)
            await self._access_log.record_many(
                session,
                AccessContext.system(role="system", started_at=self._clock.now()),
                operation=Operation.FEDERATION_HANDOFF,
                subjects=[Subject.registration(r) for r in self._sent_registrations],
            )
        return len(ids)

    async def catch_up(self, http: httpx.AsyncClient) -> None:
        """Ask the hub to send this region's pending reports now (after a restart)."""
        response = await transport.post_signed(
            http,
            self._config.hub_url.rstrip("/") + CATCH_UP_PATH,
            {},
            region=self.region,
            key=self._to_hub,
        )
        response.raise_for_status()
        self._caught_up = True

    async def run(self) -> None:
        """Until cancelled: send the outbox whenever there is something in it; back off while
        the hub cannot be reached."""
        failures = 0
        log.info("federation_worker_started", region=self.region)
        async with transport.client(self._settings) as http:
            while True:
                self._wake.clear()
                try:
                    if not self._caught_up:
                        await self.catch_up(http)
                    sent = await self.drain_once(http)
                    failures = 0
                except (httpx.HTTPError, NotifierError) as exc:
                    failures += 1
                    delay = min(self._settings.federation_retry_max_seconds, 0.25 * 2**failures)
                    log.warning("federation_hub_unreachable", error=type(exc).__name__)
                    await asyncio.sleep(delay)
                    continue
                if sent:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._wake.wait(), self._settings.federation_poll_interval_seconds
                    )

    @staticmethod
    async def erase(session: AsyncSession, registration_ids: Sequence[str]) -> int:
        """A subject erasure's part here (in its unit of work): the youth's cross-region
        matches as this region holds them (the other regions' cards too).
        The hub was told the registrations ended; a later report of those matches finds none
        of this region's registrations and is not stored again."""
        return await repo.delete_federated_matches_of(session, registration_ids)

    async def pending(self) -> int:
        async with self._database.read() as session:
            return await repo.count_handoffs(session)

    # --- from the hub -----------------------------------------------------------------

    async def receive_reports(self, headers: Mapping[str, str], body: bytes) -> int:
        """Apply the hub's signed reports in one unit of work; return how many changed
        something."""
        transport.verify_signed(headers, body, key=self._from_hub)
        if headers.get(transport.REGION_HEADER) != self.region:
            raise Unauthenticated("the report is for another region")
        try:
            reports = Reports.model_validate_json(body)
        except ValidationError:
            raise InvalidInput("the reports are malformed") from None
        applied = 0
        async with self._database.transaction() as session:
            events: list[Event] = []
            changed: list[str] = []
            for report in reports.messages:
                if await self._apply(session, report, events):
                    changed.append(report.match_id)
            await enqueue_many(session, events)
            if changed:
                await self._access_log.record_many(
                    session,
                    AccessContext.system(role="hub", started_at=self._clock.now()),
                    operation=Operation.FEDERATION_REPORT,
                    subjects=[Subject.match(m) for m in changed],
                )
            applied = len(changed)
        return applied

    def _remote_card(self, participant: ReportParticipant) -> str:
        card = self._keys.open_card(
            participant.card, region=participant.region, reference=participant.reference
        )
        if card is None:
            card = {"organisation": None, "professional": None, "registered_at": None}
        if not self._config.share_contacts:
            card["professional"] = None
        return json.dumps(card, separators=(",", ":"))

    async def _apply(self, session: AsyncSession, report: MatchReport, events: list[Event]) -> int:
        match = await session.get(FederatedMatch, report.match_id)
        if match is not None and match.version >= report.version:
            return 0
        new = match is None
        was_open = match is not None and match.status is MatchStatus.OPEN
        local = await self._local(session, report)
        if match is None:
            # A match first heard of when it is closed, or with none of this region's
            # registrations (ended, erased, purged since), is nobody's business here.
            if report.status is not MatchStatus.OPEN or not local:
                return 0
            match = FederatedMatch(
                id=report.match_id,
                status=report.status,
                version=report.version,
                created_at=report.created_at,
                closed_at=report.closed_at,
            )
            session.add(match)
            await session.flush()
        else:
            match.status = report.status
            match.version = report.version
            match.closed_at = report.closed_at
        rows = {
            (p.region, p.reference): p for p in await repo.federated_participants(session, match.id)
        }
        before = {k for k, p in rows.items() if p.left_at is None}
        ended: set[tuple[str, str]] = set()
        for participant in report.participants:
            key = (participant.region, participant.reference)
            if participant.ended:
                ended.add(key)
            row = rows.get(key)
            if row is None:
                own = participant.region == self.region
                if own and participant.reference not in local:
                    continue  # a registration this region no longer holds (erased, purged)
                registration_id, organisation_id = (
                    local[participant.reference] if own else (None, None)
                )
                row = FederatedParticipant(
                    id=new_id(),
                    match_id=match.id,
                    region=participant.region,
                    reference=participant.reference,
                    registration_id=registration_id,
                    organisation_id=organisation_id,
                    card=None if own else self._remote_card(participant),
                    joined_at=participant.joined_at,
                    left_at=participant.left_at,
                )
                session.add(row)
                rows[key] = row
            else:
                row.left_at = participant.left_at
        await session.flush()
        events.extend(self._events(match.id, rows, before, ended, new or not was_open, report))
        return 1

    async def _local(
        self, session: AsyncSession, report: MatchReport
    ) -> dict[str, tuple[str, str]]:
        """reference → (registration id, organisation id) of this region's participants that
        still exist here."""
        ids = {
            p.reference: self._references.registration_of(p.reference)
            for p in report.participants
            if p.region == self.region
        }
        organisations = await repo.organisations_of_registrations(
            session, [r for r in ids.values() if r is not None]
        )
        return {
            ref: (rid, organisations[rid])
            for ref, rid in ids.items()
            if rid is not None and rid in organisations
        }

    def _events(
        self,
        match_id: str,
        rows: Mapping[tuple[str, str], FederatedParticipant],
        before: set[tuple[str, str]],
        ended: set[tuple[str, str]],
        new: bool,
        report: MatchReport,
    ) -> list[Event]:
        """The webhooks of one report for this region's participants, as a regional match
        has them: created; joined (to everyone in it now); left (to those who stay); closed
        (to those it closed on). Each carries ``scope: cross_region``."""
        after = {k for k, p in rows.items() if p.left_at is None}
        now = self._clock.now()

        def local(keys: set[tuple[str, str]]) -> list[FederatedParticipant]:
            return [rows[k] for k in sorted(keys) if rows[k].organisation_id]

        def event(kind: EventType, p: FederatedParticipant, **extra: str) -> Event:
            assert p.organisation_id is not None and p.registration_id is not None
            data = {"match_id": match_id, "registration_id": p.registration_id}
            body = {**data, **extra, "scope": CROSS_REGION}
            return Event(kind, p.organisation_id, body, now, match_id)

        if new:
            if report.status is not MatchStatus.OPEN:
                return []
            return [event(EventType.MATCH_CREATED, p) for p in local(after)]
        out: list[Event] = []
        for key in sorted(after - before):
            out.extend(
                event(
                    EventType.MATCH_PARTICIPANT_JOINED,
                    p,
                    participant_registration_id=_participant_ref(rows[key]),
                    participant_region=key[0],
                )
                for p in local(after)
            )
        stay = before - ended
        for key in sorted((before - after) & ended):
            out.extend(
                event(
                    EventType.MATCH_PARTICIPANT_LEFT,
                    p,
                    participant_registration_id=_participant_ref(rows[key]),
                    participant_region=key[0],
                )
                for p in local(stay)
            )
        if report.status is MatchStatus.CLOSED:
            out.extend(event(EventType.MATCH_CLOSED, p) for p in local(stay))
        return out

    # --- reads ------------------------------------------------------------------------

    async def list_for_organisation(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        status: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[MatchHead]:
        return await repo.list_federated_matches(
            session, organisation_id=organisation_id, status=status, after=after, limit=limit
        )

    async def match_for_organisation(
        self, session: AsyncSession, *, match_id: str, organisation_id: str
    ) -> MatchView | None:
        match = await repo.federated_match_of_organisation(
            session, match_id=match_id, organisation_id=organisation_id
        )
        if match is None:
            return None
        rows = await repo.federated_participants(session, match.id)
        details = await repo.local_participant_details(
            session, [p.registration_id for p in rows if p.registration_id]
        )
        participants: list[ParticipantView] = []
        for p in rows:
            if p.registration_id is not None:
                detail = details.get(p.registration_id)
                if detail is None:
                    continue
                participants.append(
                    ParticipantView(
                        p.registration_id, detail[0], p.joined_at, p.left_at, *detail[1:]
                    )
                )
                continue
            card = json.loads(p.card or "{}")
            organisation = card.get("organisation") or {}
            professional = card.get("professional")
            registered = card.get("registered_at")
            participants.append(
                ParticipantView(
                    registration_id=p.reference,
                    registered_at=datetime.fromisoformat(registered) if registered else p.joined_at,
                    joined_at=p.joined_at,
                    left_at=p.left_at,
                    organisation_id=str(organisation.get("id", "")),
                    organisation_name=str(organisation.get("name", "")),
                    organisation_sector=str(organisation.get("sector", "")),
                    professional_id="",
                    professional_name=professional["name"] if professional else "",
                    professional_email=professional["email"] if professional else "",
                    professional_phone=professional["phone"] if professional else "",
                    region=p.region,
                    contact_shared=professional is not None,
                )
            )
        return MatchView(
            id=match.id,
            status=match.status,
            created_at=match.created_at,
            closed_at=match.closed_at,
            participants=participants,
            cross_region=True,
        )


def _participant_ref(participant: FederatedParticipant) -> str:
    return participant.registration_id or participant.reference


def region_config(settings: Settings) -> RegionConfig | None:
    """The region's configuration, or None when this index is not a federated region."""
    if not settings.is_federated_region:
        return None
    assert settings.federation_region_id is not None
    assert settings.federation_hub_url is not None
    assert settings.federation_region_key is not None
    from verwijsindex.federation.keys import parse_region_key

    transport.check_url(settings.federation_hub_url, settings)
    return RegionConfig(
        region=settings.federation_region_id,
        hub_url=settings.federation_hub_url,
        region_key=parse_region_key(settings.federation_region_key.get_secret_value()),
        share_contacts=settings.federation_share_contacts is ShareContacts.CONTACTS,
    )
