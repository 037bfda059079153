"""What the running app holds: settings, database, keys, services. Built by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from consent import ConsentService, Ledger
from verwijsindex.abuse import AbuseGuard
from verwijsindex.accesslog import AccessLogger
from verwijsindex.accesslog.service import AccessLogAudit
from verwijsindex.alerts.service import Alerts
from verwijsindex.blind.service import BlindPath
from verwijsindex.clock import Clock
from verwijsindex.consents.service import MatchConsents
from verwijsindex.coordination.service import CoordinationService
from verwijsindex.covenants.service import CovenantService
from verwijsindex.families.service import FamilyMatchService
from verwijsindex.federation.hub import HubService
from verwijsindex.federation.keys import REFERENCE_PURPOSE, FederationKeys, References
from verwijsindex.federation.service import RegionFederation, region_config
from verwijsindex.federation.staging import FederationStaging
from verwijsindex.keys import KeyRing
from verwijsindex.ledger.service import LedgerAudit
from verwijsindex.matches.service import MatchService
from verwijsindex.metrics import Metrics, process_metrics
from verwijsindex.operations.service import OperationsGauges
from verwijsindex.organisations.credentials import CredentialCache
from verwijsindex.organisations.service import AdminService, ApiKeyService
from verwijsindex.portal.service import PortalService
from verwijsindex.production import check_production
from verwijsindex.registrations.index import MatchIndex
from verwijsindex.registrations.service import RegistrationService
from verwijsindex.settings import Settings
from verwijsindex.statistics.service import StatisticsService
from verwijsindex.storage import Database
from verwijsindex.storage.group_commit import GroupCommitter
from verwijsindex.subject_rights.parents import ParentRightsService
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
    parent_rights: ParentRightsService
    consent: ConsentService
    match_consents: MatchConsents
    ledger: LedgerAudit
    webhooks: Webhooks
    alerts: Alerts
    credentials: CredentialCache
    statistics: StatisticsService
    operations: OperationsGauges
    metrics: Metrics | None
    """The process's instruments, when ``/metrics`` is on (a metrics token is set)."""
    covenants: CovenantService
    coordination: CoordinationService
    blind: BlindPath
    portal: PortalService
    federation: RegionFederation | None = None
    """This index's federation with a hub, when it is a federated region."""
    hub: HubService | None = None
    """The hub's service, when this process is the hub (``VERWIJSINDEX_ROLE=hub``)."""


def build_context(
    settings: Settings, *, clock: Clock, database: Database | None = None
) -> AppContext:
    from verwijsindex.storage import create_database

    check_production(settings)
    keys = KeyRing.load(settings)
    db = database or create_database(settings)
    metrics = process_metrics() if settings.metrics_token is not None else None
    writes = GroupCommitter(
        database=db,
        max_batch=settings.group_commit_max_batch,
        on_group=metrics.observe_group if metrics is not None else None,
    )
    access_log = AccessLogger(keys=keys, clock=clock)
    covenants = CovenantService(
        database=db,
        writes=writes,
        access_log=access_log,
        clock=clock,
        production=settings.is_production,
    )
    coordination = CoordinationService(
        database=db,
        writes=writes,
        access_log=access_log,
        clock=clock,
        covenants=covenants.current_covenants,
    )
    federation: RegionFederation | None = None
    config = region_config(settings)
    if config is not None:
        assert settings.federation_key is not None
        federation_keys = FederationKeys.from_setting(
            settings.federation_key.get_secret_value(), version=settings.federation_key_version
        )
        references = References(
            {v: keys.subkey(REFERENCE_PURPOSE, version=v, length=64) for v in keys.versions},
            keys.current_version,
        )
        federation = RegionFederation(
            settings=settings,
            database=db,
            keys=federation_keys,
            config=config,
            references=references,
            clock=clock,
            access_log=access_log,
        )
        db.on_commit(federation.after_commit)
    hub: HubService | None = None
    if settings.is_hub:
        hub = HubService(settings=settings, database=db, keys=keys, clock=clock)
        db.on_commit(hub.after_commit)
    index = MatchIndex(
        keys=keys,
        clock=clock,
        hooks=coordination,
        covenants=covenants.current_covenants,
        federation=None
        if federation is None
        else FederationStaging(federation_keys, references, source=settings.federation_input),
    )
    abuse = AbuseGuard(settings=settings, clock=clock)
    blind = BlindPath.from_settings(settings, database=db)
    registrations = RegistrationService(
        index=index,
        database=db,
        writes=writes,
        abuse=abuse,
        access_log=access_log,
        keys=keys,
        clock=clock,
        blind=blind,
    )
    consent = ConsentService(
        ledger=Ledger(origin=settings.resolved_ledger_origin, signing_key=keys.ledger_signing_key())
    )
    subject_rights = SubjectRightsService(
        keys=keys, clock=clock, index=index, database=db, access_log=access_log, blind=blind
    )

    async def erase_consent_ledger(session: AsyncSession, scope: ErasureScope) -> ErasureHookResult:
        erased = await consent.erase_for_matches(session, match_ids=scope.match_ids, at=clock.now())
        return ErasureHookResult(name="consent-ledger", erased=erased)

    subject_rights.add_erasure_hook(erase_consent_ledger)
    parent_rights = ParentRightsService(
        keys=keys, clock=clock, database=db, access_log=access_log, blind=blind
    )
    if federation is not None:

        async def erase_federation(session: AsyncSession, scope: ErasureScope) -> ErasureHookResult:
            erased = await RegionFederation.erase(session, scope.registration_ids)
            return ErasureHookResult(name="federation", erased=erased)

        subject_rights.add_erasure_hook(erase_federation)
    webhooks = Webhooks(
        settings=settings,
        database=db,
        keys=keys,
        on_attempt=metrics.observe_delivery if metrics is not None else None,
    )
    db.on_commit(webhooks.after_commit)
    statistics = StatisticsService(
        database=db,
        clock=clock,
        threshold=settings.statistics_threshold,
        lag=timedelta(seconds=settings.statistics_rollup_lag_seconds),
    )
    registrations.add_purge_hook(statistics.count_before_purge)
    alerts = Alerts(settings=settings, database=db)
    db.on_commit(alerts.after_commit)
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
        matches=MatchService(
            database=db, writes=writes, access_log=access_log, federation=federation
        ),
        family_matches=FamilyMatchService(database=db, writes=writes, access_log=access_log),
        writes=writes,
        access_log=access_log,
        access_log_audit=AccessLogAudit(database=db, access_log=access_log),
        abuse=abuse,
        subject_rights=subject_rights,
        parent_rights=parent_rights,
        consent=consent,
        match_consents=MatchConsents(
            database=db, writes=writes, consent=consent, access_log=access_log, clock=clock
        ),
        ledger=LedgerAudit(database=db, consent=consent, access_log=access_log, clock=clock),
        webhooks=webhooks,
        alerts=alerts,
        credentials=credentials,
        statistics=statistics,
        operations=OperationsGauges(database=db, clock=clock, statistics=statistics),
        metrics=metrics,
        coordination=coordination,
        covenants=covenants,
        blind=blind,
        federation=federation,
        hub=hub,
        portal=PortalService(
            settings=settings,
            database=db,
            access_log=access_log,
            clock=clock,
            admin=admin,
            credentials=credentials,
            keys=keys,
        ),
    )
