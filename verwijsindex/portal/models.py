"""Tables of the web portal: sign-in accounts of professionals and server-side sessions.

An account belongs to one professional (its contact details stay in ``professionals``). It
holds an argon2 password hash and a TOTP secret (RFC 6238) for the embedded sign-in, or only
its link to the organisation's identity provider. A session row is found by the SHA-256 of
the random token in the browser's cookie: the token itself is never stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.storage.base import ID, Base, new_id


class PortalAccount(Base):
    __tablename__ = "portal_accounts"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    professional_id: Mapped[str] = mapped_column(ForeignKey("professionals.id"), unique=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(128))
    totp_last_step: Mapped[int | None]
    org_admin: Mapped[bool] = mapped_column(default=False)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]


class PortalSession(Base):
    __tablename__ = "portal_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the cookie's token."""
    account_id: Mapped[str | None] = mapped_column(ForeignKey("portal_accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    pending: Mapped[str | None] = mapped_column(Text)
    """An OpenID Connect sign-in under way (state, nonce, PKCE verifier) as JSON."""
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
