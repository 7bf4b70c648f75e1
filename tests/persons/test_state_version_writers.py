"""Every writer of ``persons.state_version`` moves it through `next_state_version`.

The optimistic settlement write is guarded by the version it read (docs/settlement.md,
"The state version"): a writer that changed a person's money without moving it — or
moved it some other way — would let a stale settlement through. This test reads the
source of the whole app and finds every assignment to the column.
"""

from __future__ import annotations

import pathlib
import re

import app
from app.persons.state import next_state_version

APP = pathlib.Path(app.__file__).parent
# SQL "state_version = <expr>" (spaced, as SQL here is written; a Python keyword argument
# "state_version=…" is not a write) that is an assignment, i.e. not the guard's comparison
# with the version it read (":state_version" / "$n"); and SQLAlchemy "state_version": <expr>.
SQL_ASSIGNMENT = re.compile(r"state_version\s+=\s+(?![:$])(\S[^\n,]*)")
ORM_ASSIGNMENT = re.compile(r"[\"']state_version[\"']\s*:\s*([^\n]+)")


def _writers() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(APP.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for pattern in (SQL_ASSIGNMENT, ORM_ASSIGNMENT):
            for match in pattern.finditer(text):
                found.setdefault(str(path.relative_to(APP)), []).append(match.group(1).strip())
    return found


def test_every_writer_uses_next_state_version() -> None:
    writers = _writers()
    assert next_state_version() == "state_version + 1"
    offenders = {
        path: [expr for expr in exprs if "next_state_version(" not in expr]
        for path, exprs in writers.items()
        if path != "persons/state.py"
    }
    assert {path: exprs for path, exprs in offenders.items() if exprs} == {}
    # The writers known today: the two settlement writes and the reversal, and the person
    # upsert. A new one shows up here and must be looked at (and this list extended).
    counts = {path: len(exprs) for path, exprs in writers.items() if path != "persons/state.py"}
    assert counts == {"settlement/repository.py": 3, "persons/repository.py": 1}
