"""Registration use cases: special-disease registrations 门诊特定病种认定 and their sites 选点,
cross-region filings 异地就医备案, referrals 转诊转院.

Services say what, in order; SQL lives in ``repository``. Nothing here commits and
nothing here logs a person's data (ids of persons, diseases, regions stay out of logs;
the audit rows name only the new record's id).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.engine.model import Institution, InstitutionRule
from app.engine.policy_doc import institution_rule
from app.kit import audit
from app.kit.auth import Principal
from app.persons import repository as persons_repo
from app.reference import repository as reference_repo
from app.reference.policies import policy_in_force
from app.registrations import repository as repo
from app.settlement import repository as settlement_repo
from app.registrations.exceptions import (
    AllSitesNotAllowed,
    CertifierNotAllowed,
    CertifierNotQualified,
    CommunitySiteRequired,
    DiseaseNotCovered,
    EffectiveFromOutside,
    InstitutionInactive,
    InvalidCursor,
    NoPolicy,
    NotCertifier,
    NotInsured,
    PersonNotFound,
    ReferralInvalid,
    ReferralNotFound,
    RegistrationNotFound,
    RegistrationOverlaps,
    RegistrationSuperseded,
    SiteNotAllowed,
    SiteUnknown,
    TooManySites,
)
from app.registrations.schemas import FilingIn, ReferralIn, RegistrationIn, SitesChangeIn

ALL = "all"
CERTIFIER_KINDS = frozenset({"hospital", "community"})
SITE_KINDS = frozenset({"hospital", "community", "pharmacy"})
#: Order in which a person's insurance types are tried for the governing policy.
INSUTYPE_ORDER = ("310", "390")


# ---------------------------------------------------------------- the site rule (pure)


@dataclass(frozen=True, slots=True)
class SiteRule:
    """The policy's ``special_disease_sites`` 选点 rule; ``None`` max_sites = no limit."""

    max_sites: int | None
    require_community: bool
    all_sites_if_supplementary: bool

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> SiteRule:
        """As app.engine.policy_doc reads it: a block's missing ``max_sites`` is 1.

        A policy without the block does not restrict the number or kind of sites
        and grants no "all sites".
        """
        block = doc.get("special_disease_sites")
        if not block:
            return cls(max_sites=None, require_community=False, all_sites_if_supplementary=False)
        return cls(
            max_sites=int(block.get("max_sites", 1)),
            require_community=bool(block.get("require_community", False)),
            all_sites_if_supplementary=bool(block.get("all_sites_if_supplementary", False)),
        )


def check_sites(
    rule: SiteRule,
    sites: Sequence[str] | str,
    *,
    supplementary: bool,
    known: Mapping[str, Any],
) -> tuple[bool, list[str]]:
    """Apply the site rule; returns (all_sites, sites) or raises the precise refusal.

    ``known`` maps the institution codes found to rows with ``kind`` and ``active``.
    """
    if sites == ALL:
        if not (supplementary and rule.all_sites_if_supplementary):
            raise AllSitesNotAllowed(
                '"all" sites is only for persons with supplementary insurance where the policy allows it.'
            )
        return True, []
    codes = list(sites)
    bad = [c for c in codes if c not in known or not known[c].active or known[c].kind not in SITE_KINDS]
    if bad:
        raise SiteUnknown(f"{len(bad)} site(s) are not active designated institutions: {', '.join(bad)}.")
    if rule.max_sites is not None and len(codes) > rule.max_sites:
        raise TooManySites(f"The policy allows at most {rule.max_sites} site(s); {len(codes)} were given.")
    if rule.require_community and not any(known[c].kind == "community" for c in codes):
        raise CommunitySiteRequired()
    return False, codes


def referral_direction(from_level: int, to_level: int) -> str:
    """下转 when the receiving level is lower, 上转 when higher, 平级 otherwise."""
    if to_level < from_level:
        return "downward"
    if to_level > from_level:
        return "upward"
    return "same"


# ---------------------------------------------------------------- cursors


