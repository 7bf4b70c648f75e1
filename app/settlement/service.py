"""Settlement use cases: preview 预结算, settle 结算, reverse 撤销, read.

Services say what happens, in order; SQL lives in `repository`, numbers in
`app.engine`. Nothing here commits: the caller's transaction does, once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

import asyncpg
import orjson

from app.engine.model import (
    Encounter,
    FeeLine,
    Refusal,
    Settlement,
    SettlementContext,
)
from app.engine.settle import resolve_insutype
from app.engine.snapshot import payload as engine_input_payload
from app.engine.settle import settle as engine_settle
from app.evouchers.exceptions import EVoucherUsed
from app.evouchers.service import resolve_e_voucher
from app.kit.clock import CST
from app.kit.ids import uuid7
from app.settlement import repository as repo
from app.settlement.exceptions import (
    EncounterAlreadySettled,
    IdempotencyKeyReused,
    InstitutionMismatch,
    InstitutionNotFound,
    PersonNotFound,
    PolicyChanged,
    RequestInProgress,
    SettlementNotFound,
    SettlementRefused,
)
from app.settlement.reference_cache import PolicyVersion, ReferenceCache
from app.settlement.schemas import SettlementRequest


@dataclass(slots=True)
class Caller:
    """Who is calling: an institution key (bound to one institution) or ops/admin."""

    key_id: uuid.UUID | None
    role: str
    institution_code: str | None


@dataclass(slots=True)
class Outcome:
    """What the router sends: the JSON text, its status, whether it was replayed."""

    body: str
    status: int
    replayed: bool = False
    after_commit: list[Callable[[], None]] = field(default_factory=list)


def iso(moment: dt.datetime) -> str:
    """RFC 3339 in China Standard Time, however the driver returned it."""
    return moment.astimezone(CST).isoformat()


def _money(value: Decimal) -> str:
    # str() is a third of format()'s cost and the same text unless it would use an
    # exponent (never for the engine's two-place amounts); then fall back.
    text = str(value)
    return format(value, "f") if "E" in text else text


def _plain(value: Decimal) -> str:
    """qty and unit_price as given, without exponent notation."""
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def fingerprint(raw_body: bytes, institution_code: str) -> bytes:
    """The request's identity for idempotency: the body exactly as sent (api.md: "the same
    body"), bound to the institution. A client retry resends the same bytes."""
    return hashlib.sha256(institution_code.encode() + b"\n" + raw_body).digest()


def to_encounter(request: SettlementRequest) -> Encounter:
    return Encounter(
        med_type=request.med_type,
        encounter_date=request.encounter_date,
        lines=tuple(
            FeeLine(line_no=i.line_no, code=i.code, qty=i.qty, unit_price=i.unit_price, name=i.name)
            for i in request.items
        ),
        insutype=request.insutype,
        diagnoses=tuple(request.diagnoses),
        special_disease=request.special_disease,
        use_personal_account=request.use_personal_account,
        has_referral=request.referral_id is not None,
    )


def render(
    result: Settlement,
    *,
    settlement_id: uuid.UUID | None,
    status: str,
    institution_code: str,
    person_id: str,
    encounter_id: str,
    encounter_date: dt.date,
    settled_at: dt.datetime | None,
) -> dict[str, Any]:
    t = result.totals
    return {
        "settlement_id": str(settlement_id) if settlement_id else None,
        "status": status,
        "institution_code": institution_code,
        "person_id": person_id,
        "encounter_id": encounter_id,
        "insutype": result.insutype,
        "med_type": result.med_type,
        "encounter_date": encounter_date.isoformat(),
        "accumulation_year": result.accumulation_year,
        "policy_version": result.policy_version,
        "cross_region": result.cross_region,
        "settled_at": iso(settled_at) if settled_at else None,
        "reversed_at": None,
        "totals": {name: _money(getattr(t, name)) for name in t.__dataclass_fields__},
        "funds": [
            {
                "fund": f.fund,
                "fund_pay_type": f.fund_pay_type,
                "amount": _money(f.amount),
                "basis": _money(f.basis),
                "explanation": f.explanation,
            }
            for f in result.funds
        ],
        "items": [
            {
                "line_no": i.line_no,
                "code": i.code,
                "name": i.name,
                "qty": _plain(i.qty),
                "unit_price": _plain(i.unit_price),
                "amount": _money(i.amount),
                "category": i.category,
                "self_pay_full": _money(i.self_pay_full),
                "over_limit": _money(i.over_limit),
                "pre_self_pay": _money(i.pre_self_pay),
                "in_scope": _money(i.in_scope),
                "reason": i.reason,
            }
            for i in result.items
        ],
    }


