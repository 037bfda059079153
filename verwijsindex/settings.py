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


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


class Role(StrEnum):
    INDEX = "index"
    HUB = "hub"


class ShareContacts(StrEnum):
    ORGANISATION = "organisation"
    CONTACTS = "contacts"


class FederationInput(StrEnum):
    SUBJECT_TOKEN = "subject-token"  # noqa: S105 -- a name, not a secret
    BSN = "bsn"


_REGION_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


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
    postgres_analyse_interval_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="PostgreSQL: how often the service analyses tables that grew by half since"
        " their last analysis (a new or fast-growing table, before autovacuum does;"
        " storage/statistics.py); 0 leaves it to autovacuum",
    )
    sqlite_cache_mib: int = Field(
        default=64,
        ge=2,
        le=4096,
        description="SQLite: page cache of the connection that writes registrations, in MiB",
    )

    keyservice_url: str | None = Field(
        default=None,
        description="Base URL of the key service (blind pseudonyms, docs/blind-pseudonyms.md):"
        " with it the direct path stores the same pseudonym as the blind path, and the blind"
        " path can open",
    )
    keyservice_api_key: SecretStr | None = Field(
        default=None, description="The index's API key issued by the key service"
    )
    keyservice_public_keys: str | None = Field(
        default=None,
        description="Pinned key-service public keys, '<version>:<base64url>,...'; without"
        " pins the keys the service publishes are trusted at first use",
    )
    blind_path: bool = Field(
        default=True,
        description="Accept registrations by subject_token (needs keyservice_url; opens once"
        " no active registration is under a pseudonym of the BSN)",
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

    statistics_threshold: int = Field(
        default=10,
        ge=5,
        le=1000,
        description="Counts below this are suppressed in the statistics (never below 5;"
        " docs/statistics.md); set it once: changing it changes which cells are published",
    )
    statistics_rollup_lag_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="The statistics rollup counts rows stamped at least this long ago (longer"
        " than any transaction runs)",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of GET /metrics; without it /metrics answers 404",
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

    smtp_host: str | None = Field(
        default=None,
        max_length=253,
        description="Mail relay for professionals' e-mail alerts; unset: no alerts are written",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: SmtpSecurity = Field(
        default=SmtpSecurity.STARTTLS,
        description="starttls (required, the certificate verified), tls (implicit TLS, port"
        " 465) or none (plain SMTP; production allows it only to a loopback relay)",
    )
    smtp_username: str | None = Field(default=None, max_length=256)
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(
        default="verwijsindex@localhost", max_length=254, description="The alerts' From address"
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that sign the relay's certificate; default the"
        " system's trust store",
    )
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    portal_url: str | None = Field(
        default=None,
        max_length=500,
        description="The portal's address, the one link in an alert; default"
        " http://<host>:<port>/portal/ (production requires an https URL)",
    )
    run_alert_worker: bool = Field(
        default=True,
        description="Send e-mail alerts from inside 'serve' when VERWIJSINDEX_SMTP_HOST is set",
    )
    role: Role = Field(
        default=Role.INDEX,
        description="'index' (a regional index, the default) or 'hub' (matches across regions)",
    )
    federation_region_id: str | None = Field(
        default=None, description="This region's id at the hub ([a-z0-9-], up to 32)"
    )
    federation_hub_url: str | None = Field(
        default=None, description="Base URL of the hub; checked like a webhook URL"
    )
    federation_region_key: SecretStr | None = Field(
        default=None,
        description="The region key the hub issued ('verwijsindex hub add-region'); signs the"
        " region's requests and checks the hub's callbacks",
    )
    federation_key: SecretStr | None = Field(
        default=None,
        description="Base64 key (32+ bytes) every region shares and the hub never has: derives"
        " the federated pseudonym and seals participant cards",
    )
    federation_key_version: int = Field(default=1, ge=1)
    federation_input: FederationInput = Field(
        default=FederationInput.SUBJECT_TOKEN,
        description="What the federated pseudonym is derived from; the same in every region of"
        " a federation: 'subject-token' (the youth's OPRF output from the key service, no BSN;"
        " docs/blind-pseudonyms.md) or 'bsn' (the direct path, for regions without a key"
        " service)",
    )
    federation_share_contacts: ShareContacts = Field(
        default=ShareContacts.ORGANISATION,
        description="What participants in other regions see of this region's participants, and"
        " what this region shows of theirs: 'organisation' (name and sector) or 'contacts'"
        " (also the professional's name, e-mail and phone; both regions must allow it)",
    )
    federation_poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often an idle federation outbox is looked at"
    )
    federation_retry_max_seconds: float = Field(
        default=60.0, gt=0, description="Longest wait between attempts to reach a hub or region"
    )
    federation_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    run_federation_worker: bool = Field(
        default=True,
        description="Send a region's outbox to the hub, or the hub's reports to the regions,"
        " from inside 'serve' (a background task)",
    )
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
        self._check_federation()
        if self.webhook_retry_schedule is not None and (
            not self.webhook_retry_schedule or any(d < 0 for d in self.webhook_retry_schedule)
        ):
            raise ValueError("webhook_retry_schedule needs one or more non-negative delays")
        if self.portal_url is None:
            self.portal_url = f"http://{self.host}:{self.port}/portal/"
        if self.smtp_password is not None and self.smtp_username is None:
            raise ValueError("smtp_password needs smtp_username")
        if (self.keyservice_url is None) != (self.keyservice_api_key is None):
            raise ValueError("keyservice_url and keyservice_api_key go together")
        return self

    def _check_federation(self) -> None:
        if self.role is Role.HUB and self.federation_key is not None:
            raise ValueError("the hub never holds the regions' federation key")
        region = (
            self.federation_region_id,
            self.federation_hub_url,
            self.federation_region_key,
            self.federation_key,
        )
        if any(v is not None for v in region) and not all(v is not None for v in region):
            raise ValueError(
                "a federated region needs federation_region_id, federation_hub_url,"
                " federation_region_key and federation_key together"
            )
        if self.federation_region_id is not None and not _REGION_ID.fullmatch(
            self.federation_region_id
        ):
            raise ValueError("federation_region_id must be [a-z0-9-], up to 32 characters")

    @property
    def is_federated_region(self) -> bool:
        return self.role is Role.INDEX and self.federation_region_id is not None

    @property
    def is_hub(self) -> bool:
        return self.role is Role.HUB

    @property
    def alerts_enabled(self) -> bool:
        """E-mail alerts are written and sent: a mail relay is configured."""
        return bool(self.smtp_host)

    @property
    def resolved_portal_url(self) -> str:
        assert self.portal_url is not None
        return self.portal_url

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
