"""Settlement use cases: preview 预结算, settle 结算, reverse 撤销, read.

Services say what happens, in order; SQL lives in `repository` (and in the owning
domains' named queries: `app.persons.state`, `app.reference.reader`), numbers in
`app.engine`, JSON text in `rendering`. Nothing here commits or opens a transaction:
`app.settlement.pipeline` decides, for a settle request, between the optimistic try and
the locked one and opens the transaction of the latter; other use cases run inside the
request's transaction (`app.kit.rawdb.RawConnection`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Callable

import asyncpg

from app.engine.model import Encounter, FeeLine, Refusal, Settlement, SettlementContext
from app.engine.settle import resolve_insutype
from app.engine.tiers import settle_with_tiers
from app.evouchers.codes import hash_code, well_formed
from app.evouchers.exceptions import EVoucherRefused, EVoucherUsed
from app.evouchers.service import admission_arguments, admitted, check_voucher, end_attempt, resolve_e_voucher
from app.kit.db import after_commit
from app.kit.ids import uuid7
from app.persons.state import PersonState, load_person_state
from app.reference.reader import PolicyVersion, ReferenceReader
from app.settlement import rendering
from app.settlement.engine_input import engine_input_json
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
from app.settlement.schemas import SettlementRequest, check_encounter_dates


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: an institution key (bound to one institution) or ops/admin."""

    key_id: uuid.UUID | None
    role: str
    institution_code: str | None


@dataclass(frozen=True, slots=True)
class StoredSettlement:
    """A settlement as it is kept: its body as rendered when it was settled (`rendering`;
    a replay answers these very bytes), and its present status."""

    settlement_id: uuid.UUID
    response: bytes
    status: str = "settled"
    reversed_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    """The outcome of a settle request: the settlement, and whether it was settled by an
    earlier request with the same Idempotency-Key (a replay)."""

    settlement: StoredSettlement
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Reversal:
    """The outcome of a reversal: the settlement, and whether this call reversed it."""

    settlement: StoredSettlement
    reversed_now: bool


@dataclass(frozen=True, slots=True)
class Previewed:
    """预结算: the engine's result and what the body names besides."""

    result: Settlement
    institution_code: str
    person_id: str
    encounter_id: str
    encounter_date: dt.date


@dataclass(frozen=True, slots=True)
class Decline:
    """The optimistic try settled nothing and wrote nothing; the locked path decides.
    ``reason`` is one of `metrics.DECLINE_REASONS`."""

    reason: str


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


