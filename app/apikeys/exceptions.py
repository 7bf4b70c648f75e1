from __future__ import annotations

from app.kit.errors import NotFound, Unprocessable


class ApiKeyNotFound(NotFound):
    code, title = "api_key_not_found", "API key not found"


class UnknownInstitution(Unprocessable):
    code, title = "unknown_institution", "Unknown institution"
