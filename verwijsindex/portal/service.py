"""Sign-in, sessions and accounts of the web portal. Each method is one unit of work.

A browser holds a random session token in a cookie; the database holds only its SHA-256.
A session exists before sign-in (it carries the sign-in form's CSRF token and an OpenID
Connect sign-in under way) and is replaced by a new one at sign-in, so a token planted
before sign-in is worth nothing after it. A session ends at sign-out, after
``portal_idle_minutes`` without a request, or ``portal_session_hours`` after it began.

Local accounts: an argon2id password hash and a TOTP secret (RFC 6238, 30-second steps, one
step of clock drift either way, each step usable once). After ``portal_backoff_after``
failures in a row each further attempt of the account waits twice as long as the one
before (up to ``portal_backoff_max_seconds``); a success resets the count."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import SealedSecretError, SecretBox
from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Status, Subject
from verwijsindex.clock import Clock
from verwijsindex.errors import Conflict, InvalidInput, NotFound, VerwijsindexError
from verwijsindex.keys import KeyRing
from verwijsindex.logging import get_logger
from verwijsindex.organisations import repository as org_repo
from verwijsindex.organisations.credentials import CredentialCache
from verwijsindex.organisations.models import Professional
from verwijsindex.organisations.service import AdminService
from verwijsindex.portal import repository as repo
from verwijsindex.portal.models import PortalAccount, PortalSession
from verwijsindex.settings import Settings
from verwijsindex.storage import Database
from verwijsindex.storage.base import new_id

log = get_logger(__name__)

_TOUCH_EVERY = timedelta(seconds=30)
_HASHER = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password, verified against when a sign-in names no account so that
    it takes as long as one that does. Made once per process, on first use (about 0.3 s of
    CPU, which every command importing this module paid at import before);
    ``verwijsindex serve`` makes it at start-up."""
    return _HASHER.hash(secrets.token_urlsafe(16))


TOTP_ISSUER = "Verwijsindex"
TOTP_SECRETS_PURPOSE = "portal-totp-secrets"
"""The HKDF purpose of the key that seals TOTP secrets at rest (one per master-key version)."""


def _totp_context(account_id: str) -> str:
    return f"portal-account:{account_id}:totp"


class SignInRefused(VerwijsindexError):
    """The credentials were not accepted (which part is never said), or the account waits."""

    code = "sign-in-refused"

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PortalUser:
    """The signed-in professional, as the session says (never as a request header says)."""

    account_id: str
    professional_id: str
    organisation_id: str
    name: str
    org_admin: bool
    municipality: str | None = None
    """The municipality code when the organisation is of sector municipality."""


@dataclass(frozen=True, slots=True)
class BrowserSession:
    id: str
    csrf_token: str
    user: PortalUser | None
    pending: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    session: BrowserSession


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """A new account's sign-in, shown once to the admin who made it."""

    professional_id: str
    username: str
    password: str | None
    totp_secret: str | None

    @property
    def provisioning_uri(self) -> str | None:
        if self.totp_secret is None:
            return None
        return pyotp.TOTP(self.totp_secret).provisioning_uri(
            name=self.username, issuer_name=TOTP_ISSUER
        )


@dataclass(frozen=True, slots=True)
class ProfessionalEntry:
    professional: Professional
    account: PortalAccount | None


def _now_step(now: datetime) -> int:
    return int(now.timestamp()) // 30