def encode_cursor(created_at: dt.datetime, row_id: uuid.UUID) -> str:
    """The page cursor after a list's last row: its ``created_at`` and id, opaque to clients."""
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, invalid: Callable[[], Exception] = InvalidCursor) -> repo.Cursor | None:
    """The ``(created_at, id)`` an ``encode_cursor`` cursor names; None without a cursor.

    A cursor this service did not issue raises ``invalid()``, so that a domain that pages
    with these cursors answers with its own error class.
    """
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|")
        created_at = dt.datetime.fromisoformat(at)
        if created_at.tzinfo is None:
            raise ValueError
        return created_at, uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise invalid() from None


def _page(rows: list[Row[Any]], limit: int, id_column: str) -> tuple[list[Row[Any]], str | None]:
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(last.created_at, getattr(last, id_column))


# ---------------------------------------------------------------- special-disease registrations


async def _certifier(session: AsyncSession, principal: Principal) -> Row[Any]:
    assert principal.institution_code is not None
    inst = await reference_repo.institution_summary(session, principal.institution_code)
    if inst is None or not inst.active:
        raise InstitutionInactive()
    # Its kind is checked with the disease's rules (check_disease_rules), in policy.md's order.
    return inst


@dataclass(frozen=True, slots=True)
class DiseaseRules:
    """What the governing policy says about one disease: the site rule and the disease's
    own ``certified_by``, ``treated_by`` and ``aid_categories`` (policy.md, last section)."""

    site_rule: SiteRule
    certified_by: InstitutionRule | None
    treated_by: InstitutionRule | None
    aid_categories: tuple[str, ...] | None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], disease_code: str) -> DiseaseRules:
        entry = (doc.get("special_diseases") or {})[disease_code]
        aid = entry.get("aid_categories")
        return cls(
            site_rule=SiteRule.from_document(doc),
            certified_by=institution_rule(entry.get("certified_by")),
            treated_by=institution_rule(entry.get("treated_by")),
            aid_categories=tuple(aid) if aid is not None else None,
        )


def _institution(row: Any) -> Institution:
    return Institution(code=row.code, kind=row.kind, level=row.level, region="", active=row.active)


def check_disease_rules(
    rules: DiseaseRules,
    *,
    aid_category: str | None,
    certifier: Any | None,
    sites: Sequence[str] | str,
    known: Mapping[str, Any],
) -> None:
    """The disease's own rules, in the order of policy.md: ``disease_not_covered``
    (aid_categories), ``certifier_not_allowed`` (certified_by; ``certifier`` None = an ops
    decision, not subject to it), ``site_not_allowed`` (treated_by: every named site that
    is a known institution must qualify; unknown ones are left to ``site_unknown``).
    ``"all"`` is not refused here: at settlement it opens only the qualifying institutions.
    A pharmacy never certifies (``403 certifier_not_allowed``, the same place in the order)."""
    if rules.aid_categories is not None and aid_category not in rules.aid_categories:
        raise DiseaseNotCovered("The disease is open only to persons of certain aid categories 救助对象类别.")
    if certifier is not None and certifier.kind not in CERTIFIER_KINDS:
        raise CertifierNotAllowed(
            "Only a designated hospital or community institution may certify a special disease 门诊特定病种认定."
        )
    if certifier is not None and rules.certified_by is not None and not rules.certified_by.admits(_institution(certifier)):
        raise CertifierNotQualified()
    if sites != ALL and rules.treated_by is not None:
        bad = [c for c in sites if c in known and not rules.treated_by.admits(_institution(known[c]))]
        if bad:
            raise SiteNotAllowed(f"{len(bad)} site(s) do not qualify to treat this disease (treated_by): {', '.join(bad)}.")


