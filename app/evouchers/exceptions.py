"""E-voucher errors (api.md): 422 with a stable code; 429 when guessing; issuance refusals."""

from __future__ import annotations

from app.kit.errors import ProblemError


class EVoucherRefused(ProblemError):
    """A code that cannot settle; `reason` is its label in the failure metric."""

    status = 422
    reason = "invalid"


class EVoucherInvalid(EVoucherRefused):
    code, title, reason = "e_voucher_invalid", "E-voucher code invalid", "invalid"

    def __init__(self) -> None:
        super().__init__("The e-voucher code is not valid.")


class EVoucherExpired(EVoucherRefused):
    code, title, reason = "e_voucher_expired", "E-voucher code expired", "expired"

    def __init__(self) -> None:
        super().__init__("The e-voucher code has expired; ask the insured person to refresh it.")


class EVoucherUsed(EVoucherRefused):
    code, title, reason = "e_voucher_used", "E-voucher code already used", "used"

    def __init__(self) -> None:
        super().__init__("The e-voucher code has already settled.")


class TooManyAttempts(ProblemError):
    status, code, title = 429, "too_many_attempts", "Too many failed e-voucher attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed e-voucher codes from this institution; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


class PersonNotFound(ProblemError):
    status, code, title = 404, "person_not_found", "Person not found"

    def __init__(self) -> None:
        super().__init__("No insured person with this id.")


class NotInsured(ProblemError):
    status, code, title = 422, "not_insured", "Not insured"

    def __init__(self) -> None:
        super().__init__("The person has no enrollment active today; no e-voucher code can be issued.")
