"""Settlement errors, each with its HTTP status and stable code (api.md)."""

from __future__ import annotations

from app.kit.errors import ProblemError


class SettlementRefused(ProblemError):
    """A rule refusal from the engine (§7): 422 with the refusal's code."""

    status, title = 422, "Settlement refused"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


class EncounterDateInFuture(ProblemError):
    status, code, title = 422, "encounter_date_in_future", "Encounter date in the future"

    def __init__(self, field: str, today: object) -> None:
        super().__init__(
            f"{field} is after today ({today}, China time).", errors=[{"loc": ["body", field], "msg": "in the future"}]
        )


class PersonNotFound(ProblemError):
    status, code, title = 404, "person_not_found", "Person not found"

    def __init__(self) -> None:
        super().__init__("No insured person with this id.")


class InstitutionNotFound(ProblemError):
    status, code, title = 404, "institution_not_found", "Institution not found"

    def __init__(self) -> None:
        super().__init__("The calling key's institution does not exist.")


class InstitutionMismatch(ProblemError):
    status, code, title = 403, "institution_mismatch", "Not your institution"

    def __init__(self) -> None:
        super().__init__("institution_code must be the calling key's institution (or left out).")


class SettlementNotFound(ProblemError):
    status, code, title = 404, "settlement_not_found", "Settlement not found"

    def __init__(self) -> None:
        super().__init__("No such settlement.")


class EncounterAlreadySettled(ProblemError):
    status, code, title = 409, "encounter_already_settled", "Encounter already settled"

    def __init__(self) -> None:
        super().__init__("This encounter has a live settlement; reverse it first.")


class IdempotencyKeyReused(ProblemError):
    status, code, title = 409, "idempotency_key_reused", "Idempotency key reused"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used with a different request body.")


class RequestInProgress(ProblemError):
    status, code, title = 409, "request_in_progress", "Request in progress"

    def __init__(self) -> None:
        super().__init__("A request with this Idempotency-Key is still being processed; retry shortly.")


class PolicyChanged(ProblemError):
    status, code, title = 409, "policy_changed", "Policy changed"

    def __init__(self) -> None:
        super().__init__("The policy version was replaced while settling; nothing was written. Retry.")


class InvalidCursor(ProblemError):
    status, code, title = 422, "validation_error", "Invalid cursor"

    def __init__(self) -> None:
        super().__init__("The cursor is not one this service issued.", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}])
