"""Reference-data use cases: validate, write, notify caches, audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit import audit
from app.kit.auth import Principal
from app.kit.cache import notify_reference_change
from app.kit.errors import clean_errors
from app.reference import policies
from app.reference import repository as repo
from app.reference.policies import StoredPolicy
from app.reference.exceptions import (
    CatalogItemNotFound,
    InstitutionNotFound,
    PolicyInUse,
    PolicyInvalid,
    PolicyNotFound,
    RegionNotFound,
    UnknownRegion,
)
from app.reference.schemas import (
    CatalogBulkIn,
    CatalogItemIn,
    InstitutionIn,
    PolicyDocument,
    RegionIn,
    ambiguous_rules,
    tier_key_sets,
)

NATIONAL = "000000"


async def put_region(session: AsyncSession, actor: Principal, code: str, body: RegionIn) -> tuple[Any, bool]:
    row = await repo.upsert_region(session, code, body.name)
    await notify_reference_change(session)
    await audit.record(session, actor.key_id, "region.put", f"region:{code}", {"created": row.created})
    return row, row.created


async def get_region(session: AsyncSession, code: str) -> Any:
    row = await repo.get_region(session, code)
    if row is None:
        raise RegionNotFound(f"No region {code}.")
    return row


async def put_institution(
    session: AsyncSession, actor: Principal, code: str, body: InstitutionIn
) -> tuple[Any, bool]:
    if await repo.get_region(session, body.region) is None:
        raise UnknownRegion("The institution's region does not exist.", errors=[{"loc": ["body", "region"], "msg": "unknown region"}])
    row = await repo.upsert_institution(session, code, body.model_dump())
    await notify_reference_change(session)
    await audit.record(session, actor.key_id, "institution.put", f"institution:{code}", {"created": row.created})
    return row, row.created


async def get_institution(session: AsyncSession, code: str) -> Any:
    row = await repo.get_institution(session, code)
    if row is None:
        raise InstitutionNotFound(f"No institution {code}.")
    return row


async def _check_catalog_region(session: AsyncSession, region: str) -> None:
    if region != NATIONAL and await repo.get_region(session, region) is None:
        raise RegionNotFound(f"No region {region}; the national catalog is {NATIONAL}.")


def _item_values(item: CatalogItemIn) -> dict[str, Any]:
    return {
        "name": item.name,
        "category": item.category,
        "self_pay_ratio": item.self_pay_ratio,
        "price_cap": item.price_cap,
        "restriction": item.restriction.model_dump(exclude_none=True) if item.restriction else None,
    }


async def put_catalog_item(
    session: AsyncSession, actor: Principal, region: str, code: str, body: CatalogItemIn
) -> tuple[Any, bool]:
    await _check_catalog_region(session, region)
    (row,) = await repo.upsert_catalog_items(session, region, [{"code": code, **_item_values(body)}])
    await notify_reference_change(session)
    await audit.record(session, actor.key_id, "catalog_item.put", f"catalog:{region}/{code}", {"created": row.created})
    return row, row.created


async def bulk_catalog_items(session: AsyncSession, actor: Principal, region: str, body: CatalogBulkIn) -> int:
    await _check_catalog_region(session, region)
    rows = await repo.upsert_catalog_items(session, region, [{"code": i.code, **_item_values(i)} for i in body.items])
    await notify_reference_change(session)
    created = sum(1 for r in rows if r.created)
    await audit.record(
        session, actor.key_id, "catalog_items.bulk", f"catalog:{region}", {"count": len(rows), "created": created}
    )
    return len(rows)


async def get_catalog_item(session: AsyncSession, region: str, code: str) -> Any:
    row = await repo.get_catalog_item(session, region, code)
    if row is None:
        raise CatalogItemNotFound(f"No item {code} in catalog {region}.")
    return row


def validate_policy(raw: Any, region: str, insutype: str, effective_from: dt.date) -> PolicyDocument:
    """The document of policy.md, validated; path values fill in absent keys and must equal present ones."""
    if not isinstance(raw, dict):
        raise PolicyInvalid("The policy document must be a JSON object.", errors=[{"loc": ["body"], "msg": "must be an object"}])
    try:
        doc = PolicyDocument.model_validate(raw)
    except ValidationError as exc:
        errors = clean_errors(exc.errors(include_input=False, include_context=False))
        for e in errors:
            e["loc"] = ["body", *e["loc"]]
        raise PolicyInvalid("The policy document is not valid.", errors=errors) from None
    errors: list[dict[str, Any]] = []
    for field, expected in (("region", region), ("insutype", insutype), ("effective_from", effective_from)):
        given = getattr(doc, field)
        if given is not None and given != expected:
            errors.append({"loc": ["body", field], "msg": f"does not match the path ({field} in the URL)"})
    for a, b, med_type, kind, level in ambiguous_rules(doc.basic.rules):
        where = f"{kind}" + (f" level {level}" if level is not None else "")
        errors.append(
            {
                "loc": ["body", "basic", "rules", b],
                "msg": f"equally specific as rule {a} for med_type {med_type} at a {where}: ambiguous",
            }
        )
    maps = tier_key_sets(doc)
    if maps:
        first_loc, first_keys = maps[0]
        for loc, keys in maps[1:]:
            if keys != first_keys:
                errors.append(
                    {
                        "loc": ["body", *loc],
                        "msg": f"tiers {sorted(keys)} differ from {sorted(first_keys)} at {'.'.join(map(str, first_loc))}: "
                        "every tier map must name the same tiers",
                    }
                )
    if errors:
        raise PolicyInvalid("The policy document is not valid.", errors=errors)
    return doc.model_copy(update={"region": region, "insutype": insutype, "effective_from": effective_from})


def document_json(doc: PolicyDocument) -> dict[str, Any]:
    """The stored form: JSON with decimal strings, explicit nulls, ``class`` by its alias."""
    return doc.model_dump(mode="json", by_alias=True)


async def put_policy(
    session: AsyncSession, actor: Principal, region: str, insutype: str, effective_from: dt.date, raw: Any
) -> tuple[Any, bool]:
    doc = validate_policy(raw, region, insutype, effective_from)
    row = await repo.put_policy(session, region, insutype, effective_from, document_json(doc))
    if row is None:
        raise PolicyInUse(
            f"Policy {region}/{insutype}/{effective_from.isoformat()} has been used by a settlement and cannot be "
            "replaced; publish a new version with a later effective_from."
        )
    await notify_reference_change(session)
    await audit.record(
        session,
        actor.key_id,
        "policy.put",
        f"policy:{region}/{insutype}/{effective_from.isoformat()}",
        {"revision": row.revision},
    )
    return row, row.created


async def policy_in_force(session: AsyncSession, region: str, insutype: str, on: dt.date) -> StoredPolicy:
    row = await policies.policy_in_force(session, region, insutype, on)
    if row is None:
        raise PolicyNotFound(f"No policy for {region}/{insutype} in force on {on.isoformat()}.")
    return row
