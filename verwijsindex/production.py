"""Start-up refusals of production mode (``VERWIJSINDEX_ENV=production``).

Key checks (development keys, key file and keys directory modes) live in
:meth:`verwijsindex.keys.KeyRing.load`; this module checks the rest of the configuration.
Every refusal names the setting to change.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from verwijsindex.errors import ConfigurationError
from verwijsindex.settings import Settings, SmtpSecurity

_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite database file, or None for PostgreSQL and in-memory databases."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _private_url(url: str) -> bool:
    """https, or http to a loopback address (a key service beside the index)."""
    parsed = urlsplit(url)
    if parsed.scheme == "https":
        return True
    host = parsed.hostname or ""
    try:
        return parsed.scheme == "http" and ip_address(host).is_loopback
    except ValueError:
        return parsed.scheme == "http" and host == "localhost"


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
    _check_mail(settings)
    if settings.keyservice_url is not None and not _private_url(settings.keyservice_url):
        raise ConfigurationError(
            "production mode refuses VERWIJSINDEX_KEYSERVICE_URL over http to another host;"
            " use https (or a loopback address)"
        )
    _check_federation_key(settings)
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


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address literal (127.0.0.0/8, ::1)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_mail(settings: Settings) -> None:
    """E-mail alerts in production: TLS to the relay unless it is on this machine, and an
    https portal link."""
    if not settings.alerts_enabled:
        return
    assert settings.smtp_host is not None
    if settings.smtp_security is SmtpSecurity.NONE and not is_loopback_host(settings.smtp_host):
        raise ConfigurationError(
            "production mode refuses VERWIJSINDEX_SMTP_SECURITY=none to a relay that is not on"
            " this machine (VERWIJSINDEX_SMTP_HOST); use starttls or tls"
        )
    if not settings.resolved_portal_url.startswith("https://"):
        raise ConfigurationError(
            "production mode needs VERWIJSINDEX_PORTAL_URL, an https URL, for the link in"
            " e-mail alerts"
        )


def _check_federation_key(settings: Settings) -> None:
    """The federation key every region shares is a key like the master key: random bytes."""
    if settings.federation_key is None:
        return
    import base64
    import binascii

    from verwijsindex.keys import weak_key_reason

    try:
        material = base64.b64decode(settings.federation_key.get_secret_value(), validate=True)
    except (ValueError, binascii.Error):
        raise ConfigurationError("VERWIJSINDEX_FEDERATION_KEY is not valid base64") from None
    reason = weak_key_reason(material) if len(material) >= 32 else "it is shorter than 32 bytes"
    if reason is not None:
        raise ConfigurationError(
            f"production mode refuses a weak VERWIJSINDEX_FEDERATION_KEY: {reason}"
        )
