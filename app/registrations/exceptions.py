"""Registration errors, each with its HTTP status and stable code."""

from __future__ import annotations

from app.kit.errors import Conflict, Forbidden, NotFound, Unprocessable


class PersonNotFound(NotFound):
    code, title = "person_not_found", "Person not found"

    def __init__(self) -> None:
        super().__init__("No insured person with this id.")


class RegistrationNotFound(NotFound):
    code, title = "registration_not_found", "Registration not found"

    def __init__(self) -> None:
        super().__init__("No such special-disease registration for this person.")


class ReferralNotFound(NotFound):
    code, title = "referral_not_found", "Referral not found"

    def __init__(self) -> None:
        super().__init__("No such referral.")


class CertifierNotAllowed(Forbidden):
    code, title = "certifier_not_allowed", "Not a certifying institution"


class CertifierNotQualified(Unprocessable):
    """The policy's ``certified_by`` for the disease does not admit the calling institution."""

    code, title = "certifier_not_allowed", "Certifier not allowed for this disease"

    def __init__(self) -> None:
        super().__init__("The policy's certified_by for this disease does not admit the calling institution.")


class SiteNotAllowed(Unprocessable):
    """A named site does not qualify under the policy's ``treated_by`` for the disease."""

    code, title = "site_not_allowed", "Site not allowed for this disease"


class NotCertifier(Forbidden):
    code, title = "not_certifier", "Not the certifying institution"

    def __init__(self) -> None:
        super().__init__("Only the certifying institution (or ops) may change this registration's sites.")


class InstitutionInactive(Unprocessable):
    code, title = "institution_inactive", "Institution inactive"

    def __init__(self) -> None:
        super().__init__("The calling institution is not an active designated institution.")


class NotInsured(Unprocessable):
    code, title = "not_insured", "Not insured"

    def __init__(self) -> None:
        super().__init__("The person has no enrollment active on valid_from.")


class NoPolicy(Unprocessable):
    code, title = "no_policy", "No policy in force"

    def __init__(self) -> None:
        super().__init__("No policy of the insured region is in force on valid_from.")


class DiseaseNotCovered(Unprocessable):
    code, title = "disease_not_covered", "Disease not covered"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "The disease is not a special disease of the person's policy in force on valid_from.")


class SiteUnknown(Unprocessable):
    code, title = "site_unknown", "Unknown site"


class TooManySites(Unprocessable):
    code, title = "too_many_sites", "Too many sites"


class CommunitySiteRequired(Unprocessable):
    code, title = "community_site_required", "Community site required"

    def __init__(self) -> None:
        super().__init__("The policy requires at least one community institution among the sites.")


class AllSitesNotAllowed(Unprocessable):
    code, title = "all_sites_not_allowed", "All sites not allowed"


class RegistrationOverlaps(Unprocessable):
    code, title = "registration_overlaps", "Registration overlaps"

    def __init__(self) -> None:
        super().__init__("A registration for this disease already covers part of these dates.")


class RegistrationSuperseded(Conflict):
    code, title = "registration_superseded", "Registration superseded"

    def __init__(self) -> None:
        super().__init__("This registration version has been superseded; change the current version.")


class EffectiveFromOutside(Unprocessable):
    code, title = "validation_error", "Invalid request"

    def __init__(self) -> None:
        super().__init__(
            "effective_from must lie within the registration's validity.",
            errors=[{"loc": ["body", "effective_from"], "msg": "must be between valid_from and valid_to"}],
        )


class ReferralInvalid(Unprocessable):
    code, title = "referral_invalid", "Referral invalid"


class InvalidCursor(Unprocessable):
    code, title = "validation_error", "Invalid cursor"

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not one this service issued.", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
        )
