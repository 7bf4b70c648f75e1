"""Connection loss is 503 database_unavailable with Retry-After, never 500, on every path —
auth included — and nothing is half-written (issue 13, item 3).

Backends of the app (application_name ``medsettle``) are killed with
``pg_terminate_backend`` while requests run; the test's own pool is not touched.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from decimal import Decimal as D

import pytest

from tests.helpers import make_asgi_client
from tests.world import C1, H3, add_person, encounter, load_world

KILL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name = 'medsettle' AND pid <> pg_backend_pid()"
)
PERSONS = [f"CL{n:02d}" for n in range(8)]


@pytest.fixture
async def world(db):
    await load_world(db)
    for person_id in PERSONS:
        await add_person(db, person_id, insutype="310", balance="5000.00", retired=True)
    return db


async def kill_backends(db) -> int:
    return await db.fetchval(KILL)


async def settle_until_done(client, body, key) -> int:
    """A client's retry loop: the same Idempotency-Key and body until it is not a 503."""
    for _ in range(50):
        r = await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": key})
        if r.status_code != 503:
            return r.status_code
        await asyncio.sleep(0.02)
    raise AssertionError("still 503 after 50 tries")


def assert_503_is_well_formed(r) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] in ("database_unavailable", "busy"), r.text
    assert int(r.headers["Retry-After"]) >= 1


async def test_reads_after_idle_connections_were_killed_succeed(app, world, make_client):
    ops = await make_client("ops")
    hospital = await make_client("institution", H3)
    # Warm the pool, the held connections and the key cache.
    assert (await ops.get(f"/v1/persons/{PERSONS[0]}")).status_code == 200
    r = await hospital.post("/v1/settlements", json=encounter(PERSONS[0], [("DRUG_A", "1", "10.00")]),
                            headers={"Idempotency-Key": "warm"})
    assert r.status_code == 201, r.text
    settlement_id = r.json()["settlement_id"]
    for _ in range(3):
        assert await kill_backends(world) >= 1
        await asyncio.sleep(0.05)  # the driver sees the sockets close
        app.state.reference.bump()  # cold key cache: auth must read the database
        # The first reads after the kill are answered (dead connections are not handed out,
        # or the read is retried once on a fresh connection).
        assert (await ops.get(f"/v1/persons/{PERSONS[0]}")).status_code == 200
        assert (await hospital.get(f"/v1/settlements/{settlement_id}")).status_code == 200
        assert (await ops.get("/v1/settlements", params={"limit": 5})).status_code == 200
        assert (await hospital.post("/v1/settlements/preview", json=encounter(
            PERSONS[1], [("DRUG_A", "1", "1.00")]))).status_code == 200


async def test_auth_lookup_on_a_dead_connection_is_retried_then_503(app, world, make_client, monkeypatch):
    """principal_for_key has its own connection: a lost one is retried once; lost twice → 503."""
    ops = await make_client("ops")
    calls = 0
    failures = 0
    real_engine = app.state.engine

    class Dying:
        """engine.connect() whose backend is killed before its first statement."""

        def __init__(self):
            self.inner = real_engine.connect()

        async def __aenter__(self):
            conn = await self.inner.__aenter__()
            pid = (await conn.get_raw_connection()).driver_connection.get_server_pid()
            assert await world.fetchval("SELECT pg_terminate_backend($1)", pid)
            return conn

        async def __aexit__(self, *exc):
            return await self.inner.__aexit__(*exc)

    class Engine:
        """The app's engine, but the first ``failures`` connections die."""

        def connect(self):
            nonlocal calls
            calls += 1
            return Dying() if calls <= failures else real_engine.connect()

        def __getattr__(self, name):
            return getattr(real_engine, name)

    monkeypatch.setattr(app.state, "engine", Engine())
    app.state.reference.bump()  # the key is looked up in the database, not the cache
    calls, failures = 0, 1
    r = await ops.get(f"/v1/persons/{PERSONS[0]}")
    assert r.status_code == 200, r.text
    assert calls == 2  # the lookup ran again, on a fresh connection

    app.state.reference.bump()
    calls, failures = 0, 2
    r = await ops.get(f"/v1/persons/{PERSONS[0]}")
    assert_503_is_well_formed(r)
    assert r.json()["code"] == "database_unavailable"
    assert calls == 2


