"""Migration hygiene: one head, upgrade → data → downgrade to base → upgrade, no drift."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import asyncpg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from app.kit.db import to_async_url
from app.kit.migrate import MIGRATIONS_DIR, alembic_config, downgrade_base_async, head_revision, upgrade_head_async
from app.schema import metadata

SCHEMA_TABLES = {
    "regions", "institutions", "api_keys", "catalog_items", "policies", "persons", "enrollments", "accumulators",
    "settlements", "settlement_deltas", "settlement_reversals",
    "idempotency_keys", "special_disease_registrations", "cross_region_filings", "referrals", "e_vouchers",
    "audit_log", "e_voucher_attempts", "national_encounters", "national_fee_lines", "national_messages",
    "national_sign_ins", "chronic_applications", "reconciliation_runs", "report_daily",
    "report_monthly", "report_rollup_state", "ops_sessions", "simulations", "simulation_parts",
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


async def test_lines_are_views_of_the_response_and_downgrade_makes_them_rows_again(pg_server) -> None:
    """0003: settlement_items / settlement_funds read the stored response; going back to
    0002 recreates the tables with exactly those lines."""
    import asyncio

    from alembic import command

    url = await pg_server.create_database("medsettle_mig_lines_")
    response = (
        '{"settlement_id": "0190d6a4-0000-7000-8000-000000000001", "items": ['
        '{"line_no": 1, "code": "DRUG_A", "name": "阿莫西林", "qty": "2", "unit_price": "12.5", "amount": "25.00",'
        ' "category": "A", "self_pay_full": "0.00", "over_limit": "0.00", "pre_self_pay": "0.00",'
        ' "in_scope": "25.00", "reason": null},'
        '{"line_no": 2, "code": "X", "name": null, "qty": "1", "unit_price": "3", "amount": "3.00",'
        ' "category": null, "self_pay_full": "3.00", "over_limit": "0.00", "pre_self_pay": "0.00",'
        ' "in_scope": "0.00", "reason": "not_in_catalog"}],'
        ' "funds": [{"fund": "310100", "fund_pay_type": "basic", "amount": "15.00", "basis": "25.00",'
        ' "explanation": "25.00 × 60%"}]}'
    )
    money = ", ".join(["0"] * 17)
    try:
        await upgrade_head_async(url)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO settlements (settlement_id, institution_code, person_id, encounter_id, insutype,"
                " med_type, encounter_date, accumulation_year, policy_region, policy_insutype,"
                " policy_effective_from, cross_region, status, settled_at, total, self_pay_full, over_limit,"
                " pre_self_pay, in_scope, deductible, pool_self_pay, over_cap, basic_fund, critical_illness,"
                " medical_aid, fallback, secondary_aid, fund_total, personal_total, personal_account, cash, response)"
                " VALUES ('0190d6a4-0000-7000-8000-000000000001', 'H1', 'p1', 'E1', '390', '11', '2026-03-10', 2026,"
                f" '441900', '390', '2026-01-01', false, 'settled', now(), {money}, $1::json)",
                response,
            )
            views = await conn.fetch(
                "SELECT line_no, code, name, qty, amount, category, reason FROM settlement_items ORDER BY line_no")
            assert [tuple(r) for r in views] == [
                (1, "DRUG_A", "阿莫西林", D("2.0000"), D("25.00"), "A", None),
                (2, "X", None, D("1.0000"), D("3.00"), None, "not_in_catalog"),
            ]
            assert await conn.fetchval("SELECT amount FROM settlement_funds WHERE fund = '310100'") == D("15.00")
            assert await conn.fetchval(
                "SELECT count(*) FROM pg_views WHERE viewname IN ('settlement_items', 'settlement_funds')") == 2
        finally:
            await conn.close()

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0002")
        conn = await asyncpg.connect(url)
        try:
            assert {"settlement_items", "settlement_funds"} <= await _tables(conn)
            rows = await conn.fetch("SELECT line_no, code, in_scope FROM settlement_items ORDER BY line_no")
            assert [tuple(r) for r in rows] == [(1, "DRUG_A", D("25.00")), (2, "X", D("0.00"))]
            assert await conn.fetchval("SELECT basis FROM settlement_funds") == D("25.00")
        finally:
            await conn.close()
        await upgrade_head_async(url)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM settlement_items") == 2
        finally:
            await conn.close()
    finally:
        await pg_server.drop_database(url)