def _totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (of now and one either side) whose code ``code`` is, or None."""
    totp = pyotp.TOTP(secret)
    current = _now_step(now)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class PortalService:
    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        access_log: AccessLogger,
        clock: Clock,
        admin: AdminService,
        credentials: CredentialCache,
        keys: KeyRing,
    ) -> None:
        self._box = SecretBox(
            keys={v: keys.subkey(TOTP_SECRETS_PURPOSE, version=v) for v in keys.versions},
            current_version=keys.current_version,
        )
        self._settings = settings
        self._database = database
        self._access_log = access_log
        self._clock = clock
        self._admin = admin
        self._credentials = credentials
        self.idle = timedelta(minutes=settings.portal_idle_minutes)
        self.lifetime = timedelta(hours=settings.portal_session_hours)

    def _seal_totp(self, account_id: str, secret: str) -> str:
        return self._box.seal(secret, context=_totp_context(account_id))

    def _totp_secret(self, account: PortalAccount) -> str | None:
        """The account's TOTP secret in the clear: opened when sealed, as stored when it was
        stored before sealing (it is sealed at that account's next sign-in). A sealed value
        that does not open (copied from another account, sealed under a retired key) is no
        second factor: the sign-in fails as for a wrong code."""
        stored = account.totp_secret
        # A secret stored before sealing is base32 (upper case letters and digits 2-7), so
        # it never has the sealed form.
        if stored is None or SecretBox.version_of(stored) is None:
            return stored
        try:
            return self._box.open(stored, context=_totp_context(account.id))
        except SealedSecretError:
            log.warning("portal_totp_secret_unreadable")
            return None

    # --- sessions -------------------------------------------------------------------------

    async def open_session(self) -> NewSession:
        """A new session before sign-in (it carries the sign-in form's CSRF token)."""
        now = self._clock.now()
        token = secrets.token_urlsafe(32)
        row = PortalSession(
            id=token_digest(token),
            account_id=None,
            csrf_token=secrets.token_urlsafe(32),
            pending=None,
            created_at=now,
            last_seen_at=now,
        )
        async with self._database.transaction() as session:
            await repo.delete_idle_sessions(session, seen_before=now - self.idle)
            session.add(row)
        return NewSession(token, BrowserSession(row.id, row.csrf_token, None, None))

    async def resume(self, token: str, access: AccessContext) -> BrowserSession | None:
        """The live session of ``token``, or None: unknown, ended, idle too long (then it is
        ended now, and a signed-in one is logged as signed out by the idle timeout), or of a
        professional who is no longer active."""
        if not token or len(token) > 100:
            return None
        digest = token_digest(token)
        now = self._clock.now()
        async with self._database.read() as session:
            found = await repo.session_with_account(session, digest)
        if found is None:
            return None
        row, account, professional, municipality = found
        expired = now - row.last_seen_at > self.idle or now - row.created_at > self.lifetime
        inactive = account is not None and (professional is None or not professional.active)
        if expired or inactive:
            async with self._database.transaction() as session:
                await repo.delete_session(session, digest)
                if account is not None:
                    await self._access_log.record(
                        session,
                        self._as(access, account),
                        operation=Operation.PORTAL_SIGN_OUT,
                        subject=Subject.professional(account.professional_id),
                        reason="idle-timeout" if expired else "deactivated",
                    )
            return None
        if now - row.last_seen_at >= _TOUCH_EVERY:
            async with self._database.transaction() as session:
                await repo.touch_session(session, digest, now)
        user = None
        if account is not None and professional is not None:
            user = PortalUser(
                account_id=account.id,
                professional_id=account.professional_id,
                organisation_id=account.organisation_id,
                name=professional.name,
                org_admin=account.org_admin,
                municipality=municipality,
            )
        pending = json.loads(row.pending) if row.pending else None
        return BrowserSession(row.id, row.csrf_token, user, pending)

    @staticmethod
    def _as(access: AccessContext, account: PortalAccount) -> AccessContext:
        return AccessContext(
            trace=access.trace,
            started_at=access.started_at,
            role="org-admin" if account.org_admin else "professional",
            organisation_id=account.organisation_id,
            professional_id=account.professional_id,
            on_behalf_of=account.organisation_id,
        )

    async def set_pending(self, session_id: str, pending: dict[str, Any] | None) -> None:
        async with self._database.transaction() as session:
            row = await repo.get_session(session, session_id)
            if row is None:
                raise NotFound("session not found")
            row.pending = json.dumps(pending) if pending is not None else None

    async def sign_out(self, access: AccessContext, browser: BrowserSession) -> None:
        async with self._database.transaction() as session:
            await repo.delete_session(session, browser.id)
            if browser.user is not None:
                await self._access_log.record(
                    session,
                    access,
                    operation=Operation.PORTAL_SIGN_OUT,
                    subject=Subject.professional(browser.user.professional_id),
                    reason="signed-out",
                )

    async def _signed_in(
        self, session: AsyncSession, access: AccessContext, account: PortalAccount, old_id: str
    ) -> NewSession:
        """Replace the browser's session by a signed-in one; log the sign-in."""
        now = self._clock.now()
        await repo.delete_session(session, old_id)
        token = secrets.token_urlsafe(32)
        row = PortalSession(
            id=token_digest(token),
            account_id=account.id,
            csrf_token=secrets.token_urlsafe(32),
            pending=None,
            created_at=now,
            last_seen_at=now,
        )
        session.add(row)
        account.failed_attempts = 0
        account.locked_until = None
        await self._access_log.record(
            session,
            self._as(access, account),
            operation=Operation.PORTAL_SIGN_IN,
            subject=Subject.professional(account.professional_id),
        )
        professional = await org_repo.get_professional(session, account.professional_id)
        assert professional is not None
        user = PortalUser(
            account.id,
            account.professional_id,
            account.organisation_id,
            professional.name,
            account.org_admin,
            await repo.municipality_of(session, account.organisation_id),
        )
        return NewSession(token, BrowserSession(row.id, row.csrf_token, user, None))

    async def _refuse(
        self,
        access: AccessContext,
        account: PortalAccount | None,
        reason: str,
        *,
        count: bool,
    ) -> SignInRefused:
        """Log the failure (and count it against the account) in its own transaction."""
        now = self._clock.now()
        retry_after: float | None = None
        async with self._database.transaction() as session:
            subject = None
            if account is not None:
                subject = Subject.professional(account.professional_id)
                if count:
                    stored = await session.get(PortalAccount, account.id)
                    assert stored is not None
                    stored.failed_attempts += 1
                    over = stored.failed_attempts - self._settings.portal_backoff_after
                    if over >= 0:
                        wait = min(5.0 * 2**over, self._settings.portal_backoff_max_seconds)
                        stored.locked_until = now + timedelta(seconds=wait)
                        retry_after = wait
            await self._access_log.record(
                session,
                access,
                operation=Operation.PORTAL_SIGN_IN,
                status=Status.FAILURE,
                subject=subject,
                reason=reason,
            )
        return SignInRefused("sign-in refused", retry_after=retry_after)

    async def sign_in_local(
        self,
        access: AccessContext,
        browser: BrowserSession,
        *,
        username: str,
        password: str,
        code: str,
    ) -> NewSession:
        """Check password and TOTP code; raise :class:`SignInRefused` without saying which
        failed. A waiting account is refused before its password is looked at."""
        now = self._clock.now()
        username = username.strip().lower()
        async with self._database.read() as session:
            account = await repo.account_by_username(session, username)
            professional = (
                await org_repo.get_professional(session, account.professional_id)
                if account is not None
                else None
            )
        if account is None or account.password_hash is None:
            await asyncio.to_thread(_verify, dummy_hash(), password)  # the same time taken
            raise await self._refuse(access, account, "unknown-account", count=False)
        if account.locked_until is not None and account.locked_until > now:
            wait = (account.locked_until - now).total_seconds()
            refusal = await self._refuse(access, account, "locked", count=False)
            refusal.retry_after = wait
            raise refusal
        password_ok = await asyncio.to_thread(_verify, account.password_hash, password)
        secret = self._totp_secret(account)
        step = _totp_step(secret, code.strip(), now) if secret is not None else None
        replayed = (
            step is not None
            and account.totp_last_step is not None
            and (step <= account.totp_last_step)
        )
        if not password_ok or step is None or replayed:
            raise await self._refuse(access, account, "bad-credentials", count=True)
        if professional is None or not professional.active:
            raise await self._refuse(access, account, "deactivated", count=False)
        async with self._database.transaction() as session:
            stored = await session.get(PortalAccount, account.id)
            assert stored is not None
            stored.totp_last_step = step
            if secret is not None and not self._box.is_current(stored.totp_secret or ""):
                # stored before sealing, or sealed under an older master-key version
                stored.totp_secret = self._seal_totp(stored.id, secret)
            return await self._signed_in(session, access, stored, browser.id)

    async def sign_in_federated(
        self, access: AccessContext, browser: BrowserSession, *, username: str
    ) -> NewSession:
        """Sign in the account whose user name the identity provider's claim names."""
        username = username.strip().lower()
        async with self._database.transaction() as session:
            account = await repo.account_by_username(session, username)
            professional = (
                await org_repo.get_professional(session, account.professional_id)
                if account is not None
                else None
            )
            if account is not None and professional is not None and professional.active:
                return await self._signed_in(session, access, account, browser.id)
        raise await self._refuse(access, account, "oidc-unknown-account", count=False)

    async def refuse_federated(self, access: AccessContext, reason: str) -> SignInRefused:
        """Log a failed OpenID Connect sign-in (the provider's answer did not hold)."""
        return await self._refuse(access, None, reason, count=False)

    # --- accounts (the organisation admin's) -----------------------------------------------

    async def create_account(
        self,
        session: AsyncSession,
        *,
        professional: Professional,
        org_admin: bool,
        password: str | None = None,
        totp_secret: str | None = None,
    ) -> IssuedCredentials:
        """A sign-in account for the professional, with a password and TOTP secret (new
        random ones unless given), inside the caller's unit of work."""
        username = professional.email.strip().lower()
        if await repo.account_by_username(session, username) is not None:
            raise Conflict("an account with this e-mail address exists")
        password = password or secrets.token_urlsafe(12)
        totp_secret = totp_secret or pyotp.random_base32()
        account_id = new_id()
        session.add(
            PortalAccount(
                id=account_id,
                professional_id=professional.id,
                organisation_id=professional.organisation_id,
                username=username,
                password_hash=await asyncio.to_thread(_HASHER.hash, password),
                totp_secret=self._seal_totp(account_id, totp_secret),
                totp_last_step=None,
                org_admin=org_admin,
                failed_attempts=0,
                locked_until=None,
                created_at=self._clock.now(),
            )
        )
        await session.flush()
        return IssuedCredentials(professional.id, username, password, totp_secret)

    async def professionals(self, *, organisation_id: str) -> list[ProfessionalEntry]:
        async with self._database.read() as session:
            rows = await repo.professionals_of_organisation(session, organisation_id)
        return [ProfessionalEntry(p, a) for p, a in rows]

    async def add_professional(
        self,
        access: AccessContext,
        *,
        organisation_id: str,
        name: str,
        email: str,
        phone: str,
        org_admin: bool,
    ) -> IssuedCredentials:
        async with self._database.transaction() as session:
            username = email.strip().lower()
            if await repo.account_by_username(session, username) is not None:
                raise Conflict("an account with this e-mail address exists")
            professional = await self._admin.create_professional(
                session, organisation_id=organisation_id, name=name, email=email, phone=phone
            )
            issued = await self.create_account(
                session, professional=professional, org_admin=org_admin
            )
            await self._access_log.record(
                session,
                access,
                operation=Operation.ADMIN_CREATE_PROFESSIONAL,
                subject=Subject.professional(professional.id),
            )
        return issued

    async def _professional_of(
        self, session: AsyncSession, organisation_id: str, professional_id: str
    ) -> Professional:
        professional = await org_repo.get_professional(session, professional_id)
        if professional is None or professional.organisation_id != organisation_id:
            raise NotFound("professional not found")
        return professional

    async def deactivate(
        self, access: AccessContext, *, organisation_id: str, professional_id: str
    ) -> None:
        """The professional can no longer act (API or portal); their sessions end now."""
        async with self._database.transaction() as session:
            professional = await self._professional_of(session, organisation_id, professional_id)
            if professional.id == access.professional_id:
                raise InvalidInput("an admin cannot deactivate their own account")
            professional.active = False
            account = await repo.account_of_professional(session, professional.id)
            if account is not None:
                await repo.delete_sessions_of_account(session, account.id)
            await self._access_log.record(
                session,
                access,
                operation=Operation.ADMIN_DEACTIVATE_PROFESSIONAL,
                subject=Subject.professional(professional.id),
            )
        self._credentials.remember_professional(
            professional_id, organisation_id=organisation_id, active=False
        )

    async def reset_second_factor(
        self, access: AccessContext, *, organisation_id: str, professional_id: str
    ) -> IssuedCredentials:
        """A new TOTP secret (shown once); the account's sessions end."""
        async with self._database.transaction() as session:
            professional = await self._professional_of(session, organisation_id, professional_id)
            account = await repo.account_of_professional(session, professional.id)
            if account is None:
                raise NotFound("the professional has no portal account")
            totp_secret = pyotp.random_base32()
            account.totp_secret = self._seal_totp(account.id, totp_secret)
            account.totp_last_step = None
            account.failed_attempts = 0
            account.locked_until = None
            await repo.delete_sessions_of_account(session, account.id)
            await self._access_log.record(
                session,
                access,
                operation=Operation.ADMIN_RESET_SECOND_FACTOR,
                subject=Subject.professional(professional.id),
            )
        return IssuedCredentials(professional.id, account.username, None, totp_secret)

    async def organisation_names(self, ids: set[str]) -> dict[str, str]:
        async with self._database.read() as session:
            return await repo.organisations_named(session, ids)

    async def professional_names(self, organisation_id: str, ids: set[str]) -> dict[str, str]:
        """Names of the organisation's own professionals (who changed its covenant)."""
        async with self._database.read() as session:
            return await repo.professionals_named(session, organisation_id, ids)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