async def test_backends_killed_under_concurrent_load(app, world, make_client):
    hospital = await make_client("institution", H3)
    community = await make_client("institution", C1)
    ops = await make_client("ops")
    rng = random.Random(13)
    statuses: list[int] = []
    bad: list[str] = []
    settles: dict[str, tuple] = {}  # idempotency key → (client, body)
    stop = asyncio.Event()
    kills = 0

    async def killer():
        nonlocal kills
        while not stop.is_set():
            kills += await kill_backends(world)
            if rng.random() < 0.5:
                app.state.reference.bump()  # auth goes to the database again
            await asyncio.sleep(rng.uniform(0.1, 0.4))

    counter = itertools.count()
    sem = asyncio.Semaphore(24)

    async def one():
        n = next(counter)
        person = rng.choice(PERSONS)
        client = rng.choice([hospital, community])
        kind = rng.random()
        async with sem:
            if kind < 0.6:
                key = f"storm-{n}"
                body = encounter(person, [("DRUG_A", str(rng.randint(1, 3)), "37.10"), ("DRUG_B10", "1", "12.35")],
                                 med_type="11", encounter_id=f"CL-{n}", use_personal_account=True)
                settles[key] = (client, body)
                r = await client.post("/v1/settlements", json=body, headers={"Idempotency-Key": key})
            elif kind < 0.75:
                r = await client.post("/v1/settlements/preview", json=encounter(
                    person, [("DRUG_A", "1", "5.00")], med_type="11", encounter_id=f"PV-{n}"))
            elif kind < 0.9:
                r = await ops.get(f"/v1/persons/{person}/accumulators", params={"year": 2026})
            else:
                r = await ops.get("/v1/settlements", params={"person_id": person, "limit": 10})
        statuses.append(r.status_code)
        if r.status_code >= 500:
            try:
                assert_503_is_well_formed(r)
            except AssertionError as exc:
                bad.append(str(exc))

    kill_task = asyncio.create_task(killer())
    try:
        await asyncio.gather(*(one() for _ in range(200)))
    finally:
        stop.set()
        await kill_task
    assert kills > 0
    print(f"kills {kills}, statuses", {s: statuses.count(s) for s in set(statuses)})
    assert not bad, bad[:3]
    assert 500 not in statuses
    assert set(statuses) <= {200, 201, 503}, sorted(set(statuses))

    # Every settlement is retried (same key, same body) until answered: each ends settled once.
    for key, (client, body) in settles.items():
        assert await settle_until_done(client, body, key) == 201
    live = await world.fetchval("SELECT count(*) FROM settlements WHERE status = 'settled'")
    assert live == len(settles)

    # Nothing half-written: every person's books equal the sum of the stored deltas of their
    # settlements, and the account balance moved by exactly the account payments.
    for person in PERSONS:
        acc = {r["name"]: r["amount"] for r in await world.fetch(
            "SELECT name, amount FROM accumulators WHERE person_id = $1 AND year = 2026", person) if r["amount"] != 0}
        deltas = {r["name"]: r["amount"] for r in await world.fetch(
            "SELECT d.name, sum(d.amount) AS amount FROM settlement_deltas d JOIN settlements s USING (settlement_id)"
            " WHERE s.person_id = $1 AND s.status = 'settled' GROUP BY d.name", person) if r["amount"] != 0}
        account_delta = deltas.pop("account_balance", D("0"))
        assert acc == deltas, person
        balance = await world.fetchval("SELECT account_balance FROM persons WHERE person_id = $1", person)
        paid = await world.fetchval(
            "SELECT coalesce(sum((response::jsonb #>> '{totals,personal_account}')::numeric), 0)"
            " FROM settlements WHERE person_id = $1 AND status = 'settled'", person)
        assert account_delta == -paid, person
        assert balance == D("5000.00") - paid, person

    # And afterwards the service answers at once.
    async with make_asgi_client(app, ops.key) as c:
        assert (await c.get(f"/v1/persons/{PERSONS[0]}")).status_code == 200
