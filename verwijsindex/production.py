"""Start-up refusals of production mode (``VERWIJSINDEX_ENV=production``).

Key checks (development keys, key file and keys directory modes) live in
:meth:`verwijsindex.keys.KeyRing.load`; this module checks the rest of the configuration.
Every refusal names the setting to change.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from verwijsindex.errors import ConfigurationError
from verwijsindex.settings import Settings

_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file, or None for PostgreSQL and in-memory databases."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def check_production(settings: Settings) -> None:
    """Raise :class:`ConfigurationError` for settings production mode refuses.

    A missing SQLite file is created empty with mode 0600 (SQLite gives its journal and WAL
    files the database file's mode), so a first start cannot leave it readable by others."""
    if not settings.is_production:
        return
    if settings.allow_http_webhooks:
        raise ConfigurationError(
            "production mode refuses VERWIJSINDEX_ALLOW_HTTP_WEBHOOKS=true;"
            " webhook URLs must use https"
        )
    if settings.allow_private_webhook_addresses:
        raise ConfigurationError(
            "production mode refuses VERWIJSINDEX_ALLOW_PRIVATE_WEBHOOK_ADDRESSES=true;"
            " webhooks may only reach public addresses"
        )
    if settings.allow_loopback_webhook_addresses:
        raise ConfigurationError(
            "production mode refuses VERWIJSINDEX_ALLOW_LOOPBACK_WEBHOOK_ADDRESSES=true;"
            " webhooks may only reach public addresses"
        )
    if not settings.portal_secure_cookies:
        raise ConfigurationError(
            "production mode refuses VERWIJSINDEX_PORTAL_SECURE_COOKIES=false;"
            " the portal is served over https"
        )
    path = sqlite_path(settings)
    if path is None:
        return
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    for candidate in (path, *(Path(f"{path}{s}") for s in ("-wal", "-shm", "-journal"))):
        if candidate.exists() and candidate.stat().st_mode & _OTHERS:
            raise ConfigurationError(
                f"the SQLite database file of VERWIJSINDEX_DATABASE_URL ({candidate.name}) is"
                f" accessible by other users (mode {oct(candidate.stat().st_mode & 0o777)});"
                " chmod 600 it"
            )
