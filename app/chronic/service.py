"""Chronic-disease applications 慢性病鉴定申请, monthly batches 按月申报、月底鉴定, the ledger 台账 and
active screening 主动筛查 (seeds 002, 004; api.md "Chronic-disease applications and screening").

Services say what, in order; SQL lives in ``repository``; the registration itself is made
by ``app.registrations.service.register`` with every rule of a registration. Nothing here
commits, and nothing here logs a person's data: audit rows name record ids only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any, Sequence

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.chronic import repository as repo
from app.persons import repository as persons_repo
from app.settlement import repository as settlement_repo
from app.chronic.exceptions import (
    ApplicationDecided,
    ApplicationNotFound,
    ApplicationNotInBatch,
    EvidenceInvalid,
    InvalidCursor,
    PersonNotFound,
)
from app.chronic.schemas import ApplicationIn, BatchIn, ConfirmationIn, EvidenceRef, ScreeningIn
from app.kit import audit
from app.kit.auth import Principal
from app.kit.clock import CST
from app.registrations.service import decode_cursor, encode_cursor, register

#: Applications made on days 1–25 (+08:00) join this month's batch; later ones the next month's.
CUTOFF_DAY = 25
#: Aid categories screened for a disease that names none (api.md): the poverty categories.
POVERTY_CATEGORIES = ("extreme_poverty", "minimum_living", "registered_poor")
#: Order in which a region's policies are read for a disease's screening rules (as registrations).
INSUTYPE_ORDER = ("310", "390")


def batch_month(moment: dt.datetime) -> str:
    """The batch an application made at ``moment`` joins: days 1–25 in China time, this month;
    days 26–31, the next month."""
    day = moment.astimezone(CST).date()
    if day.day <= CUTOFF_DAY:
        return f"{day.year:04d}-{day.month:02d}"
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return f"{year:04d}-{month:02d}"


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    year, number = int(month[:4]), int(month[5:7])
    first = dt.date(year, number, 1)
    following = dt.date(year + (number == 12), number % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def default_validity(decided_on: dt.date, valid_from: dt.date | None, valid_to: dt.date | None) -> tuple[dt.date, dt.date]:
    """From the decision date to 31 December of that year, unless given."""
    start = valid_from or decided_on
    return start, valid_to or dt.date(start.year, 12, 31)


def _settlement_ids(evidence: Sequence[Any]) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for item in evidence:
        if isinstance(item, EvidenceRef):
            ids.append(item.settlement_id)
            continue
        try:
            ids.append(uuid.UUID(item))
        except ValueError:
            continue  # text describing a document (病历, 检查报告…)
    return ids


async def _check_evidence(session: AsyncSession, person_id: str, evidence: Sequence[Any]) -> list[Any]:
    """Settlement ids among the evidence must be this person's; returns the JSON to store."""
    ids = _settlement_ids(evidence)
    if ids and await settlement_repo.person_settlements(session, person_id, ids) != set(ids):
        raise EvidenceInvalid()
    return [item.model_dump(mode="json") if isinstance(item, EvidenceRef) else item for item in evidence]


# ---------------------------------------------------------------- applications


async def apply(
    session: AsyncSession, principal: Principal, person_id: str, body: ApplicationIn, now: dt.datetime
) -> Row[Any]:
    """申报: checked now for what can be checked (the person, the disease's rules are checked
    when the batch approves); joins the batch of its month."""
    if not await persons_repo.person_exists(session, person_id):
        raise PersonNotFound()
    evidence = await _check_evidence(session, person_id, body.evidence)
    application_id = uuid.uuid4()
    row = await repo.insert_application(
        session,
        application_id=application_id,
        person_id=person_id,
        disease_code=body.disease_code,
        month=batch_month(now),
        source="application",
        all_sites=body.sites == "all",
        sites=[] if body.sites == "all" else list(body.sites),
        evidence=evidence,
        note=body.note,
        applied_by=principal.institution_code if principal.role == "institution" else None,
        applied_by_key=principal.key_id,
        status="pending",
    )
    await audit.record(session, principal.key_id, "chronic_application.create", f"chronic_application/{application_id}")
    return row


async def run_batch(session: AsyncSession, principal: Principal, body: BatchIn, now: dt.datetime) -> list[dict[str, Any]]:
    """月底鉴定: every decision or none. Unknown applications are 404, another month's 422, an
    application already decided 409 — before anything is written. An approval makes the
    registration with every registration rule except ``certified_by`` (an ops decision);
    a rule refusing one approval refuses the whole batch."""
    wanted = [d.application_id for d in body.decisions]
    rows = {r.application_id: r for r in await repo.lock_applications(session, wanted)}
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise ApplicationNotFound(len(missing))
    decided = [i for i in wanted if rows[i].status != "pending"]
    if decided:
        raise ApplicationDecided(len(decided))
    elsewhere = [i for i in wanted if rows[i].month != body.month]
    if elsewhere:
        raise ApplicationNotInBatch(len(elsewhere))

    decided_on = now.astimezone(CST).date()
    results: list[dict[str, Any]] = []
    for decision in body.decisions:
        app = rows[decision.application_id]
        registration_id: uuid.UUID | None = None
        if decision.decision == "approve":
            person = await persons_repo.lock_person(session, app.person_id)
            if person is None:  # pragma: no cover - persons are never deleted
                raise PersonNotFound()
            valid_from, valid_to = default_validity(decided_on, decision.valid_from, decision.valid_to)
            registration = await register(
                session,
                person,
                disease_code=app.disease_code,
                valid_from=valid_from,
                valid_to=valid_to,
                sites="all" if app.all_sites else list(app.sites),
                certifier_code=app.applied_by,
                check_certifier=None,
            )
            registration_id = registration.registration_id
            status = "approved"
        else:
            status = "refused"
        await repo.decide(
            session,
            app.application_id,
            status=status,
            reason=decision.reason,
            registration_id=registration_id,
            decided_at=now,
            decided_by=principal.key_id,
        )
        detail: dict[str, Any] = {"month": body.month, "decision": status}
        if registration_id is not None:
            detail["registration_id"] = str(registration_id)
        await audit.record(
            session, principal.key_id, f"chronic_application.{decision.decision}",
            f"chronic_application/{app.application_id}", detail,
        )  # fmt: skip
        results.append({"application_id": app.application_id, "status": status, "registration_id": registration_id})
    return results


