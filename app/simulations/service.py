"""Simulation use cases: create (validate the draft, queue, start the process), read.

The replay itself never runs here: `start` launches ``medsettle simulate <id>`` as a
separate process once the request's transaction has committed (app/simulations/worker.py).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
import sys
import uuid
from decimal import ROUND_DOWN, Decimal
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.auth import Principal
from app.kit.db import after_commit
from app.reference.service import document_json, validate_policy
from app.simulations.exceptions import SimulationNotDone, SimulationNotFound
from app.simulations.schemas import SimulationIn
from app.simulations.tables import simulation_parts, simulations

log = structlog.get_logger("medsettle.simulations")

#: The running coordinator processes, kept so they are awaited (no zombies).
_processes: set[asyncio.Task[None]] = set()

INTERRUPTED = "interrupted: the service stopped before the simulation finished"


def _draft_effective_from(raw: Any, default: dt.date) -> dt.date:
    if isinstance(raw, dict) and isinstance(raw.get("effective_from"), str):
        try:
            return dt.date.fromisoformat(raw["effective_from"])
        except ValueError:
            pass  # the document's own validation reports it
    return default


async def create(session: AsyncSession, actor: Principal, body: SimulationIn, database_url: str) -> uuid.UUID:
    """Validate the draft exactly as PUT /v1/policies does (same 422), queue, start after commit."""
    effective_from = _draft_effective_from(body.draft, body.date_from)
    doc = validate_policy(body.draft, body.region, body.insutype, effective_from)
    simulation_id = uuid.uuid4()
    await session.execute(
        simulations.insert().values(
            simulation_id=simulation_id,
            name=body.name,
            region=body.region,
            insutype=body.insutype,
            date_from=body.date_from,
            date_to=body.date_to,
            draft=document_json(doc),
            status="queued",
            created_by=actor.key_id,
        )
    )
    after_commit(lambda: start(database_url, simulation_id))
    return simulation_id


def start(database_url: str, simulation_id: uuid.UUID) -> None:
    """Launch the coordinator process; it reports through the simulations table."""
    task = asyncio.get_running_loop().create_task(_run(database_url, simulation_id))
    _processes.add(task)
    task.add_done_callback(_processes.discard)


async def _run(database_url: str, simulation_id: uuid.UUID) -> None:
    env = {**os.environ, "MEDSETTLE_DATABASE_URL": database_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "simulate", str(simulation_id), env=env, stdin=asyncio.subprocess.DEVNULL
    )
    code = await proc.wait()
    log.info("simulation_process_exited", simulation_id=str(simulation_id), exit_code=code)


async def wait_for_processes() -> None:
    """Await the launched processes (tests; a stopping service)."""
    while _processes:
        await asyncio.gather(*list(_processes), return_exceptions=True)


async def fail_unfinished(session: AsyncSession) -> int:
    """At service start: simulations an earlier process left queued or running are failed."""
    result = await session.execute(
        update(simulations)
        .where(simulations.c.status.in_(("queued", "running")))
        .values(status="failed", error=INTERRUPTED, finished_at=func.now())
    )
    return result.rowcount or 0


def progress_text(status: str, replayed: int, total: int) -> str:
    if status == "done":
        return "1.00"
    if total <= 0:
        return "0.00"
    return str((Decimal(min(replayed, total)) / Decimal(total)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


async def status(session: AsyncSession, simulation_id: uuid.UUID) -> dict[str, Any]:
    parts = (
        select(func.coalesce(func.sum(simulation_parts.c.replayed), 0))
        .where(simulation_parts.c.simulation_id == simulations.c.simulation_id)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(simulations.c.status, simulations.c.replayed, simulations.c.total, simulations.c.error, parts.label("parts"))
            .where(simulations.c.simulation_id == simulation_id)
        )
    ).first()
    if row is None:
        raise SimulationNotFound()
    replayed = row.replayed if row.status == "done" else int(row.parts)
    return {
        "simulation_id": simulation_id,
        "status": row.status,
        "progress": progress_text(row.status, replayed, row.total),
        "replayed": replayed,
        "total": row.total,
        "error": row.error,
    }


async def result(session: AsyncSession, simulation_id: uuid.UUID) -> tuple[dict[str, Any], dict[str, Any]]:
    """The result and the simulation's own fields (name, scope)."""
    row = (
        await session.execute(
            select(
                simulations.c.status, simulations.c.result, simulations.c.name, simulations.c.region,
                simulations.c.insutype, simulations.c.date_from, simulations.c.date_to,
            ).where(simulations.c.simulation_id == simulation_id)
        )
    ).first()  # fmt: skip
    if row is None:
        raise SimulationNotFound()
    if row.status != "done":
        raise SimulationNotDone(row.status)
    meta = {
        "simulation_id": str(simulation_id),
        "name": row.name,
        "region": row.region,
        "insutype": row.insutype,
        "date_from": row.date_from.isoformat(),
        "date_to": row.date_to.isoformat(),
    }
    return row.result, meta


CSV_COLUMNS = ("section", "key", "fund", "baseline", "draft", "difference", "percent")


def result_csv(result: dict[str, Any]) -> str:
    """One table: a row per figure of the result (docs/simulations.md)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for name in ("settlements", "persons", "baseline_mismatches", "draft_refusals"):
        w.writerow(("summary", name, "", result[name], "", "", ""))
    for f in result["funds"]:
        w.writerow(("funds", "", f["fund"], f["baseline"], f["draft"], f["difference"], f["percent"] or ""))
    for section, label in (
        ("by_med_type", "med_type"),
        ("by_aid_category", "aid_category"),
        ("by_institution_level", "institution_level"),
    ):
        for r in result[section]:
            key = "" if r[label] is None else r[label]
            b, d = Decimal(r["baseline"]), Decimal(r["draft"])
            w.writerow((section, key, r["fund"], r["baseline"], r["draft"], format(d - b, "f"), ""))
    pb = result["personal_burden"]
    b, d = Decimal(pb["baseline"]), Decimal(pb["draft"])
    w.writerow(("personal_burden", "total", "", pb["baseline"], pb["draft"], format(d - b, "f"), ""))
    for i, (db, dd) in enumerate(zip(pb["deciles_baseline"], pb["deciles_draft"])):
        w.writerow(("personal_burden", f"p{(i + 1) * 10}", "", db, dd, format(Decimal(dd) - Decimal(db), "f"), ""))
    for c in result["top_changes"]:
        w.writerow(("top_changes", c["person_id"], "", c["baseline"], c["draft"], c["difference"], ""))
    for cap in ("basic_cap", "ci_cap", "aid_cap"):
        b_n, d_n = result["caps_hit"]["baseline"][cap], result["caps_hit"]["draft"][cap]
        w.writerow(("caps_hit", cap, "", b_n, d_n, d_n - b_n, ""))
    return out.getvalue()
