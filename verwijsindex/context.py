"""What the running app holds: settings, database, keys, services. Built by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verwijsindex.clock import Clock
from verwijsindex.db import Database
from verwijsindex.domain.admin import AdminService
from verwijsindex.domain.service import RegistrationService
from verwijsindex.keys import KeyRing
from verwijsindex.settings import Settings
from verwijsindex.webhooks import Webhooks


@dataclass
class AppContext:
    settings: Settings
    database: Database
    keys: KeyRing
    clock: Clock
    admin: AdminService
    registrations: RegistrationService
    webhooks: Webhooks
    extras: dict[str, Any] = field(default_factory=dict)


def build_context(
    settings: Settings, *, clock: Clock, database: Database | None = None
) -> AppContext:
    from verwijsindex.db import create_database

    keys = KeyRing.load(settings)
    db = database or create_database(settings)
    return AppContext(
        settings=settings,
        database=db,
        keys=keys,
        clock=clock,
        admin=AdminService(clock=clock, live_keys=settings.is_production),
        registrations=RegistrationService(keys=keys, clock=clock),
        webhooks=Webhooks(settings=settings, database=db, keys=keys),
    )