class SettlementService:
    def __init__(self, reference: ReferenceReader, clock: Callable[[], dt.datetime]) -> None:
        self.reference = reference
        self.clock = clock

    # ------------------------------------------------------------------ shared steps

    def institution_code(self, request: SettlementRequest, caller: Caller) -> str:
        """The institution the settlement is for: the caller's own (403 for another)."""
        if request.institution_code is not None and request.institution_code != caller.institution_code:
            raise InstitutionMismatch()
        assert caller.institution_code is not None
        return caller.institution_code

    async def _evaluate(
        self, conn: asyncpg.Connection, request: SettlementRequest, institution_code: str, state: PersonState
    ) -> tuple[Settlement, PolicyVersion, tuple[Encounter, SettlementContext]]:
        """Reference data in one call, then the engine. Refusals raise. Also the engine's
        input, which `_row` stores with the settlement (app/engine/snapshot.py)."""
        check_encounter_dates(request, self.clock())
        encounter = to_encounter(request)
        # The engine refuses an encounter without a valid insutype itself (not_insured,
        # validation_error); without one there is simply no policy to load.
        insutype = resolve_insutype(encounter, state.person)
        reference = await self.reference.for_settlement(
            conn,
            institution_code,
            insured_region=state.person.insured_region,
            insutype=None if isinstance(insutype, Refusal) else insutype,
            day=request.encounter_date,
            codes={line.code for line in encounter.lines},
        )
        if reference is None:
            raise InstitutionNotFound()
        ctx = SettlementContext(
            person=state.person,
            institution=reference.institution,
            policy=reference.policy.policy if reference.policy else None,
            catalog=reference.catalog,
            accumulators=state.accumulators,
            registrations=state.registrations,
            filings=state.filings,
            referral=state.referral,
        )
        result = settle_with_tiers(encounter, ctx)  # tiered amounts resolved, then the engine
        if isinstance(result, Refusal):
            raise SettlementRefused(result.code, result.detail)
        assert reference.policy is not None
        return result, reference.policy, (encounter, ctx)

    async def _locked_state(
        self, conn: asyncpg.Connection, request: SettlementRequest, institution_code: str, *, lock: bool
    ) -> tuple[PersonState, bytes | None]:
        """Who (by id, or by resolving the e-voucher code), then their state. With ``lock``
        the code's row and the person are locked first, so the read sees the latest."""
        voucher_hash: bytes | None = None
        person_id = request.person_id
        if request.e_voucher_code is not None:
            person_id, voucher_hash = await resolve_e_voucher(
                conn, request.e_voucher_code, institution_code=institution_code, now=self.clock(), for_update=lock
            )
            if lock:  # only now is the person known: lock before reading
                await repo.lock_person(conn, person_id)
        assert person_id is not None
        day = request.encounter_date
        state = await load_person_state(conn, person_id, day.year, day, request.referral_id)
        if state is None:
            raise PersonNotFound()
        return state, voucher_hash

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
            response_json=rendering.render(
                result,
                settlement_id=settlement_id,
                status="settled",
                institution_code=institution_code,
                person_id=person_id,
                encounter_id=request.encounter_id,
                encounter_date=request.encounter_date,
                settled_at=settled_at,
            ),
            diagnoses=list(request.diagnoses),
            # The engine's input but the accumulators: what a policy simulation replays.
            engine_input=engine_input_json(*inputs),
        )

    # ------------------------------------------------------------------ use cases

    async def preview(self, conn: asyncpg.Connection, request: SettlementRequest, caller: Caller) -> Previewed:
        """预结算: the same numbers as settling now would give; nothing is written or consumed."""
        institution_code = self.institution_code(request, caller)
        state, _ = await self._locked_state(conn, request, institution_code, lock=False)
        result, _, _ = await self._evaluate(conn, request, institution_code, state)
        return Previewed(result, institution_code, state.person.person_id, request.encounter_id, request.encounter_date)

    async def settle_optimistic(
        self,
        conn: asyncpg.Connection,
        request: SettlementRequest,
        institution_code: str,
        idempotency_key: str,
        body_digest: bytes,
    ) -> Settled | Decline:
        """结算 in two statements and no lock: read, compute, one guarded write that is its
        own transaction. `Decline`: not settled and nothing written — the state changed
        after the read, the key or the code was taken meanwhile, or the request is one this
        path does not take (an unknown person or code); the locked path then decides as if this
        had never run. Only a decline for a state that changed (the person's, or the policy
        version's) makes the locked path run the engine again — on the new state."""
        day = request.encounter_date
        if request.e_voucher_code is None:
            read = await repo.read_for_settlement(
                conn, person_id=request.person_id, voucher_hash=None, year=day.year, day=day,
                referral_id=request.referral_id, institution_code=institution_code, idempotency_key=idempotency_key,
            )
            if read is None:
                return Decline("person_unknown")  # the locked path answers person_not_found
            return await self._settle_read(conn, request, institution_code, idempotency_key, body_digest, read)
        if not well_formed(request.e_voucher_code):
            return Decline("e_voucher_unknown")  # the locked path refuses it, counting the failure
        # The limiter's admission is decided by the read itself (one round trip): a usable
        # code is only checked against the lock-out, nothing is written for it; a consumed
        # or expired one has its failure's place reserved there (docs/evouchers.md). A code
        # costs no statement more than a person id. Only an unknown code reads nothing.
        now = self.clock()
        voucher_hash = hash_code(request.e_voucher_code)
        read = await repo.read_for_settlement(
            conn, person_id=None, voucher_hash=voucher_hash, year=day.year, day=day,
            referral_id=request.referral_id, institution_code=institution_code, idempotency_key=idempotency_key,
            admission=admission_arguments(now),
        )
        if read is None:
            return Decline("e_voucher_unknown")  # the locked path answers e_voucher_invalid
        if read.stored is not None:
            # The retry of the settlement that consumed the code: no lookup, not an attempt.
            return await self._settle_read(conn, request, institution_code, idempotency_key, body_digest, read)
        admission = admitted(institution_code, read.admitted, read.attempt_id, read.retry_after)
        try:
            check_voucher(found=True, used=read.voucher_used, expires_at=read.voucher_expires_at, now=now)
        except EVoucherRefused as exc:
            if admission is None:  # not reserved by the read: the locked path refuses and counts it
                return Decline("e_voucher_taken")
            await end_attempt(admission, now, exc)
            raise
        if admission is not None:  # reserved for a usable code (the read's rule and
            await end_attempt(admission, now, None)  # check_voucher agree; defensive): a success
        return await self._settle_read(conn, request, institution_code, idempotency_key, body_digest, read, voucher_hash)

    async def _settle_read(
        self,
        conn: asyncpg.Connection,
        request: SettlementRequest,
        institution_code: str,
        idempotency_key: str,
        body_digest: bytes,
        read: repo.OptimisticRead,
        voucher_hash: bytes | None = None,
    ) -> Settled | Decline:
        """The optimistic try from its read on: replay, or compute and write."""
        if read.stored is not None:
            stored_digest, settlement_id, response = read.stored
            if stored_digest != body_digest:
                raise IdempotencyKeyReused()
            return Settled(StoredSettlement(settlement_id, response), replayed=True)
        result, version, inputs = await self._evaluate(conn, request, institution_code, read.state)
        row = self._row(
            request, institution_code, read.state.person.person_id, uuid7(), result, version, voucher_hash, inputs
        )
        try:
            await repo.insert_settlement_optimistic(
                conn, row, result, idempotency_key=idempotency_key, fingerprint=body_digest,
                state_version=read.state.version,
            )
        except repo.StaleState as exc:
            return Decline(exc.reason)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "settlements_live_encounter":
                raise EncounterAlreadySettled() from exc
            raise
        if row.mark_policy:
            after_commit(lambda: self.reference.mark_in_use(version))
        return Settled(StoredSettlement(row.settlement_id, row.response_json))

    async def settle_locked(
        self,
        conn: asyncpg.Connection,
        request: SettlementRequest,
        institution_code: str,
        idempotency_key: str,
        body_digest: bytes,
    ) -> Settled:
        """结算 with the person locked for the whole transaction (the caller's)."""
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
            return Settled(StoredSettlement(stored["settlement_id"], stored["response"]), replayed=True)

        state, voucher_hash = await self._locked_state(conn, request, institution_code, lock=True)
        result, version, inputs = await self._evaluate(conn, request, institution_code, state)
        row = self._row(
            request, institution_code, state.person.person_id, settlement_id, result, version, voucher_hash, inputs
        )
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
        if row.mark_policy:
            if marks["policy_marked"] == 0:
                # The policy was replaced between our read and now: nothing is kept.
                self.reference.clear()
                raise PolicyChanged()
            after_commit(lambda: self.reference.mark_in_use(version))
        return Settled(StoredSettlement(row.settlement_id, row.response_json))

    async def get(self, conn: asyncpg.Connection, settlement_id: uuid.UUID, caller: Caller) -> StoredSettlement:
        record = await repo.get_settlement(conn, settlement_id)
        if record is None or not _may_see(caller, record["institution_code"]):
            raise SettlementNotFound()
        return StoredSettlement(settlement_id, record["response"], record["status"], record["reversed_at"])

    async def reverse(self, conn: asyncpg.Connection, settlement_id: uuid.UUID, caller: Caller) -> Reversal:
        """撤销: undo exactly the stored deltas; the reversal is its own row."""
        record = await repo.get_settlement_for_update(conn, settlement_id)
        if record is None or not _may_see(caller, record["institution_code"]):
            raise SettlementNotFound()
        if record["status"] == "reversed":
            stored = StoredSettlement(settlement_id, record["response"], "reversed", record["reversed_at"])
            return Reversal(stored, reversed_now=False)
        await repo.lock_person(conn, record["person_id"])
        reversed_at = self.clock()
        await repo.reverse_settlement(
            conn, settlement_id, record["person_id"], record["accumulation_year"], reversed_at, caller.key_id
        )
        return Reversal(StoredSettlement(settlement_id, record["response"], "reversed", reversed_at), reversed_now=True)

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
    ) -> tuple[list[asyncpg.Record], str | None]:
        if caller.role == "institution":
            if institution_code is not None and institution_code != caller.institution_code:
                return [], None
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
        next_cursor = encode_cursor(rows[-1]["settled_at"], rows[-1]["settlement_id"]) if more and rows else None
        return list(rows), next_cursor


def _may_see(caller: Caller, institution_code: str) -> bool:
    return caller.role != "institution" or caller.institution_code == institution_code


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

