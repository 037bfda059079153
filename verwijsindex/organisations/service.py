"""Organisations, professionals and API keys (operator actions and authentication)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.clock import Clock
from verwijsindex.errors import InvalidInput, NotFound
from verwijsindex.organisations import repository as org_repo
from verwijsindex.organisations.models import ApiKey, Organisation, Professional, Role, Sector
from verwijsindex.storage import Database

if TYPE_CHECKING:
    from verwijsindex.organisations.credentials import CredentialCache

API_KEY_PREFIX_LIVE = "vi_live_"
API_KEY_PREFIX_TEST = "vi_test_"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]{8,20}$")
TOUCH_INTERVAL = timedelta(minutes=1)
"""The last use of a key is recorded at most this often."""
MAX_API_KEY_DAYS = 3650


def hash_api_key(key: str) -> str:
    """API keys carry 256 bits of entropy, so an unsalted SHA-256 is a safe lookup hash."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an organisation's system holding a key with one role."""

    api_key_id: str
    organisation_id: str
    role: Role
    needs_touch: bool = False
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class IssuedKey:
    id: str
    key: str
    prefix: str
    organisation_id: str
    role: Role
    created_at: datetime
    expires_at: datetime | None


def _clean(value: str, field: str, max_len: int) -> str:
    value = value.strip()
    if not value or len(value) > max_len or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"{field} must be 1 to {max_len} printable characters")
    return value


