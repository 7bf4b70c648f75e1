"""The settlement pipeline: the one function that owns a settlement 结算 from the caller,
its Idempotency-Key and the raw body to the outcome.

Every way in calls `SettlementPipeline.settle`: the documented endpoint
(`app.settlement.router.settle`), the fast route (`app.settlement.fast_route`) and the
national interface's 2207/2304/2102 (`app.national`). It

1. parses and validates the body (`parse_settlement_request`: one pydantic-core pass
   over the bytes, JSON numbers as exact Decimals);
2. fingerprints it for idempotency (the body as sent, bound to the institution);
3. tries the optimistic path — a read and one guarded write, each its own statement, no
   lock held while the engine runs (docs/settlement.md, "The path");
4. when that declines, decides again in ONE transaction with the person locked, opened
   here and nowhere else, as if the first try had not happened;
5. runs the after-commit effects (`app.kit.db.after_commit`) once the write is durable.

The connection comes from `HeldConnections` (app.kit.rawdb): pool connections the
settlement path keeps checked out between requests, which also bound its concurrency.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.kit.db import after_commit_scope, run_after_commit
from app.kit.errors import BadRequest
from app.kit.rawdb import HeldConnections
from app.reference.reader import ReferenceReader
from app.settlement import metrics
from app.settlement.schemas import SettlementRequest
from app.settlement.service import Caller, Decline, SettlementService, Settled, fingerprint


def parse_settlement_request(raw: bytes) -> SettlementRequest:
    """The settle body, parsed and validated from its bytes by pydantic-core in one pass
    (JSON numbers become exact Decimals). Errors look like FastAPI's own."""
    try:
        return SettlementRequest.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if any(e["type"] == "json_invalid" for e in errors) or not raw:
            raise BadRequest("The request body is not valid JSON.") from None
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


class SettlementPipeline:
    def __init__(self, service: SettlementService, connections: HeldConnections) -> None:
        self.service = service
        self.connections = connections

    async def settle(self, caller: Caller, idempotency_key: str, raw_body: bytes) -> Settled:
        """结算: the whole settlement of one request (see the module docstring)."""
        request = parse_settlement_request(raw_body)
        institution_code = self.service.institution_code(request, caller)
        body_digest = fingerprint(raw_body, institution_code)
        with after_commit_scope() as effects:
            async with self.connections.connection() as conn:
                outcome = await self.service.settle_optimistic(
                    conn, request, institution_code, idempotency_key, body_digest
                )
                if isinstance(outcome, Decline):
                    metrics.LOCKED[outcome.reason].inc()
                    async with conn.transaction():
                        outcome = await self.service.settle_locked(
                            conn, request, institution_code, idempotency_key, body_digest
                        )
                else:
                    metrics.OPTIMISTIC.inc()
            run_after_commit(effects)
        return outcome


def pipeline_for(state: Any, clock: Callable[[], dt.datetime]) -> SettlementPipeline:
    """The app's pipeline (and its service), made once per app on first use."""
    pipeline = getattr(state, "settlement_pipeline", None)
    if pipeline is None:
        service = SettlementService(ReferenceReader(state.reference), clock)
        pipeline = state.settlement_pipeline = SettlementPipeline(service, state.held_connections)
    return pipeline
