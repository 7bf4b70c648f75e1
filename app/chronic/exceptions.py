"""Errors of chronic-disease applications and screening, each with its status and stable code."""

from __future__ import annotations

from app.kit.errors import Conflict, NotFound, Unprocessable


class PersonNotFound(NotFound):
    code, title = "person_not_found", "Person not found"

    def __init__(self) -> None:
        super().__init__("No insured person with this id.")


class ApplicationNotFound(NotFound):
    code, title = "application_not_found", "Application not found"

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} application(s) of the batch do not exist; nothing was decided.")


class ApplicationNotInBatch(Unprocessable):
    code, title = "application_not_in_batch", "Application not in this month's batch"

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} application(s) belong to another month's batch; nothing was decided.")


class ApplicationDecided(Conflict):
    code, title = "application_decided", "Application already decided"

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} application(s) of the batch were already decided; nothing was decided.")


class EvidenceInvalid(Unprocessable):
    code, title = "evidence_invalid", "Evidence invalid"

    def __init__(self) -> None:
        super().__init__("A settlement named as evidence is not a settlement of this person.")


class InvalidCursor(Unprocessable):
    code, title = "validation_error", "Invalid cursor"

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not one this service issued.", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
        )
