"""What the running app holds: settings, database, keys, services. Built by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from consent import ConsentService, Ledger
from verwijsindex.abuse import AbuseGuard
from verwijsindex.accesslog import AccessLogger
from verwijsindex.accesslog.service import AccessLogAudit
from verwijsindex.clock import Clock
from verwijsindex.consents.service import MatchConsents
from verwijsindex.coordination.service import CoordinationService
from verwijsindex.covenants.service import CovenantService
from verwijsindex.families.service import FamilyMatchService
from verwijsindex.keys import KeyRing
from verwijsindex.ledger.service import LedgerAudit
from verwijsindex.matches.service import MatchService
from verwijsindex.organisations.credentials import CredentialCache
from verwijsindex.organisations.service import AdminService, ApiKeyService
from verwijsindex.portal.service import PortalService
from verwijsindex.production import check_production
from verwijsindex.registrations.index import MatchIndex
from verwijsindex.registrations.service import RegistrationService
from verwijsindex.settings import Settings
from verwijsindex.storage import Database
from verwijsindex.storage.group_commit import GroupCommitter
from verwijsindex.subject_rights.service import (
    ErasureHookResult,
    ErasureScope,
    SubjectRightsService,
)
from verwijsindex.webhooks.service import Webhooks


@dataclass
class AppContext:
    settings: Settings
    database: Database
    keys: KeyRing
    clock: Clock
    admin: AdminService
    api_keys: ApiKeyService
    index: MatchIndex
    registrations: RegistrationService
    matches: MatchService
    family_matches: FamilyMatchService
    writes: GroupCommitter
    access_log: AccessLogger
    access_log_audit: AccessLogAudit
    abuse: AbuseGuard
    subject_rights: SubjectRightsService
    consent: ConsentService
    match_consents: MatchConsents
    ledger: LedgerAudit
    webhooks: Webhooks
    credentials: CredentialCache
    covenants: CovenantService
    coordination: CoordinationService
    portal: PortalService


def build_context(
    settings: Settings, *, clock: Clock, database: Database | None = None
) -> AppContext:
    from verwijsindex.storage import create_database

    check_production(settings)
    keys = KeyRing.load(settings)
    db = database or create_database(settings)
    writes = GroupCommitter(database=db, max_batch=settings.group_commit_max_batch)
    access_log = AccessLogger(keys=keys, clock=clock)
    coordination = CoordinationService(
        database=db, writes=writes, access_log=access_log, clock=clock
    )
    index = MatchIndex(keys=keys, clock=clock, hooks=coordination)
    abuse = AbuseGuard(settings=settings, clock=clock)
    registrations = RegistrationService(
        index=index,
        database=db,
        writes=writes,
        abuse=abuse,
        access_log=access_log,
        keys=keys,
        clock=clock,
    )
    consent = ConsentService(
        ledger=Ledger(origin=settings.resolved_ledger_origin, signing_key=keys.ledger_signing_key())
    )
    subject_rights = SubjectRightsService(
        keys=keys, clock=clock, index=index, database=db, access_log=access_log
    )

    async def erase_consent_ledger(session: AsyncSession, scope: ErasureScope) -> ErasureHookResult:
        erased = await consent.erase_for_matches(session, match_ids=scope.match_ids, at=clock.now())
        return ErasureHookResult(name="consent-ledger", erased=erased)

    subject_rights.add_erasure_hook(erase_consent_ledger)
    webhooks = Webhooks(settings=settings, database=db, keys=keys)
    db.on_commit(webhooks.after_commit)
    admin = AdminService(clock=clock, live_keys=settings.is_production)
    credentials = CredentialCache(ttl=settings.auth_cache_seconds)
    return AppContext(
        settings=settings,
        database=db,
        keys=keys,
        clock=clock,
        admin=admin,
        api_keys=ApiKeyService(admin=admin, database=db, credentials=credentials),
        index=index,
        registrations=registrations,
        matches=MatchService(database=db, writes=writes, access_log=access_log),
        family_matches=FamilyMatchService(database=db, writes=writes, access_log=access_log),
        writes=writes,
        access_log=access_log,
        access_log_audit=AccessLogAudit(database=db, access_log=access_log),
        abuse=abuse,
        subject_rights=subject_rights,
        consent=consent,
        match_consents=MatchConsents(
            database=db, writes=writes, consent=consent, access_log=access_log, clock=clock
        ),
        ledger=LedgerAudit(database=db, consent=consent, access_log=access_log, clock=clock),
        webhooks=webhooks,
        credentials=credentials,
        coordination=coordination,
        covenants=CovenantService(
            database=db,
            writes=writes,
            access_log=access_log,
            clock=clock,
            production=settings.is_production,
        ),
        portal=PortalService(
            settings=settings,
            database=db,
            access_log=access_log,
            clock=clock,
            admin=admin,
            credentials=credentials,
        ),
    )
