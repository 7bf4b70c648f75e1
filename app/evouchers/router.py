"""HTTP route of e-vouchers 医保电子凭证: the wallet asks for a code."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.evouchers import service
from app.evouchers.schemas import EVoucherOut, EVoucherRequest
from app.kit.auth import WalletPrincipal
from app.kit.clock import now
from app.kit.db import DbSession
from app.kit.errors import problem_responses
from app.kit.routing import DecimalJSONRoute

router = APIRouter(prefix="/v1/e-vouchers", tags=["e-vouchers"], route_class=DecimalJSONRoute)


@router.post(
    "",
    status_code=201,
    summary="Issue an e-voucher code 医保电子凭证",
    description=(
        "医保电子凭证: issues a short-lived code for an insured person, for the mobile app to show as a QR code. "
        "A pharmacy or hospital then settles with `e_voucher_code` instead of `person_id`. The code carries "
        "nothing personal (256 random bits), is stored only as its SHA-256 digest, settles **once**, and expires "
        "after `MEDSETTLE_E_VOUCHER_TTL_SECONDS` (default 300). Preview does not consume it; a reversal does not "
        "revive it. Wallet keys only. The person must have an enrollment active today (China time), else "
        "`422 not_insured`."
    ),
    response_model=EVoucherOut,
    responses=problem_responses(401, 403, (404, "person_not_found"), (422, "validation_error"), (422, "not_insured")),
)
async def issue_e_voucher(
    body: EVoucherRequest, principal: WalletPrincipal, session: DbSession, request: Request, response: Response
) -> EVoucherOut:
    state = request.app.state
    issued = await service.issue_e_voucher(
        session, body.person_id, now=now(state), ttl_seconds=state.settings.e_voucher_ttl_seconds
    )
    response.headers["Cache-Control"] = "no-store"  # the code is a bearer secret
    return EVoucherOut(code=issued.code, expires_at=issued.expires_at)