def dumps(body: dict[str, Any]) -> str:
    """Compact JSON text, non-ASCII as is (orjson: a fifth of the stdlib encoder's CPU).
    Money is already text here, so no number is ever formatted as a float."""
    return orjson.dumps(body).decode()


class SettlementService:
    def __init__(self, cache: ReferenceCache, clock: Callable[[], dt.datetime]) -> None:
        self.cache = cache
        self.clock = clock

    # ------------------------------------------------------------------ shared steps

    def _institution_code(self, request: SettlementRequest, caller: Caller) -> str:
        if request.institution_code is not None and request.institution_code != caller.institution_code:
            raise InstitutionMismatch()
        assert caller.institution_code is not None
        return caller.institution_code

    async def _compute(
        self,
        conn: asyncpg.Connection,
        request: SettlementRequest,
        institution_code: str,
        *,
        lock: bool,
    ) -> tuple[Settlement, str, PolicyVersion, bytes | None, tuple[Encounter, SettlementContext]]:
        """Resolve who and where, load state, run the engine. Refusals raise."""
        now = self.clock()
        voucher_hash: bytes | None = None
        person_id = request.person_id
        if request.e_voucher_code is not None:
            person_id, voucher_hash = await resolve_e_voucher(
                conn, request.e_voucher_code, institution_code=institution_code, now=now, for_update=lock
            )
            if lock:  # only now is the person known: lock before reading
                await repo.lock_person(conn, person_id)
        assert person_id is not None

        day = request.encounter_date
        state = await repo.load_person_state(conn, person_id, day.year, day, request.referral_id)
        if state is None:
            raise PersonNotFound()
        result, version, inputs = await self._evaluate(conn, request, institution_code, state)
        return result, person_id, version, voucher_hash, inputs

    async def _evaluate(
        self, conn: asyncpg.Connection, request: SettlementRequest, institution_code: str, state: repo.PersonState
    ) -> tuple[Settlement, PolicyVersion, tuple[Encounter, SettlementContext]]:
        """Reference data from the cache, then the engine. Refusals raise. Also the engine's
        input, which `_row` stores with the settlement (app/engine/snapshot.py)."""
        institution = await self.cache.institution(conn, institution_code)
        if institution is None:
            raise InstitutionNotFound()

        day = request.encounter_date
        encounter = to_encounter(request)
        # The engine refuses an encounter without a valid insutype itself (not_insured,
        # validation_error); without one there is simply no policy to load.
        insutype = resolve_insutype(encounter, state.person)
        version = (
            None
            if isinstance(insutype, Refusal)
            else await self.cache.policy_in_force(conn, state.person.insured_region, insutype, day)
        )
        catalog = await self.cache.catalog_items(conn, institution.region, {line.code for line in encounter.lines})
        ctx = SettlementContext(
            person=state.person,
            institution=institution,
            policy=version.policy if version else None,
            catalog=catalog,
            accumulators=state.accumulators,
            registrations=state.registrations,
            filings=state.filings,
            referral=state.referral,
        )
        result = engine_settle(encounter, ctx)
        if isinstance(result, Refusal):
            raise SettlementRefused(result.code, result.detail)
        assert version is not None
        return result, version, (encounter, ctx)

    def _row(
        self,
        request: SettlementRequest,
        institution_code: str,
        person_id: str,
        settlement_id: uuid.UUID,
        result: Settlement,
        version: PolicyVersion,
        voucher_hash: bytes | None,
        inputs: tuple[Encounter, SettlementContext],
    ) -> repo.SettlementRow:
        settled_at = self.clock()
        body = render(
            result,
            settlement_id=settlement_id,
            status="settled",
            institution_code=institution_code,
            person_id=person_id,
            encounter_id=request.encounter_id,
            encounter_date=request.encounter_date,
            settled_at=settled_at,
        )
        policy = version.policy
        return repo.SettlementRow(
            settlement_id=settlement_id,
            institution_code=institution_code,
            person_id=person_id,
            encounter_id=request.encounter_id,
            encounter_date=request.encounter_date,
            settled_at=settled_at,
            policy_region=policy.region,
            policy_insutype=policy.insutype,
            policy_effective_from=policy.effective_from,
            policy_revision=version.revision,
            mark_policy=not version.in_use,
            referral_id=request.referral_id,
            e_voucher_hash=voucher_hash,
            response_json=dumps(body),
            # The engine's input but the accumulators: what a policy simulation replays.
            engine_input=orjson.dumps(engine_input_payload(*inputs), default=str),
        )

    # ------------------------------------------------------------------ use cases

    async def preview(self, conn: asyncpg.Connection, request: SettlementRequest, caller: Caller) -> Outcome:
        """预结算: the same numbers as settling now would give; nothing is written or consumed."""
        institution_code = self._institution_code(request, caller)
        result, person_id, _, _, _ = await self._compute(conn, request, institution_code, lock=False)
        body = render(
            result,
            settlement_id=None,
            status="preview",
            institution_code=institution_code,
            person_id=person_id,
            encounter_id=request.encounter_id,
            encounter_date=request.encounter_date,
            settled_at=None,
        )
        return Outcome(dumps(body), 200)

    async def settle_optimistic(
        self,
        conn: asyncpg.Connection,
        request: SettlementRequest,
        caller: Caller,
        idempotency_key: str,
        raw_body: bytes,
    ) -> Outcome | str:
        """结算 in two statements and no lock: read, compute, one guarded write that is its
        own transaction. A string (one of `metrics.DECLINE_REASONS`): not settled and
        nothing written — the state changed after the read, the key was taken meanwhile,
        or the request is one this path does not take (e-voucher, unknown person, first
        use of a policy version); the caller then runs `settle` in a transaction, which
        decides as if this had never run."""
        institution_code = self._institution_code(request, caller)
        person_id = request.person_id
        if person_id is None:
            return "e_voucher"
        body_digest = fingerprint(raw_body, institution_code)
        day = request.encounter_date
        state = await repo.load_person_state(
            conn, person_id, day.year, day, request.referral_id, (institution_code, idempotency_key)
        )
        if state is None:
            return "person_unknown"  # the locked path answers person_not_found
        if state.stored is not None:
            stored_digest, response = state.stored
            if stored_digest != body_digest:
                raise IdempotencyKeyReused()
            return Outcome(response, 201, replayed=True)
        result, version, inputs = await self._evaluate(conn, request, institution_code, state)
        if not version.in_use:
            return "policy_first_use"  # the locked write marks the policy version in use, checking its revision
        row = self._row(request, institution_code, person_id, uuid7(), result, version, None, inputs)
        try:
            await repo.insert_settlement_optimistic(
                conn, row, result, idempotency_key=idempotency_key, fingerprint=body_digest,
                state_version=state.version,
            )
        except repo.StaleState as exc:
            return exc.reason
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "settlements_live_encounter":
                raise EncounterAlreadySettled() from exc
            raise
        return Outcome(row.response_json, 201)

    async def settle(
        self,
        conn: asyncpg.Connection,
        request: SettlementRequest,
        caller: Caller,
        idempotency_key: str,
        raw_body: bytes,
    ) -> Outcome:
        """结算 with the person locked for the whole transaction (the caller's)."""
        institution_code = self._institution_code(request, caller)
        body_digest = fingerprint(raw_body, institution_code)
        settlement_id = uuid7()
        try:
            claimed = await repo.claim_idempotency_key(
                conn, institution_code, idempotency_key, body_digest, settlement_id, request.person_id
            )
        except asyncpg.LockNotAvailableError as exc:
            raise RequestInProgress() from exc
        if not claimed:
            stored = await repo.find_idempotent(conn, institution_code, idempotency_key)
            if stored is None:  # pragma: no cover - the row we conflicted with is committed
                raise RequestInProgress()
            if bytes(stored["fingerprint"]) != body_digest:
                raise IdempotencyKeyReused()
            return Outcome(stored["response"], 201, replayed=True)

        result, person_id, version, voucher_hash, inputs = await self._compute(
            conn, request, institution_code, lock=True
        )
        row = self._row(request, institution_code, person_id, settlement_id, result, version, voucher_hash, inputs)
        try:
            marks = await repo.insert_settlement(conn, row, result)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "settlements_live_encounter":
                raise EncounterAlreadySettled() from exc
            raise
        if voucher_hash is not None and marks["voucher_consumed"] != 1:
            # The voucher row is locked since we resolved it, so this cannot happen
            # unless that lock is lost; refuse rather than settle a code twice.
            raise EVoucherUsed()
        if row.mark_policy and marks["policy_marked"] == 0:
            # The policy was replaced between our read and now: nothing is kept.
            self.cache.clear()
            raise PolicyChanged()
        after: list[Callable[[], None]] = []
        if row.mark_policy:
            after.append(lambda: self.cache.mark_in_use(version))
        return Outcome(row.response_json, 201, after_commit=after)

    async def get(self, conn: asyncpg.Connection, settlement_id: uuid.UUID, caller: Caller) -> Outcome:
        record = await repo.get_settlement(conn, settlement_id)
        if record is None or not _may_see(caller, record["institution_code"]):
            raise SettlementNotFound()
        return Outcome(_current(record), 200)

    async def reverse(self, conn: asyncpg.Connection, settlement_id: uuid.UUID, caller: Caller) -> Outcome:
        """撤销: undo exactly the stored deltas; the reversal is its own row."""
        record = await repo.get_settlement_for_update(conn, settlement_id)
        if record is None or not _may_see(caller, record["institution_code"]):
            raise SettlementNotFound()
        if record["status"] == "reversed":
            return Outcome(_current(record), 200)
        await repo.lock_person(conn, record["person_id"])
        reversed_at = self.clock()
        await repo.reverse_settlement(
            conn, settlement_id, record["person_id"], record["accumulation_year"], reversed_at, caller.key_id
        )
        body = json.loads(record["response"])
        body["status"] = "reversed"
        body["reversed_at"] = iso(reversed_at)
        return Outcome(dumps(body), 201)

    async def list(
        self,
        conn: asyncpg.Connection,
        caller: Caller,
        *,
        institution_code: str | None,
        person_id: str | None,
        date_from: dt.date | None,
        date_to: dt.date | None,
        cursor: str | None,
        limit: int,
    ) -> dict[str, Any]:
        if caller.role == "institution":
            if institution_code is not None and institution_code != caller.institution_code:
                return {"items": [], "next_cursor": None}
            institution_code = caller.institution_code
        after = decode_cursor(cursor) if cursor else None
        rows = await repo.list_settlements(
            conn,
            institution_code=institution_code,
            person_id=person_id,
            date_from=date_from,
            date_to=date_to,
            after=after,
            limit=limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        items = [
            {
                "settlement_id": str(r["settlement_id"]),
                "status": r["status"],
                "institution_code": r["institution_code"],
                "person_id": r["person_id"],
                "encounter_id": r["encounter_id"],
                "med_type": r["med_type"],
                "encounter_date": r["encounter_date"].isoformat(),
                "settled_at": iso(r["settled_at"]),
                "reversed_at": iso(r["reversed_at"]) if r["reversed_at"] else None,
                "total": _money(r["total"]),
                "fund_total": _money(r["fund_total"]),
                "cash": _money(r["cash"]),
            }
            for r in rows
        ]
        next_cursor = encode_cursor(rows[-1]["settled_at"], rows[-1]["settlement_id"]) if more and rows else None
        return {"items": items, "next_cursor": next_cursor}


def _may_see(caller: Caller, institution_code: str) -> bool:
    return caller.role != "institution" or caller.institution_code == institution_code


def _current(record: asyncpg.Record) -> str:
    """The stored body with the settlement's present status."""
    if record["status"] == "settled":
        return record["response"]
    body = json.loads(record["response"])
    body["status"] = record["status"]
    body["reversed_at"] = iso(record["reversed_at"]) if record["reversed_at"] else None
    return dumps(body)


def encode_cursor(settled_at: dt.datetime, settlement_id: uuid.UUID) -> str:
    raw = f"{settled_at.isoformat()}|{settlement_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    from app.settlement.exceptions import InvalidCursor

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, sid = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
        return dt.datetime.fromisoformat(at), uuid.UUID(sid)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc

