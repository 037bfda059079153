"""The one configuration class. Built once (``Settings()``) and passed down."""

from __future__ import annotations

import re
import socket
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ORIGIN = re.compile(r"[^\s+]{1,200}")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """All settings, read from ``VERWIJSINDEX_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="VERWIJSINDEX_", extra="forbid")

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./var")
    database_url: str = ""
    keys_dir: Path | None = Field(
        default=None, description="Directory with key files; default <data_dir>/keys"
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 master key (32+ bytes) instead of a key file; never in the database",
    )
    master_key_version: int = Field(default=1, ge=1)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API worker processes of 'serve' sharing the port (PostgreSQL scales out)",
    )
    log_level: str = "info"
    log_json: bool = True

    retention_days: int = Field(default=0, ge=0, description="Days an ended registration is kept")
    sweep_interval_seconds: float = Field(default=3600.0, gt=0)
    run_sweeper: bool = True
    auto_migrate: bool = True

    group_commit: bool = Field(
        default=True,
        description="Concurrent registrations of one process share one set-based write and one"
        " transaction (SQLite and PostgreSQL)",
    )
    group_commit_max_batch: int = Field(default=256, ge=1, le=10_000)

    auth_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="How long an authenticated API key and professional are cached in process;"
        " a revocation by another process takes effect within this time; 0 disables",
    )

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(default=512 * 1024, ge=1024)
    max_request_target_bytes: int = Field(
        default=8 * 1024, ge=1024, description="Longest request target (path and query); 414"
    )
    max_header_line_bytes: int = Field(
        default=8 * 1024, ge=1024, description="Largest header field (name and value); 431"
    )
    max_header_bytes: int = Field(
        default=32 * 1024, ge=1024, description="All header fields of a request together; 431"
    )
    max_header_count: int = Field(
        default=100, ge=10, le=10_000, description="Most header fields in a request; 431"
    )
    db_pool_size: int = Field(default=10, ge=1)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    sqlite_checkpoint_interval_s: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="SQLite: how often the service copies the write-ahead log into the database"
        " file in the background, so that commits do not; 0 leaves it to SQLite's automatic"
        " checkpoint on commit",
    )
    sqlite_cache_mib: int = Field(
        default=64,
        ge=2,
        le=4096,
        description="SQLite: page cache of the connection that writes registrations, in MiB",
    )

    rate_limit_professional_per_minute: int = Field(
        default=60, ge=0, description="Registrations per professional per minute; 0 disables"
    )
    rate_limit_professional_per_day: int = Field(
        default=1000, ge=0, description="Registrations per professional per UTC day; 0 disables"
    )
    rate_limit_organisation_per_minute: int = Field(
        default=600, ge=0, description="Registrations per organisation per minute; 0 disables"
    )
    rate_limit_organisation_batch_per_day: int = Field(
        default=50_000,
        ge=0,
        description="Items of batch registrations under a bulk-import grant per organisation"
        " per UTC day (a ceiling on top of the grant); 0 disables",
    )
    anomaly_volume_minimum: int = Field(
        default=20, ge=1, description="New registrations per professional-hour always flagged"
    )
    anomaly_volume_factor: float = Field(
        default=5.0, gt=0, description="Flag above this multiple of the organisation's median"
    )
    anomaly_withdraw_minutes: int = Field(
        default=60, ge=0, description="Flag a withdrawal this soon after registering and matching"
    )
    ledger_origin: str | None = Field(
        default=None,
        description="Origin line of ledger checkpoints; default verwijsindex.<host>/consent-ledger",
    )
    exchange_retention_days: int = Field(
        default=30, ge=1, description="Days unacknowledged exchange ciphertext is kept"
    )
    ledger_personal_retention_days: int = Field(
        default=0,
        ge=0,
        description="Days before the personal parts of ledger entries are erased (0: never)",
    )

    allow_http_webhooks: bool | None = None
    allow_loopback_webhook_addresses: bool | None = Field(
        default=None,
        description="Let webhooks reach loopback addresses (the demo receiver); default true in"
        " development, false in production, which refuses true",
    )
    allow_private_webhook_addresses: bool = Field(
        default=False,
        description="Let webhooks reach private (RFC 1918, ULA) and shared (CGNAT) addresses;"
        " an explicit opt-in, refused in production. Development reaches loopback without it",
    )
    run_webhook_worker: bool = Field(
        default=True, description="Deliver webhooks from inside 'serve' (a background task)"
    )
    webhook_poll_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often an idle worker looks for due messages (new ones wake it at once)",
    )
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    webhook_lease_seconds: float | None = Field(
        default=None, gt=0, description="Claim lease; default timeout + 15 s"
    )
    webhook_max_concurrency: int = Field(
        default=32, ge=1, description="Endpoints delivered to at once per worker"
    )
    webhook_retry_schedule: list[float] | None = Field(
        default=None,
        description="Delays in seconds before attempts 1..n (JSON list); default the Standard"
        " Webhooks schedule. For tests.",
    )
    webhook_retry_jitter: float = Field(default=0.1, ge=0, lt=1)

    portal_secure_cookies: bool | None = Field(
        default=None,
        description="Portal session cookie marked Secure (and named __Host-); default true in"
        " production, which refuses false, and false in development (served over http)",
    )
    portal_idle_minutes: float = Field(
        default=15.0, gt=0, le=24 * 60, description="A portal session ends after this idle time"
    )
    portal_session_hours: float = Field(
        default=12.0, gt=0, le=7 * 24, description="A portal session ends this long after sign-in"
    )
    portal_backoff_after: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Failed sign-ins of one account before each further attempt waits longer",
    )
    portal_backoff_max_seconds: float = Field(
        default=900.0, gt=0, description="The longest wait after failed sign-ins"
    )
    portal_oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer of the organisation's identity provider; unset: the"
        " portal offers only its own accounts",
    )
    portal_oidc_client_id: str | None = None
    portal_oidc_client_secret: SecretStr | None = None
    portal_oidc_scope: str = "openid email"
    portal_oidc_claim: str = Field(
        default="email",
        description="The ID token claim whose value is the portal account's user name",
    )
    portal_oidc_redirect_uri: str | None = Field(
        default=None,
        description="The callback URL registered at the provider; default derived from the"
        " request (<scheme>://<host>/portal/oidc/callback)",
    )
    portal_oidc_label: str = Field(
        default="", description="The identity provider's name on the sign-in button"
    )

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'verwijsindex.db'}"
        if self.keys_dir is None:
            self.keys_dir = self.data_dir / "keys"
        if self.ledger_origin is None:
            host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"
            self.ledger_origin = f"verwijsindex.{host}/consent-ledger"
        if not _ORIGIN.fullmatch(self.ledger_origin):
            raise ValueError("ledger_origin must be a key name: no spaces or '+'")
        development = self.env is Environment.DEVELOPMENT
        if self.allow_http_webhooks is None:
            self.allow_http_webhooks = development
        if self.allow_loopback_webhook_addresses is None:
            self.allow_loopback_webhook_addresses = development
        if self.portal_secure_cookies is None:
            self.portal_secure_cookies = not development
        if self.portal_oidc_issuer and not (
            self.portal_oidc_client_id and self.portal_oidc_client_secret
        ):
            raise ValueError("portal_oidc_issuer needs portal_oidc_client_id and _client_secret")
        if self.webhook_lease_seconds is None:
            self.webhook_lease_seconds = self.webhook_timeout_seconds + 15.0
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("webhook_lease_seconds must exceed webhook_timeout_seconds")
        if self.webhook_retry_schedule is not None and (
            not self.webhook_retry_schedule or any(d < 0 for d in self.webhook_retry_schedule)
        ):
            raise ValueError("webhook_retry_schedule needs one or more non-negative delays")
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def resolved_ledger_origin(self) -> str:
        assert self.ledger_origin is not None
        return self.ledger_origin

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def resolved_keys_dir(self) -> Path:
        assert self.keys_dir is not None
        return self.keys_dir
