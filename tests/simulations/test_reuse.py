"""The draft run's reuse of the baseline's result changes nothing (app/simulations/replay.py).

`Replayer` lets the draft run take the baseline's result when both runs start a settlement
from equal state and the draft cannot change that encounter's result. Here the benchmark's
template histories (bench/simulate.py: every aid category, special disease, inpatient
stays at every level, 5 % reversed) are replayed under several drafts twice, with and
without reuse, and every figure of the two shares must be equal. Pure: no database.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any

import pytest

from app.demo.policies import DEMO_POLICIES
from app.engine.policy_doc import policy_from_document
from app.simulations.replay import Replayer, Row
from bench.simulate import COLUMNS, REGION, templates

DOC = next(d for d in DEMO_POLICIES if d["region"] == REGION and d["insutype"] == "390")
KEY = (REGION, "390", dt.date.fromisoformat(DOC["effective_from"]))
C = {name: i for i, name in enumerate(COLUMNS)}
TOTALS = COLUMNS[C["reversed_at"] + 1 : C["response"]]


@pytest.fixture(scope="module")
def persons() -> dict[str, list[Row]]:
    by_person: dict[str, list[Row]] = {}
    for t in templates(persons=42, per_person=25, seed=17):
        row = Row(
            settlement_id=str(t[C["settlement_id"]]),
            person_id=t[C["person_id"]],
            year=t[C["accumulation_year"]],
            settled_at=t[C["settled_at"]],
            reversed_at=t[C["reversed_at"]],
            policy_key=KEY,
            med_type=t[C["med_type"]],
            stored=",".join(str(t[C[name]]) for name in TOTALS),
            engine_input=t[C["engine_input"]],
            origin_id=None,
            in_scope=True,
            draft_applies=True,
        )
        by_person.setdefault(row.person_id, []).append(row)
    return by_person


def _draft(changes: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(DOC)
    for path, value in changes.items():
        node: Any = doc
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value
    return doc


def _replay(
    persons: dict[str, list[Row]], draft: dict[str, Any], reuse: bool, not_applying: int = 0
) -> tuple[dict[str, Any], int]:
    """`not_applying`: every n-th person's settlements are marked as settled under a policy
    the draft does not replace (another region's or insutype's), as a replay meets them."""
    replayer = Replayer({KEY: policy_from_document(DOC)}, policy_from_document(draft), reuse=reuse)
    for n, (person_id, rows) in enumerate(persons.items()):
        if not_applying and n % not_applying == 0:
            rows = [dataclasses.replace(row, draft_applies=False) for row in rows]
        replayer.person(person_id, rows, ())
    share = replayer.partial()
    return share, share.pop("draft_reused")


@pytest.mark.parametrize(
    "changes, reused",
    [
        ({}, "all"),  # the identical draft: every draft run is the baseline's
        ({"basic.rules.0.deductible": "800"}, "some"),  # the benchmark's draft (inpatient, level 3)
        ({"basic.rules.3.ratio": "0.65"}, "some"),  # community outpatient
        ({"basic.rules.4.deductible_scope": "per_encounter"}, "some"),  # special outpatient
        ({"name": "another name", "effective_from": "2026-03-01", "basic.rules.1.ratio": "0.85"}, "some"),
        ({"basic.rules.0.level": 2}, "some"),  # two rules now match level 2: matching changes
        ({"basic.annual_cap": "300000"}, "none"),  # not a rule: never reused
        ({"critical_illness.deductible": "12000"}, "none"),
    ],
)
def test_reuse_changes_no_figure(persons, changes, reused) -> None:
    with_reuse, count = _replay(persons, _draft(changes), reuse=True)
    without, none = _replay(persons, _draft(changes), reuse=False)
    assert none == 0
    assert with_reuse == without
    assert with_reuse["baseline_mismatches"] == 0
    replayed = with_reuse["replayed"]
    assert {"all": count == replayed, "some": 0 < count < replayed, "none": count == 0}[reused], (count, replayed)


def test_a_draft_that_does_not_apply_is_always_reused(persons) -> None:
    draft = _draft({"basic.annual_cap": "300000", "basic.rules.0.deductible": "800"})
    with_reuse, count = _replay(persons, draft, reuse=True, not_applying=3)
    without, _ = _replay(persons, draft, reuse=False, not_applying=3)
    assert with_reuse == without
    # Only the settlements the draft does not apply to: every third person's.
    expected = sum(len(rows) for n, rows in enumerate(persons.values()) if n % 3 == 0)
    assert count == expected > 0
