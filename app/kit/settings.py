"""Service settings, read from ``MEDSETTLE_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEDSETTLE_", extra="ignore")

    env: Literal["dev", "production"] = "dev"
    #: A PostgreSQL URL (``postgresql://`` or ``postgresql+asyncpg://``). When unset,
    #: ``medsettle serve`` starts an embedded PostgreSQL in ``data_dir``.
    database_url: str | None = None
    data_dir: Path = Path("./.medsettle")
    bootstrap_admin_key: SecretStr | None = None
    e_voucher_ttl_seconds: int = Field(default=300, gt=0)
    log_level: str = "INFO"
    #: Log as JSON lines (default) or as human-readable console lines.
    log_json: bool = True
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    #: Connections the settlement path keeps checked out between requests and uses at
    #: most (0: none, every request checks out from the pool); never more than the pool
    #: size. Also its concurrency limit: more settlements in flight on the database only
    #: add lock and WAL contention. See app.kit.rawdb.HeldConnections.
    db_held_connections: int = Field(default=8, ge=0)
    #: How long a statement may wait for a row lock (ms) before the request fails with 409/503.
    db_lock_timeout_ms: int = Field(default=5000, ge=0)
    #: Request bodies larger than this are refused with 413 body_too_large (api.md: 1 MiB);
    #: a route may carry its own limit (app.kit.routing.body_limit).
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    #: Start the LISTEN task that invalidates reference-data caches across processes.
    reference_listener: bool = True
    #: Reports: how far behind now (and the oldest open transaction) the rollup's fold
    #: horizon stays, and how often the background fold runs (0: never; reports fold first).
    report_fold_margin_seconds: float = Field(default=120, ge=0)
    report_fold_interval_seconds: float = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _production_needs_a_real_database(self) -> "Settings":
        if self.env == "production" and not self.database_url:
            raise ValueError(
                "MEDSETTLE_DATABASE_URL must be set when MEDSETTLE_ENV=production "
                "(the embedded PostgreSQL is for development and demos)"
            )
        return self
