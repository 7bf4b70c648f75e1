"""Every query on the national interface's own tables (app/national/tables.py), on asyncpg."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Sequence

import asyncpg

# --------------------------------------------------------------------------- messages


async def get_message(conn: asyncpg.Connection, institution_code: str, msgid: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT infno, fingerprint, mdtrt_id, settlement_id, output::text AS output FROM national_messages"
        " WHERE institution_code = $1 AND msgid = $2",
        institution_code,
        msgid,
    )


async def insert_message(
    conn: asyncpg.Connection,
    institution_code: str,
    msgid: str,
    infno: str,
    fingerprint: bytes,
    output: str,
    *,
    mdtrt_id: str | None = None,
    settlement_id: uuid.UUID | None = None,
) -> bool:
    """Log an answered message; False when the msgid was logged meanwhile (a racing retry)."""
    row = await conn.fetchrow(
        "INSERT INTO national_messages (institution_code, msgid, infno, fingerprint, mdtrt_id, settlement_id, output)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::json) ON CONFLICT DO NOTHING RETURNING 1",
        institution_code, msgid, infno, fingerprint, mdtrt_id, settlement_id, output,
    )  # fmt: skip
    return row is not None


async def settling_msgid(conn: asyncpg.Connection, institution_code: str, settlement_id: uuid.UUID) -> str | None:
    """The msgid of the 2207 / 2304 / 2102 that settled this settlement."""
    return await conn.fetchval(
        "SELECT msgid FROM national_messages WHERE settlement_id = $1 AND institution_code = $2"
        " AND infno IN ('2207', '2304', '2102') ORDER BY created_at LIMIT 1",
        settlement_id,
        institution_code,
    )


# --------------------------------------------------------------------------- encounters

_ENCOUNTER_COLUMNS = (
    "institution_code, mdtrt_id, kind, person_id, insutype, med_type, begntime, endtime, diagnoses, dise_codg,"
    " ipt_otp_no, status, msgid"
)


async def insert_encounter(conn: asyncpg.Connection, **values: Any) -> None:
    names = list(values)
    await conn.execute(
        f"INSERT INTO national_encounters ({', '.join(names)}) VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))})",
        *values.values(),
    )


async def get_encounter(
    conn: asyncpg.Connection, institution_code: str, mdtrt_id: str, *, for_update: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_ENCOUNTER_COLUMNS} FROM national_encounters WHERE institution_code = $1 AND mdtrt_id = $2"
        + (" FOR UPDATE" if for_update else ""),
        institution_code,
        mdtrt_id,
    )


_UPDATABLE = {"med_type", "begntime", "endtime", "diagnoses", "dise_codg", "status", "insutype"}


async def update_encounter(conn: asyncpg.Connection, institution_code: str, mdtrt_id: str, **values: Any) -> None:
    assert values and set(values) <= _UPDATABLE
    sets = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(values))
    await conn.execute(
        f"UPDATE national_encounters SET {sets}, updated_at = now() WHERE institution_code = $1 AND mdtrt_id = $2",
        institution_code,
        mdtrt_id,
        *values.values(),
    )


async def has_encounter_with(conn: asyncpg.Connection, institution_code: str, person_id: str) -> bool:
    """Whether the institution registered an encounter (2201 / 2401) with the person."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM national_encounters WHERE institution_code = $1 AND person_id = $2)",
            institution_code,
            person_id,
        )
    )


# --------------------------------------------------------------------------- fee lines

_LINE_COLUMNS = (
    "feedetl_sn, line_no, chrg_bchno, init_feedetl_sn, med_list_codg, medins_list_codg, cnt, pric,"
    " det_item_fee_sumamt, fee_ocur_time, msgid"
)


async def lines(
    conn: asyncpg.Connection, institution_code: str, mdtrt_id: str, chrg_bchno: str | None = None
) -> Sequence[asyncpg.Record]:
    """The encounter's uploaded lines (of one batch when named), in upload order."""
    if chrg_bchno is None:
        return await conn.fetch(
            f"SELECT {_LINE_COLUMNS} FROM national_fee_lines WHERE institution_code = $1 AND mdtrt_id = $2"
            " ORDER BY line_no",
            institution_code,
            mdtrt_id,
        )
    return await conn.fetch(
        f"SELECT {_LINE_COLUMNS} FROM national_fee_lines WHERE institution_code = $1 AND mdtrt_id = $2"
        " AND chrg_bchno = $3 ORDER BY line_no",
        institution_code,
        mdtrt_id,
        chrg_bchno,
    )


async def next_line_no(conn: asyncpg.Connection, institution_code: str, mdtrt_id: str) -> int:
    return await conn.fetchval(
        "SELECT COALESCE(max(line_no), 0) + 1 FROM national_fee_lines WHERE institution_code = $1 AND mdtrt_id = $2",
        institution_code,
        mdtrt_id,
    )


async def insert_lines(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> None:
    await conn.executemany(
        "INSERT INTO national_fee_lines (institution_code, mdtrt_id, feedetl_sn, line_no, chrg_bchno, init_feedetl_sn,"
        " med_list_codg, medins_list_codg, cnt, pric, det_item_fee_sumamt, fee_ocur_time, msgid)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        [
            (r["institution_code"], r["mdtrt_id"], r["feedetl_sn"], r["line_no"], r["chrg_bchno"], r["init_feedetl_sn"],
             r["med_list_codg"], r["medins_list_codg"], r["cnt"], r["pric"], r["det_item_fee_sumamt"],
             r["fee_ocur_time"], r["msgid"])
            for r in rows
        ],
    )  # fmt: skip


async def delete_lines(
    conn: asyncpg.Connection,
    institution_code: str,
    mdtrt_id: str,
    *,
    chrg_bchno: str | None = None,
    feedetl_sn: str | None = None,
    msgid: str | None = None,
) -> int:
    """Remove lines: all of the encounter, or those of a batch, a line or an upload message."""
    clauses = ["institution_code = $1", "mdtrt_id = $2"]
    args: list[Any] = [institution_code, mdtrt_id]
    for column, value in (("chrg_bchno", chrg_bchno), ("feedetl_sn", feedetl_sn), ("msgid", msgid)):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    result = await conn.execute("DELETE FROM national_fee_lines WHERE " + " AND ".join(clauses), *args)
    return int(result.split()[-1])


# --------------------------------------------------------------------------- sign-in


async def insert_sign_in(
    conn: asyncpg.Connection, sign_no: str, institution_code: str, opter_no: str | None, at: dt.datetime
) -> None:
    await conn.execute(
        "INSERT INTO national_sign_ins (sign_no, institution_code, opter_no, signed_at) VALUES ($1, $2, $3, $4)",
        sign_no,
        institution_code,
        opter_no,
        at,
    )

