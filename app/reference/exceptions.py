from __future__ import annotations

from app.kit.errors import Conflict, NotFound, Unprocessable


class RegionNotFound(NotFound):
    code, title = "region_not_found", "Region not found"


class InstitutionNotFound(NotFound):
    code, title = "institution_not_found", "Institution not found"


class CatalogItemNotFound(NotFound):
    code, title = "catalog_item_not_found", "Catalog item not found"


class PolicyNotFound(NotFound):
    code, title = "policy_not_found", "No policy in force"


class UnknownRegion(Unprocessable):
    code, title = "unknown_region", "Unknown region"


class PolicyInvalid(Unprocessable):
    code, title = "policy_invalid", "Invalid policy document"


class PolicyInUse(Conflict):
    code, title = "policy_in_use", "Policy version in use"