class AdminService:
    def __init__(self, *, clock: Clock, live_keys: bool) -> None:
        self._clock = clock
        self._key_prefix = API_KEY_PREFIX_LIVE if live_keys else API_KEY_PREFIX_TEST

    async def create_organisation(
        self, session: AsyncSession, *, name: str, sector: str, municipality: str
    ) -> Organisation:
        try:
            sector_value = Sector(sector)
        except ValueError:
            raise InvalidInput(
                "sector must be one of: " + ", ".join(s.value for s in Sector)
            ) from None
        if not (len(municipality) == 4 and municipality.isascii() and municipality.isdigit()):
            raise InvalidInput("municipality must be a four-digit CBS municipality code")
        organisation = Organisation(
            name=_clean(name, "name", 200),
            sector=sector_value.value,
            municipality=municipality,
            created_at=self._clock.now(),
        )
        session.add(organisation)
        await session.flush()
        return organisation

    async def create_professional(
        self, session: AsyncSession, *, organisation_id: str, name: str, email: str, phone: str
    ) -> Professional:
        if await org_repo.get_organisation(session, organisation_id) is None:
            raise NotFound("organisation not found")
        email = email.strip()
        phone = phone.strip()
        if not _EMAIL.match(email):
            raise InvalidInput("email is not a valid e-mail address")
        if not _PHONE.match(phone):
            raise InvalidInput("phone is not a valid telephone number")
        professional = Professional(
            organisation_id=organisation_id,
            name=_clean(name, "name", 200),
            email=email,
            phone=phone,
            active=True,
            created_at=self._clock.now(),
        )
        session.add(professional)
        await session.flush()
        return professional

    async def create_api_key(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        role: str,
        expires_at: datetime | None = None,
        expires_in_days: int | None = None,
    ) -> IssuedKey:
        """Issue a key; ``expires_in_days`` (1 to 3650) sets ``expires_at`` from now."""
        try:
            role_value = Role(role)
        except ValueError:
            raise InvalidInput("role must be one of: " + ", ".join(r.value for r in Role)) from None
        if expires_in_days is not None:
            if not 1 <= expires_in_days <= MAX_API_KEY_DAYS:
                raise InvalidInput(f"expires_in_days must be 1 to {MAX_API_KEY_DAYS}")
            expires_at = self._clock.now() + timedelta(days=expires_in_days)
        organisation = await org_repo.get_organisation(session, organisation_id)
        if organisation is None:
            raise NotFound("organisation not found")
        if (
            role_value in (Role.PRIVACY_OFFICER, Role.MUNICIPALITY_ADMIN)
            and organisation.sector != Sector.MUNICIPALITY
        ):
            raise InvalidInput(
                f"a {role_value.value} key belongs to a municipality's organisation"
                " (sector 'municipality')"
            )
        key = self._key_prefix + secrets.token_urlsafe(32)
        api_key = ApiKey(
            organisation_id=organisation_id,
            role=role_value.value,
            prefix=key[:16],
            key_hash=hash_api_key(key),
            created_at=self._clock.now(),
            expires_at=expires_at,
            last_used_at=None,
            revoked_at=None,
        )
        session.add(api_key)
        await session.flush()
        return IssuedKey(
            id=api_key.id,
            key=key,
            prefix=api_key.prefix,
            organisation_id=organisation_id,
            role=role_value,
            created_at=api_key.created_at,
            expires_at=api_key.expires_at,
        )

    async def list_api_keys(self, session: AsyncSession, *, organisation_id: str) -> list[ApiKey]:
        """The organisation's keys, oldest first (hashes stay in the database)."""
        if await org_repo.get_organisation(session, organisation_id) is None:
            raise NotFound("organisation not found")
        return await org_repo.list_api_keys(session, organisation_id)

    async def revoke_api_key(
        self, session: AsyncSession, *, key_id: str, organisation_id: str | None
    ) -> ApiKey:
        """Revoke a key now (idempotent: a revoked key keeps its first ``revoked_at``).

        ``organisation_id`` confines the lookup to one organisation; a key of another
        organisation is reported as not found. ``None`` is the operator's unconfined path.
        """
        api_key = await org_repo.get_api_key(session, key_id)
        if api_key is None or (
            organisation_id is not None and api_key.organisation_id != organisation_id
        ):
            raise NotFound("API key not found")
        if api_key.revoked_at is None:
            api_key.revoked_at = self._clock.now()
            await session.flush()
        return api_key

    async def authenticate(self, session: AsyncSession, presented: str) -> Principal | None:
        """The principal for a presented key, or None for unknown, revoked or expired keys.

        Read-only; :meth:`touch` records the last use (at most once a minute per key)."""
        if not presented.startswith((API_KEY_PREFIX_LIVE, API_KEY_PREFIX_TEST)):
            return None
        digest = hash_api_key(presented)
        api_key = await org_repo.get_api_key_by_hash(session, digest)
        if api_key is None or not hmac.compare_digest(api_key.key_hash, digest):
            return None
        now = self._clock.now()
        if api_key.revoked_at is not None:
            return None
        if api_key.expires_at is not None and api_key.expires_at <= now:
            return None
        stale = api_key.last_used_at is None or now - api_key.last_used_at >= TOUCH_INTERVAL
        return Principal(
            api_key_id=api_key.id,
            organisation_id=api_key.organisation_id,
            role=Role(api_key.role),
            needs_touch=stale,
            expires_at=api_key.expires_at,
            last_used_at=api_key.last_used_at,
        )

    async def touch(self, session: AsyncSession, principal: Principal) -> None:
        await org_repo.touch_api_key(session, principal.api_key_id, self._clock.now())

    async def professional_of(
        self, session: AsyncSession, *, professional_id: str
    ) -> Professional | None:
        return await org_repo.get_professional(session, professional_id)


class ApiKeyService:
    """An organisation's own API keys through the API (an org-admin's): each call one unit of
    work. Revoking also drops the key from this process's credential cache."""

    def __init__(
        self, *, admin: AdminService, database: Database, credentials: CredentialCache
    ) -> None:
        self._admin = admin
        self._database = database
        self._credentials = credentials

    async def of_organisation(self, organisation_id: str) -> list[ApiKey]:
        async with self._database.read() as session:
            return await self._admin.list_api_keys(session, organisation_id=organisation_id)

    async def issue(
        self, *, organisation_id: str, role: str, expires_in_days: int | None
    ) -> IssuedKey:
        async with self._database.transaction() as session:
            return await self._admin.create_api_key(
                session,
                organisation_id=organisation_id,
                role=role,
                expires_in_days=expires_in_days,
            )

    async def revoke(self, *, organisation_id: str, key_id: str) -> ApiKey:
        async with self._database.transaction() as session:
            api_key = await self._admin.revoke_api_key(
                session, key_id=key_id, organisation_id=organisation_id
            )
        self._credentials.forget_key(api_key.id)
        return api_key