async def disease_rules(
    session: AsyncSession, person: Row[Any], disease_code: str, day: dt.date
) -> DiseaseRules:
    """The rules of the policy that covers the disease on ``day``.

    The person's enrollments active on ``day`` are tried in the order 310, 390; the
    first whose policy in force lists the disease governs (a person with both is
    covered when either lists it).
    """
    insutypes = await persons_repo.active_insutypes(session, person.person_id, day)
    if not insutypes:
        raise NotInsured()
    ordered = sorted(insutypes, key=lambda t: INSUTYPE_ORDER.index(t) if t in INSUTYPE_ORDER else 99)
    any_policy = False
    for insutype in ordered:
        version = await policy_in_force(session, person.insured_region, insutype, day)
        if version is None:
            continue
        doc = version.document
        any_policy = True
        if disease_code in (doc.get("special_diseases") or {}):
            return DiseaseRules.from_document(doc, disease_code)
    if not any_policy:
        raise NoPolicy()
    raise DiseaseNotCovered()


async def create_registration(
    session: AsyncSession, principal: Principal, person_id: str, body: RegistrationIn
) -> Row[Any]:
    certifier = await _certifier(session, principal)
    person = await persons_repo.lock_person(session, person_id)
    if person is None:
        raise PersonNotFound()
    row = await register(
        session,
        person,
        disease_code=body.disease_code,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        sites=body.sites,
        certifier_code=certifier.code,
        check_certifier=certifier,
    )
    await audit.record(
        session, principal.key_id, "special_disease_registration.create", f"registration/{row.registration_id}"
    )
    return row


async def register(
    session: AsyncSession,
    person: Row[Any],
    *,
    disease_code: str,
    valid_from: dt.date,
    valid_to: dt.date,
    sites: list[str] | str,
    certifier_code: str | None,
    check_certifier: Any | None,
) -> Row[Any]:
    """Check every rule and insert a registration for ``person`` (locked by the caller).

    ``check_certifier``: the institution row ``certified_by`` is checked against, or None
    for an ops decision (a monthly batch, a screening confirmation), which it does not bind.
    ``certifier_code`` is what the registration records (None: ops). The caller audits.
    """
    rules = await disease_rules(session, person, disease_code, valid_from)
    known = await reference_repo.institutions_by_code(session, sites) if sites != ALL else {}
    check_disease_rules(
        rules, aid_category=person.aid_category, certifier=check_certifier, sites=sites, known=known
    )
    all_sites, site_codes = check_sites(rules.site_rule, sites, supplementary=person.supplementary, known=known)
    if await repo.registration_overlaps(session, person.person_id, disease_code, valid_from, valid_to):
        raise RegistrationOverlaps()
    return await repo.insert_registration(
        session,
        registration_id=uuid.uuid4(),
        person_id=person.person_id,
        disease_code=disease_code,
        certifier_code=certifier_code,
        valid_from=valid_from,
        valid_to=valid_to,
        all_sites=all_sites,
        sites=site_codes,
    )


async def change_sites(
    session: AsyncSession, principal: Principal, person_id: str, registration_id: uuid.UUID, body: SitesChangeIn
) -> Row[Any]:
    """变更选点: a new version from ``effective_from``; the current one ends the day before.

    The old version keeps its sites for encounter dates before ``effective_from``
    (the settlement reads registrations by date range).
    """
    person = await persons_repo.lock_person(session, person_id)
    if person is None:
        raise PersonNotFound()
    old = await repo.registration_for_update(session, person_id, registration_id)
    if old is None:
        raise RegistrationNotFound()
    if principal.role == "institution" and principal.institution_code != old.certifier_code:
        raise NotCertifier()
    if old.superseded_by is not None or old.ended_at is not None:
        raise RegistrationSuperseded()
    if not (old.valid_from <= body.effective_from <= old.valid_to):
        raise EffectiveFromOutside()
    rules = await disease_rules(session, person, old.disease_code, body.effective_from)
    known = await reference_repo.institutions_by_code(session, body.sites) if body.sites != ALL else {}
    # Changing sites is not a certification: certified_by does not apply; treated_by does.
    check_disease_rules(rules, aid_category=person.aid_category, certifier=None, sites=body.sites, known=known)
    all_sites, sites = check_sites(rules.site_rule, body.sites, supplementary=person.supplementary, known=known)
    new_id = uuid.uuid4()
    await repo.end_registration(
        session, registration_id, valid_to=body.effective_from - dt.timedelta(days=1), superseded_by=new_id
    )
    row = await repo.insert_registration(
        session,
        registration_id=new_id,
        person_id=person_id,
        disease_code=old.disease_code,
        certifier_code=old.certifier_code,
        valid_from=body.effective_from,
        valid_to=old.valid_to,
        all_sites=all_sites,
        sites=sites,
    )
    await audit.record(
        session,
        principal.key_id,
        "special_disease_registration.change_sites",
        f"registration/{new_id}",
        {"supersedes": str(registration_id)},
    )
    return row


