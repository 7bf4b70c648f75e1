"""Alembic environment: async, using the same URL logic as the service.

The URL comes from ``config.attributes["url"]`` (set by app.kit.migrate) or the
``sqlalchemy.url`` option, else ``MEDSETTLE_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.kit.db import to_async_url
from app.kit.tables import metadata
import app.ops.tables  # noqa: F401,E402 - domain tables join the metadata
import app.reconciliation.tables  # noqa: F401,E402
import app.reports.tables  # noqa: F401,E402

config = context.config
target_metadata = metadata


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or os.environ.get(
        "MEDSETTLE_DATABASE_URL"
    )
    if not url:
        raise RuntimeError("no database URL: set MEDSETTLE_DATABASE_URL or use `medsettle migrate`")
    return to_async_url(url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
