"""E-voucher refusals (api.md): 422 with a stable code; 429 when guessing."""

from __future__ import annotations

from app.kit.errors import ProblemError


class EVoucherInvalid(ProblemError):
    status, code, title = 422, "e_voucher_invalid", "E-voucher code invalid"

    def __init__(self) -> None:
        super().__init__("The e-voucher code is not valid.")


class EVoucherExpired(ProblemError):
    status, code, title = 422, "e_voucher_expired", "E-voucher code expired"

    def __init__(self) -> None:
        super().__init__("The e-voucher code has expired; ask the insured person to refresh it.")


class EVoucherUsed(ProblemError):
    status, code, title = 422, "e_voucher_used", "E-voucher code already used"

    def __init__(self) -> None:
        super().__init__("The e-voucher code has already settled.")
