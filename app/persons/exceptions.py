from __future__ import annotations

from app.kit.errors import NotFound, Unprocessable
from app.reference.exceptions import UnknownRegion

__all__ = ["InvalidCertno", "PersonNotFound", "UnknownRegion"]


class PersonNotFound(NotFound):
    code, title = "person_not_found", "Person not found"


class InvalidCertno(Unprocessable):
    code, title = "invalid_certno", "Invalid ID number"