async def list_registrations(
    session: AsyncSession, person_id: str, *, on: dt.date | None, cursor: str | None, limit: int
) -> tuple[list[Row[Any]], str | None]:
    after = decode_cursor(cursor)
    if not await persons_repo.person_exists(session, person_id):
        raise PersonNotFound()
    rows = await repo.list_registrations(session, person_id, on=on, after=after, limit=limit + 1)
    return _page(rows, limit, "registration_id")


# ---------------------------------------------------------------- cross-region filings


async def create_filing(session: AsyncSession, principal: Principal, person_id: str, body: FilingIn) -> Row[Any]:
    if not await persons_repo.person_exists(session, person_id):
        raise PersonNotFound()
    filing_id = uuid.uuid4()
    row = await repo.insert_filing(
        session,
        filing_id=filing_id,
        person_id=person_id,
        region=body.region,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        kind=body.kind,
    )
    await audit.record(session, principal.key_id, "cross_region_filing.create", f"filing/{filing_id}")
    return row


async def list_filings(
    session: AsyncSession, person_id: str, *, on: dt.date | None, cursor: str | None, limit: int
) -> tuple[list[Row[Any]], str | None]:
    after = decode_cursor(cursor)
    if not await persons_repo.person_exists(session, person_id):
        raise PersonNotFound()
    rows = await repo.list_filings(session, person_id, on=on, after=after, limit=limit + 1)
    return _page(rows, limit, "filing_id")


# ---------------------------------------------------------------- referrals


async def create_referral(session: AsyncSession, principal: Principal, body: ReferralIn) -> Row[Any]:
    assert principal.institution_code is not None
    origin = await reference_repo.institution_summary(session, principal.institution_code)
    if origin is None or not origin.active:
        raise InstitutionInactive()
    if origin.kind == "pharmacy":
        raise ReferralInvalid("A pharmacy cannot refer a patient.")
    if not await persons_repo.person_exists(session, body.person_id):
        raise PersonNotFound()
    target = await reference_repo.institution_summary(session, body.to_institution)
    if target is None or not target.active:
        raise ReferralInvalid("to_institution is not an active designated institution.")
    if target.kind == "pharmacy":
        raise ReferralInvalid("A pharmacy cannot receive a referral.")
    if target.code == origin.code:
        raise ReferralInvalid("A referral must name another institution.")
    if body.origin_settlement_id is not None:
        s = await settlement_repo.settlement_summary(session, body.origin_settlement_id)
        if s is None or s.status != "settled" or s.institution_code != origin.code or s.person_id != body.person_id:
            raise ReferralInvalid(
                "origin_settlement_id must be a standing settlement of the referring institution for this person."
            )
    referral_id = uuid.uuid4()
    row = await repo.insert_referral(
        session,
        referral_id=referral_id,
        person_id=body.person_id,
        from_institution=origin.code,
        to_institution=target.code,
        origin_settlement_id=body.origin_settlement_id,
        direction=referral_direction(origin.level, target.level),
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )
    await audit.record(session, principal.key_id, "referral.create", f"referral/{referral_id}")
    return row


async def get_referral(session: AsyncSession, principal: Principal, referral_id: uuid.UUID) -> Row[Any]:
    row = await repo.get_referral(session, referral_id)
    if row is None:
        raise ReferralNotFound()
    if principal.role == "institution" and principal.institution_code not in (row.from_institution, row.to_institution):
        raise ReferralNotFound()
    return row
