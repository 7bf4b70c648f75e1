"""The person's settlement state 参保人结算状态: the named query settlement reads.

Persons own these tables (persons, enrollments, accumulators) and registrations own
theirs (special-disease registrations, cross-region filings, referrals); this module is
the one read of all of them that a settlement needs, in one round trip, as engine
values. Settlement composes it (`select_person_state`) with its own columns (the
settlement already stored under an Idempotency-Key) but never writes its own SQL
against these tables' columns for reading.

``persons.state_version`` is the optimistic settlement write's guard: every writer
that changes what this read returns for a person's money — a settlement, a reversal,
a person update — moves it, and does so with `next_state_version`, the one place the
rule is written (a test finds every writer). Registrations, filings and referrals need
not move it: docs/settlement.md, "The state version".
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.engine.model import (
    Accumulators,
    CrossRegionFiling,
    Enrollment,
    Person,
    Referral,
    SpecialDiseaseRegistration,
)


def lock_person_sql(param: str) -> str:
    """The statement that locks a person's row for a settlement or reversal: every
    settlement and reversal of the person queues on it (docs/settlement.md)."""
    return f"SELECT 1 FROM persons WHERE person_id = {param} FOR UPDATE"


def next_state_version(current: str = "state_version") -> str:
    """The SQL expression a writer sets ``persons.state_version`` to: one more."""
    return f"{current} + 1"


#: ``$1`` person id, ``$2`` accumulation year, ``$3`` encounter date, ``$4`` referral id.
_COLUMNS = """p.person_id, p.insured_region, p.retired, p.supplementary, p.aid_category, p.account_balance,
  p.state_version,
  ARRAY(SELECT ROW(e.insutype, e.valid_from, e.valid_to, e.tier) FROM enrollments e
        WHERE e.person_id = p.person_id) AS enrollments,
  ARRAY(SELECT ROW(a.name, a.amount) FROM accumulators a
        WHERE a.person_id = p.person_id AND a.year = $2) AS accumulators,
  ARRAY(SELECT ROW(r.disease_code, r.valid_from, r.valid_to, r.all_sites, r.sites)
        FROM special_disease_registrations r
        WHERE r.person_id = p.person_id AND r.valid_from <= $3 AND r.valid_to >= $3) AS registrations,
  ARRAY(SELECT ROW(f.region, f.valid_from, COALESCE(f.valid_to, DATE '9999-12-31'))
        FROM cross_region_filings f
        WHERE f.person_id = p.person_id AND f.valid_from <= $3
          AND (f.valid_to IS NULL OR f.valid_to >= $3)) AS filings,
  ARRAY(SELECT ROW(x.person_id, x.to_institution, x.direction, x.valid_from,
                   COALESCE(x.valid_to, DATE '9999-12-31'),
                   x.consumed_by IS NOT NULL,
                   COALESCE((SELECT o.deductible FROM settlements o
                             WHERE o.settlement_id = x.origin_settlement_id AND o.status = 'settled'), 0))
        FROM referrals x WHERE x.referral_id = $4) AS referral"""

#: Who the read is for: a person id in ``$1``, or the person an e-voucher code's digest
#: in ``$1`` stands for (then the voucher's own columns come too).
BY_PERSON = "FROM persons p WHERE p.person_id = $1"
BY_E_VOUCHER = (
    "FROM e_vouchers v JOIN persons p ON p.person_id = v.person_id WHERE v.code_hash = $1"
)
E_VOUCHER_COLUMNS = "v.expires_at AS voucher_expires_at, v.consumed_by IS NOT NULL AS voucher_used"


def select_person_state(source: str = BY_PERSON, extra_columns: str = "") -> str:
    """The read as SQL text, with a caller's extra columns (which may use ``$5`` on)."""
    extra = f",\n  {extra_columns}" if extra_columns else ""
    return f"SELECT {_COLUMNS}{extra}\n{source}"


PERSON_STATE_SQL = select_person_state()


@dataclass(frozen=True, slots=True)
class PersonState:
    person: Person
    accumulators: Accumulators
    registrations: tuple[SpecialDiseaseRegistration, ...]
    filings: tuple[CrossRegionFiling, ...]
    referral: Referral | None
    #: persons.state_version as read: the optimistic write's guard.
    version: int


def person_state_from_row(row: Any) -> PersonState:
    person = Person(
        person_id=row["person_id"],
        insured_region=row["insured_region"],
        enrollments=tuple(Enrollment(t, f, u, tier) for t, f, u, tier in row["enrollments"]),
        retired=row["retired"],
        supplementary=row["supplementary"],
        aid_category=row["aid_category"],
        account_balance=row["account_balance"],
    )
    referral = None
    if row["referral"]:
        pid, to_inst, direction, vfrom, vto, consumed, origin = row["referral"][0]
        referral = Referral(pid, to_inst, direction, vfrom, vto, origin, consumed)
    return PersonState(
        person=person,
        accumulators=Accumulators({name: amount for name, amount in row["accumulators"]}),
        registrations=tuple(
            SpecialDiseaseRegistration(code, vfrom, vto, None if all_sites else tuple(sites or ()))
            for code, vfrom, vto, all_sites, sites in row["registrations"]
        ),
        filings=tuple(CrossRegionFiling(region, vfrom, vto) for region, vfrom, vto in row["filings"]),
        referral=referral,
        version=row["state_version"],
    )


async def load_person_state(
    conn: asyncpg.Connection, person_id: str, year: int, day: dt.date, referral_id: uuid.UUID | None
) -> PersonState | None:
    """The person, this year's accumulators, the registrations, filings and the referral
    in force on ``day``, in one round trip. A locked settlement locks the person in an
    earlier statement, so this read sees the latest state."""
    row = await conn.fetchrow(PERSON_STATE_SQL, person_id, year, day, referral_id)
    return None if row is None else person_state_from_row(row)
