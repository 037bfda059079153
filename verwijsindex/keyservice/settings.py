"""The key service's own settings (``VERWIJSINDEX_KEYSERVICE_*``), separate from the index's:
it is another deployment with another key and other callers."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from verwijsindex.settings import Environment


class KeyServiceSettings(BaseSettings):
    """All settings of ``verwijsindex keyservice``, from ``VERWIJSINDEX_KEYSERVICE_*``."""

    model_config = SettingsConfigDict(env_prefix="VERWIJSINDEX_KEYSERVICE_", extra="forbid")

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(
        default=Path("./var/keyservice"),
        description="Directory (mode 0700) with the OPRF key files oprf-v<N>.key and"
        " callers.json; nothing else is kept",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    max_batch: int = Field(default=1000, ge=1, le=10_000)
    default_rate_per_minute: int = Field(
        default=120_000,
        ge=1,
        description="Evaluations a caller may ask for per minute (token bucket) unless its"
        " own limit is set with 'keyservice callers add --rate-per-minute'",
    )
    usage_report_seconds: float = Field(
        default=60.0, gt=0, description="How often the per-caller totals are logged"
    )
    log_level: str = "info"
    log_json: bool = True

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION
