"""Refusals of the national interface. They never become HTTP errors: the dispatcher
answers them as ``infcode -1`` with ``err_msg = "<code>: <detail>"``. Details never
carry personal data (no names, certnos, codes presented by the patient)."""

from __future__ import annotations

from app.kit.errors import ProblemError


class NationalRefusal(ProblemError):
    status, title = 422, "Refused"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


class BodyTooLarge(ProblemError):
    status, code, title = 413, "body_too_large", "Body too large"

    def __init__(self) -> None:
        super().__init__("The request body is over 1 MiB.")


class InstitutionInactive(ProblemError):
    status, code, title = 403, "institution_inactive", "Institution inactive"

    def __init__(self) -> None:
        super().__init__("The key's institution is not an active designated institution.")


class InstitutionMismatch(ProblemError):
    status, code, title = 403, "institution_mismatch", "Not your institution"

    def __init__(self) -> None:
        super().__init__("fixmedins_code must be the calling key's institution.")


def refusal(code: str, detail: str) -> NationalRefusal:
    return NationalRefusal(code, detail)
