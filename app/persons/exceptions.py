from __future__ import annotations

from app.kit.errors import Forbidden, NotFound, Unprocessable
from app.reference.exceptions import UnknownRegion

__all__ = ["CredentialRequired", "InvalidCertno", "PersonNotFound", "UnknownRegion"]


class PersonNotFound(NotFound):
    code, title = "person_not_found", "Person not found"


class InvalidCertno(Unprocessable):
    code, title = "invalid_certno", "Invalid ID number"


class CredentialRequired(Forbidden):
    """An institution reads a person only with the credential the patient presents."""

    code, title = "credential_required", "Credential required"

    def __init__(self) -> None:
        super().__init__(
            "An institution reads a person only with the patient's credential: "
            "`?certno=` matching the person, or POST /v1/persons/lookup."
        )