# ---------------------------------------------------------------- the ledger 台账


async def ledger_page(
    session: AsyncSession, *, month: str | None, status: str | None, cursor: str | None, limit: int
) -> tuple[list[Row[Any]], str | None]:
    after = decode_cursor(cursor, invalid=InvalidCursor)
    rows = await repo.ledger(session, month=month, status=status, after=after, limit=limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].application_id)


LEDGER_CSV_FIELDS = (
    "application_id", "person_id", "disease_code", "month", "status", "reason", "registration_id",
    "applied_by", "decided_at", "source", "created_at",
)  # fmt: skip


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(CST).isoformat()
    text = str(value)
    # A cell a spreadsheet would run as a formula is quoted as text (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


async def ledger_csv(session: AsyncSession, *, month: str | None, status: str | None, cursor: str | None) -> str:
    """The whole ledger for the filters (from ``cursor`` if given), as CSV with a header row."""
    after = decode_cursor(cursor, invalid=InvalidCursor)
    rows = await repo.ledger(session, month=month, status=status, after=after, limit=None)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LEDGER_CSV_FIELDS)
    for row in rows:
        writer.writerow([_csv_cell(getattr(row, name)) for name in LEDGER_CSV_FIELDS])
    return out.getvalue()


# ---------------------------------------------------------------- active screening 主动筛查


def screening_rules(documents: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The diseases that can be screened for: those with `diagnoses`, with their prefixes
    (upper case) and the aid categories screened (the disease's own, or the poverty
    categories). A disease listed by both insutypes' policies takes the first in the order
    310, 390, as a registration does."""
    ordered = sorted(documents, key=lambda d: INSUTYPE_ORDER.index(d[0]) if d[0] in INSUTYPE_ORDER else 99)
    rules: dict[str, dict[str, Any]] = {}
    for _, doc in ordered:
        for code, entry in (doc.get("special_diseases") or {}).items():
            if code in rules or not entry.get("diagnoses"):
                continue
            categories = entry.get("aid_categories") or list(POVERTY_CATEGORIES)
            rules[code] = {
                "disease_code": code,
                "prefixes": sorted({p.upper() for p in entry["diagnoses"]}),
                "categories": list(categories),
            }
    return [rules[code] for code in sorted(rules)]


async def screen(session: AsyncSession, body: ScreeningIn) -> str:
    """The response body ``{"candidates": [...]}`` as JSON text (built by the database)."""
    first, last = month_bounds(body.month)
    diseases = screening_rules(await repo.policy_documents(session, body.region, last))
    if not diseases:
        return '{"candidates": []}'
    candidates = await repo.screening(session, region=body.region, first=first, last=last, diseases=diseases)
    return '{"candidates": ' + candidates + "}"


async def confirm(session: AsyncSession, principal: Principal, body: ConfirmationIn, now: dt.datetime) -> Row[Any]:
    """零材料: ops makes the registration directly (no certifier, not bound by certified_by) and
    the ledger records it with its evidence (source ``screening``, approved when made)."""
    person = await persons_repo.lock_person(session, body.person_id)
    if person is None:
        raise PersonNotFound()
    evidence = await _check_evidence(session, body.person_id, body.evidence)
    decided_on = now.astimezone(CST).date()
    valid_from, valid_to = default_validity(decided_on, body.valid_from, body.valid_to)
    registration = await register(
        session,
        person,
        disease_code=body.disease_code,
        valid_from=valid_from,
        valid_to=valid_to,
        sites=body.sites,
        certifier_code=None,
        check_certifier=None,
    )
    application_id = uuid.uuid4()
    await repo.insert_application(
        session,
        application_id=application_id,
        person_id=body.person_id,
        disease_code=body.disease_code,
        month=f"{decided_on.year:04d}-{decided_on.month:02d}",
        source="screening",
        all_sites=registration.all_sites,
        sites=list(registration.sites),
        evidence=evidence,
        applied_by=None,
        applied_by_key=principal.key_id,
        status="approved",
        registration_id=registration.registration_id,
        decided_at=now,
        decided_by=principal.key_id,
    )
    await audit.record(
        session, principal.key_id, "screening.confirm", f"registration/{registration.registration_id}",
        {"chronic_application": str(application_id)},
    )  # fmt: skip
    return registration
