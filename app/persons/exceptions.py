from __future__ import annotations

from app.kit.errors import NotFound, Unprocessable


class PersonNotFound(NotFound):
    code, title = "person_not_found", "Person not found"


class InvalidCertno(Unprocessable):
    code, title = "invalid_certno", "Invalid ID number"


class UnknownRegion(Unprocessable):
    code, title = "unknown_region", "Unknown region"
