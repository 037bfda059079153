"""Apply Alembic migrations programmatically (on start-up and ``verwijsindex db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from verwijsindex.storage.engine import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def schema_metadata() -> list[MetaData]:
    """The tables the migrations build: the index's, the notifier's and the consent ledger's."""
    from consent import ConsentBase
    from consent import _models as _consent_models  # noqa: F401  (registers the tables)
    from notifier import NotifierBase
    from notifier import _alerts as _alert_models  # noqa: F401
    from notifier import _models as _notifier_models  # noqa: F401
    from verwijsindex.abuse import _models as _abuse_models  # noqa: F401
    from verwijsindex.accesslog import _models as _access_log_models  # noqa: F401
    from verwijsindex.coordination import models as _coordination_models  # noqa: F401
    from verwijsindex.covenants import models as _covenant_models  # noqa: F401
    from verwijsindex.families import models as _family_models  # noqa: F401
    from verwijsindex.federation import models as _federation_models  # noqa: F401
    from verwijsindex.matches import models as _match_models  # noqa: F401
    from verwijsindex.organisations import models as _organisation_models  # noqa: F401
    from verwijsindex.portal import models as _portal_models  # noqa: F401
    from verwijsindex.registrations import models as _registration_models  # noqa: F401
    from verwijsindex.statistics import models as _statistics_models  # noqa: F401
    from verwijsindex.storage.base import Base

    return [Base.metadata, NotifierBase.metadata, ConsentBase.metadata]


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Safe to run on every start: a no-op when current."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)
