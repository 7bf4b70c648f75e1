"""The slip's use case: read what the slip shows, in one snapshot, and build it (app.settlement.slip).

Reads go through the owning domains' repositories: the settlement (settlement), the person
(persons), the institution and region names (reference), and the year's figures from the
settlement deltas (`slip_repository`). Nothing is written.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import CST
from app.persons import repository as persons_repo
from app.reference import repository as reference_repo
from app.settlement import repository as settlement_repo
from app.settlement import slip_repository
from app.settlement.exceptions import SettlementNotFound
from app.settlement.slip import Slip, build_slip


async def load_slip(
    session: AsyncSession, settlement_id: uuid.UUID, role: str, institution_code: str | None, print_date: dt.date
) -> Slip:
    """Everything the slip shows, read in one REPEATABLE READ snapshot (the balance after
    the settlement is derived from the balance now and the moves since: both must be
    read at the same instant)."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    await session.execute(text("SELECT 1"))  # takes the snapshot every later read shares
    conn = (await (await session.connection()).get_raw_connection()).driver_connection
    record = await settlement_repo.get_settlement(conn, settlement_id)
    if record is None or (role == "institution" and record["institution_code"] != institution_code):
        raise SettlementNotFound()
    settlement = json.loads(record["response"])
    settlement["status"] = record["status"]
    settlement["reversed_at"] = record["reversed_at"].astimezone(CST).isoformat() if record["reversed_at"] else None
    person = await persons_repo.get_person(session, settlement["person_id"])
    institution = await reference_repo.get_institution(session, record["institution_code"])
    if person is None or institution is None:  # both are never deleted; a slip without them is no slip
        raise SettlementNotFound()
    settled_at = dt.datetime.fromisoformat(settlement["settled_at"])
    ytd = await slip_repository.year_to_date(
        conn, settlement["person_id"], settlement["accumulation_year"], settled_at, settlement_id
    )
    balance_after: Decimal | None = None
    # An admin write of the person (PUT /v1/persons) may set the balance to anything; after
    # one, the balance at the time of this settlement cannot be derived: say so, don't guess.
    if person.updated_at <= settled_at:
        balance_after = person.account_balance - await slip_repository.account_moves_since(
            conn, settlement["person_id"], settled_at, settlement_id
        )
    region_names = {}
    for code in {institution.region, person.insured_region, settlement["policy_version"].split("/")[0]}:
        row = await reference_repo.get_region(session, code)
        region_names[code] = row.name if row is not None else code
    return build_slip(
        settlement,
        institution=institution._mapping,
        institution_region=region_names[institution.region],
        policy_region=region_names[settlement["policy_version"].split("/")[0]],
        person=person._mapping,
        insured_region=region_names[person.insured_region],
        year_to_date=ytd,
        balance_after=balance_after,
        print_date=print_date,
    )
