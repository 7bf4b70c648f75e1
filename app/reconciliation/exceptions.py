"""Errors of reconciliation (problem+json codes)."""

from __future__ import annotations

from typing import Any

from app.kit.errors import Forbidden, ProblemError, Unprocessable


class NotYourInstitution(Forbidden):
    code, title = "institution_not_allowed", "Not your institution"


class InstitutionRequired(Unprocessable):
    code, title = "institution_code_required", "Institution code required"


class InvalidPeriod(Unprocessable):
    code, title = "invalid_period", "Invalid period"


class FileInvalid(ProblemError):
    """A detail file that cannot be read; ``line`` is 1-based (a CSV header is line 1)."""

    status, code, title = 422, "reconciliation_file_invalid", "Invalid reconciliation file"

    def __init__(self, line: int, msg: str) -> None:
        errors: list[dict[str, Any]] = [{"loc": ["body", "line", line], "msg": msg}]
        super().__init__(f"line {line}: {msg}", errors=errors)
        self.line = line


class DuplicateRecord(FileInvalid):
    code, title = "duplicate_record", "Duplicate record"


class BodyTooLarge(ProblemError):
    status, code, title = 413, "body_too_large", "Body too large"


class UnsupportedMediaType(ProblemError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"
