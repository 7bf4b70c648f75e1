"""Migration hygiene: one head, upgrade → data → downgrade to base → upgrade, no drift."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from app.kit.db import to_async_url
from app.kit.migrate import MIGRATIONS_DIR, alembic_config, downgrade_base_async, head_revision, upgrade_head_async
from app.kit.tables import metadata

SCHEMA_TABLES = {
    "regions", "institutions", "api_keys", "catalog_items", "policies", "persons", "enrollments", "accumulators",
    "settlements", "settlement_deltas", "settlement_reversals",
    "idempotency_keys", "special_disease_registrations", "cross_region_filings", "referrals", "e_vouchers",
    "audit_log",
}  # fmt: skip


def test_exactly_one_head_and_dated_file_names() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert script.get_current_head() == head_revision()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        if path.name != "__init__.py":
            assert Path(path).name[:16].replace("-", "").replace("_", "").isdigit(), path.name


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows} - {"alembic_version"}


async def test_upgrade_downgrade_upgrade_with_data(pg_server) -> None:
    url = await pg_server.create_database("medsettle_mig_")
    try:
        await upgrade_head_async(url)
        conn = await asyncpg.connect(url)
        try:
            assert await _tables(conn) == SCHEMA_TABLES
            assert await conn.fetchval("SELECT version_num FROM alembic_version") == head_revision()
            await conn.execute("INSERT INTO regions (code, name) VALUES ('441900', 'Dongguan')")
            await conn.execute(
                "INSERT INTO institutions (code, name, kind, level, region, active)"
                " VALUES ('H44190000001', 'h', 'hospital', 3, '441900', true)"
            )
            await conn.execute(
                "INSERT INTO persons (person_id, certno, name, gender, birth_date, insured_region, account_balance)"
                " VALUES ('p1', '11010519491231002X', 'n', 'female', '1949-12-31', '441900', 10.50)"
            )
            await conn.execute("INSERT INTO enrollments VALUES ('p1', '390', '2026-01-01', NULL)")
        finally:
            await conn.close()

        await downgrade_base_async(url)
        conn = await asyncpg.connect(url)
        try:
            assert await _tables(conn) == set()
        finally:
            await conn.close()

        await upgrade_head_async(url)
        conn = await asyncpg.connect(url)
        try:
            assert await _tables(conn) == SCHEMA_TABLES
            assert await conn.fetchval("SELECT count(*) FROM regions") == 0
        finally:
            await conn.close()
    finally:
        await pg_server.drop_database(url)


async def test_table_definitions_match_the_migrated_schema(database_url: str) -> None:
    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    finally:
        await engine.dispose()
    assert diff == []


async def test_schema_constraints(db) -> None:
    """A few CHECKs of schema.md that the API relies on."""
    await db.execute("INSERT INTO regions (code, name) VALUES ('441900', 'Dongguan')")
    bad = [
        "INSERT INTO institutions VALUES ('C1', 'c', 'community', 2, '441900', true)",
        "INSERT INTO institutions VALUES ('P1', 'p', 'pharmacy', 1, '441900', true)",
        "INSERT INTO institutions VALUES ('X1', 'x', 'clinic', 1, '441900', true)",
        "INSERT INTO api_keys (key_id, key_hash, role) VALUES (gen_random_uuid(), 'a', 'institution')",
        "INSERT INTO api_keys (key_id, key_hash, role, institution_code) VALUES (gen_random_uuid(), 'b', 'ops', 'C1')",
        "INSERT INTO persons (person_id, certno, name, gender, birth_date, insured_region, account_balance)"
        " VALUES ('p', '11010519491231002X', 'n', 'female', '1949-12-31', '441900', -1)",
    ]
    for sql in bad:
        try:
            await db.execute(sql)
        except asyncpg.exceptions.IntegrityConstraintViolationError:
            continue
        raise AssertionError(f"accepted: {sql}")
