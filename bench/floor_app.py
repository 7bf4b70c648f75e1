"""The floor: the least a settlement must do, as a bare FastAPI app on raw asyncpg.

``POST /floor/settlements`` (any body shaped like a settlement request): in one
transaction, lock the person's accumulator row for the year (``SELECT … FOR
UPDATE``), insert one row with the request as JSON, add the bill's total to the
accumulator, commit; answer ``201`` with a small JSON. No auth, no validation
beyond reading the JSON, no idempotency, no policy: whatever the service does
beyond this is its overhead.

Run: ``BENCH_FLOOR_DSN=postgresql://… uvicorn bench.floor_app:create_app --factory``.
The tables live in schema ``bench`` (``setup(conn)`` creates them and one
accumulator row per person), so they never collide with the app's.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import asyncpg
from fastapi import FastAPI, Request, Response

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.floor_accumulators (
  person_id varchar(64) NOT NULL,
  year smallint NOT NULL,
  amount numeric(14, 2) NOT NULL DEFAULT 0,
  PRIMARY KEY (person_id, year)
);
CREATE TABLE IF NOT EXISTS bench.floor_settlements (
  settlement_id uuid PRIMARY KEY,
  person_id varchar(64) NOT NULL,
  encounter_id varchar(64) NOT NULL,
  settled_at timestamptz NOT NULL DEFAULT now(),
  request json NOT NULL
);
"""

LOCK_SQL = "SELECT amount FROM bench.floor_accumulators WHERE person_id = $1 AND year = $2 FOR UPDATE"
INSERT_SQL = (
    "INSERT INTO bench.floor_settlements (settlement_id, person_id, encounter_id, request) VALUES ($1, $2, $3, $4::json)"
)
UPDATE_SQL = "UPDATE bench.floor_accumulators SET amount = amount + $3 WHERE person_id = $1 AND year = $2"


async def setup(conn: asyncpg.Connection, years: list[int]) -> None:
    """Create the floor's tables and one accumulator row per person and year."""
    await conn.execute(SCHEMA_SQL)
    for year in years:
        await conn.execute(
            "INSERT INTO bench.floor_accumulators (person_id, year) SELECT person_id, $1 FROM persons "
            "ON CONFLICT DO NOTHING",
            year,
        )


def create_app() -> FastAPI:
    dsn = os.environ["BENCH_FLOOR_DSN"]
    pool_size = int(os.environ.get("BENCH_FLOOR_POOL_SIZE", "32"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(title="medsettle floor", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/floor/settlements", status_code=201)
    async def settle(request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw)
        person_id = body["person_id"]
        year = int(body["encounter_date"][:4])
        total = sum(Decimal(str(i["qty"])) * Decimal(str(i["unit_price"])) for i in body["items"]).quantize(
            Decimal("0.01")
        )
        settlement_id = uuid.uuid4()
        async with app.state.pool.acquire() as conn, conn.transaction():
            if await conn.fetchrow(LOCK_SQL, person_id, year) is None:
                return Response(b'{"status":404,"code":"person_not_found"}', 404, media_type="application/json")
            await conn.execute(INSERT_SQL, settlement_id, person_id, body["encounter_id"], raw.decode())
            await conn.execute(UPDATE_SQL, person_id, year, total)
        out = {"settlement_id": str(settlement_id), "status": "settled", "total": format(total, "f")}
        return Response(json.dumps(out), 201, media_type="application/json")

    return app
