"""The replay of api.md "Policy simulations", one person at a time; no I/O here.

A worker (app/simulations/worker.py) reads a person's replayed settlements (`Row`)
and the settlements of the same years settled before the window (`Prior`) and hands
them to `Replayer.person`. Each person is replayed twice — under the policy that
settled each encounter (the baseline) and under the draft — from the same start:

- accumulators: the stored deltas of that year's settlements settled before the
  window and not reversed before it;
- events in time order: a settlement at its `settled_at` runs the engine on its
  stored input (app/engine/snapshot.py) with the run's accumulators; a reversal at
  its `reversed_at` undoes what that settlement moved in this run (or its stored
  deltas when it was settled before the window);
- the personal account: the balance stored with the settlement, moved by what this
  run paid from the account so far instead of what was stored as paid (the two are
  equal in the baseline; api.md's "current balance plus the window's account
  payments" is the same number when only settlements move the account).

`Replayer.partial()` is the worker's share of the result; `merge` adds the shares.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Any

import orjson

from app.engine.layers import match_rule
from app.engine.model import (
    ACCOUNT_BALANCE,
    TOTAL_FIELDS,
    Accumulators,
    Encounter,
    Institution,
    Policy,
    Refusal,
    Settlement,
)
from app.engine.settle import classify_items
from app.engine.snapshot import restore
from app.engine.tiers import settle_with_tiers

ZERO = Decimal(0)
CENT = Decimal("0.01")

#: The funds of the result, in api.md's order, and the total each one reads.
FUNDS = ("basic", "critical_illness", "medical_aid", "fallback", "secondary_aid", "personal_account", "cash")
_FUND_TOTALS = ("basic_fund", "critical_illness", "medical_aid", "fallback", "secondary_aid", "personal_account", "cash")
_INDEX = {name: i for i, name in enumerate(TOTAL_FIELDS)}
_FUND_INDEX = tuple(_INDEX[name] for name in _FUND_TOTALS)
_TOTAL_I = _INDEX["total"]
_PA_I = _INDEX["personal_account"]
_DEDUCTIBLE_I = _INDEX["deductible"]

BASELINE, DRAFT = 0, 1


@dataclass(slots=True)
class Row:
    """One replayed settlement as stored."""

    settlement_id: str
    person_id: str
    year: int
    settled_at: dt.datetime
    reversed_at: dt.datetime | None
    policy_key: tuple[str, str, dt.date]
    med_type: str
    stored: str  # the stored totals, in TOTAL_FIELDS order, comma-separated text
    engine_input: bytes | None
    origin_id: str | None  # the referral's origin settlement
    in_scope: bool
    draft_applies: bool  # the settlement's policy is the simulated region and insutype's


@dataclass(slots=True)
class Prior:
    """A settlement of a replayed year settled before the window and not reversed before it."""

    settlement_id: str
    year: int
    reversed_at: dt.datetime | None
    deltas: dict[str, Decimal]


def stored_totals(text: str) -> list[Decimal]:
    return [Decimal(v) for v in text.split(",")]


def stored_account(text: str) -> Decimal:
    """The stored personal_account total alone (the replay needs only it for most rows)."""
    return Decimal(text.split(",")[_PA_I])


_TOTALS = attrgetter(*TOTAL_FIELDS)


def totals_text(result: Settlement) -> str:
    """The totals as `Row.stored` holds them: TOTAL_FIELDS order, comma-separated."""
    return ",".join(map(str, _TOTALS(result.totals)))


@dataclass(slots=True)
class _Run:
    """One run's state for one person."""

    acc: dict[int, dict[str, Decimal]]
    offset: Decimal = ZERO  # this run's account changes minus the stored ones, so far
    moved: dict[str, Settlement | None] = field(default_factory=dict)  # None: refused in this run
    live: set[str] = field(default_factory=set)


def _without_rules(policy: Policy) -> Policy:
    """The policy without what `Replayer._draft_unaffected` compares separately or not at all."""
    return dataclasses.replace(
        policy, name="", effective_from=dt.date.min, basic=dataclasses.replace(policy.basic, rules=())
    )


def _deciles(values: list[Decimal]) -> list[str]:
    """The 10th…90th percentiles, nearest rank."""
    if not values:
        return []
    ordered = sorted(values)
    n = len(ordered)
    return [money(ordered[max(1, math.ceil(p * n / 100)) - 1]) for p in range(10, 100, 10)]


def money(value: Decimal) -> str:
    return format(value.quantize(CENT, rounding="ROUND_HALF_UP"), "f")


def percent(difference: Decimal, baseline: Decimal) -> str | None:
    if baseline == 0:
        return None
    return money(difference * 100 / baseline)


class Replayer:
    """Replays persons and sums what the result needs."""

    def __init__(
        self, policies: Mapping[tuple[str, str, dt.date], Policy], draft: Policy, *, reuse: bool = True
    ) -> None:
        self.policies = policies
        self.draft = draft
        self.settlements = 0  # in-scope settlements replayed
        self.replayed = 0  # settlements replayed, in scope or not
        self.persons = 0
        self.mismatches = 0
        self.draft_refusals = 0
        # (med_type, aid_category, institution_level) -> [baseline sums, draft sums] by FUNDS
        self.cells: dict[tuple[str, str | None, int | None], list[list[Decimal]]] = {}
        self.burdens: list[tuple[str, Decimal, Decimal]] = []
        self.caps = [[0, 0, 0], [0, 0, 0]]
        self.catalog_cache: dict[Any, Any] = {}  # equal catalog items built once (snapshot.restore)
        #: Whether the draft run may reuse the baseline's result (see `person`); False
        #: computes every draft run (tests compare the two).
        self.reuse = reuse
        self.draft_reused = 0  # draft runs that took the baseline's result
        self._unaffected: dict[tuple[Any, ...], bool] = {}
        self._rules_apart = {key: _without_rules(p) for key, p in policies.items()}
        self._draft_rules_apart = _without_rules(draft)

    # ------------------------------------------------------------------ one person

    def person(self, person_id: str, rows: list[Row], priors: Iterable[Prior]) -> None:
        runs = (_Run({}), _Run({}))
        events: list[tuple[dt.datetime, int, Any]] = []
        for prior in priors:
            for run in runs:
                year_acc = run.acc.setdefault(prior.year, {})
                for name, amount in prior.deltas.items():
                    if name != ACCOUNT_BALANCE:
                        year_acc[name] = year_acc.get(name, ZERO) + amount
            if prior.reversed_at is not None:
                events.append((prior.reversed_at, 1, prior))
        replayed: dict[str, Row] = {}
        for row in rows:
            replayed[row.settlement_id] = row
            events.append((row.settled_at, 0, row))
            if row.reversed_at is not None:
                events.append((row.reversed_at, 1, row))
        # A reversal follows its settlement even at the same instant; sort is stable.
        events.sort(key=lambda e: (e[0], e[1]))

        decoded: dict[str, Any] = {}
        for _, kind, item in events:
            if kind == 1:
                self._reverse(runs, item, replayed)
                continue
            row: Row = item
            self.replayed += 1
            stored_pa = stored_account(row.stored)
            if row.engine_input is None:
                # Settled before engine inputs were stored: not reproducible. Counted as a
                # mismatch; both runs keep the stored figures and move nothing.
                self.mismatches += 1
                decoded[row.settlement_id] = None
                for run in runs:
                    run.moved[row.settlement_id] = None
                    run.live.add(row.settlement_id)
                continue
            encounter, snap = restore(orjson.loads(row.engine_input), self.catalog_cache)
            decoded[row.settlement_id] = snap
            items = None  # §3 does not depend on the policy: classified once for both runs
            # The draft run may take the baseline's result instead of computing it: when both
            # runs start this settlement from equal state (this year's accumulators, the
            # account offset; the referral is compared below) and the draft cannot change
            # this encounter's result (`_draft_unaffected`). The engine is pure, so the
            # same inputs give the same result.
            reuse = (
                self.reuse
                and runs[0].offset == runs[1].offset
                and runs[0].acc.get(row.year) == runs[1].acc.get(row.year)
                and self._draft_unaffected(row, encounter, snap.institution)
            )
            base_result: Settlement | Refusal | None = None
            base_referral = None
            for which, run in enumerate(runs):
                policy = self.draft if which == DRAFT and row.draft_applies else self.policies[row.policy_key]
                year_acc = run.acc.setdefault(row.year, {})
                referral = snap.referral
                if referral is not None and row.origin_id in replayed and encounter.has_referral:
                    origin = run.moved.get(row.origin_id)
                    deductible = origin.totals.deductible if origin is not None and row.origin_id in run.live else ZERO
                    if deductible != referral.origin_deductible:
                        referral = dataclasses.replace(referral, origin_deductible=deductible)
                if which == DRAFT and reuse and referral == base_referral:
                    result = base_result
                    self.draft_reused += 1
                else:
                    ctx = snap.context(
                        policy,
                        Accumulators(year_acc),
                        account_balance=snap.person.account_balance + run.offset,
                    ) if run.offset else snap.context(policy, Accumulators(year_acc))
                    if referral is not snap.referral:
                        ctx = dataclasses.replace(ctx, referral=referral)
                    if items is None:
                        items = classify_items(encounter, ctx)
                    result = settle_with_tiers(encounter, ctx, items)  # as the settlement path
                if which == BASELINE:
                    base_result, base_referral = result, referral
                if isinstance(result, Refusal):
                    run.moved[row.settlement_id] = None
                    run.offset += stored_pa  # stored: paid from the account; this run: nothing
                    if which == BASELINE:
                        self.mismatches += 1
                    else:
                        self.draft_refusals += 1
                    continue
                if which == BASELINE and totals_text(result) != row.stored:
                    self.mismatches += 1
                for name, amount in result.deltas.items():
                    if name != ACCOUNT_BALANCE:
                        year_acc[name] = year_acc.get(name, ZERO) + amount
                run.offset += stored_pa - result.totals.personal_account
                run.moved[row.settlement_id] = result
                run.live.add(row.settlement_id)

        self._finish(person_id, rows, runs, decoded)

    def _draft_unaffected(self, row: Row, encounter: Encounter, institution: Institution) -> bool:
        """The draft gives this encounter the result its own policy gives, from equal state.

        True when the draft does not apply (both runs settle under the settlement's own
        policy), or when the two policies differ at most in their basic rules, their name
        and their effective date, and both match the same rule for this encounter. Why that
        suffices: the engine reads the basic rules only through
        ``match_rule(rules, med_type, institution)`` (app/engine/layers.py, tiers.py), which
        depends on the med_type and the institution's kind and level; the name is never read,
        and the effective date only names the result's `policy_version`, which the replay
        never reads (it reads totals and deltas).
        """
        if not row.draft_applies:
            return True
        key = (row.policy_key, encounter.med_type, institution.kind, institution.level)
        same = self._unaffected.get(key)
        if same is None:
            base = self.policies[row.policy_key]
            same = self._unaffected[key] = self._rules_apart[row.policy_key] == self._draft_rules_apart and (
                match_rule(base.basic.rules, encounter.med_type, institution)
                == match_rule(self.draft.basic.rules, encounter.med_type, institution)
            )
        return same

    def _reverse(self, runs: tuple[_Run, _Run], item: Row | Prior, replayed: dict[str, Row]) -> None:
        sid = item.settlement_id
        if isinstance(item, Prior):
            for run in runs:
                year_acc = run.acc.setdefault(item.year, {})
                for name, amount in item.deltas.items():
                    if name != ACCOUNT_BALANCE:
                        year_acc[name] = year_acc.get(name, ZERO) - amount
            return
        row = replayed[sid]
        stored_pa = stored_account(row.stored)
        for run in runs:
            result = run.moved.get(sid)
            run.live.discard(sid)
            if result is None:
                if row.engine_input is not None:  # refused in this run: nothing moved
                    run.offset -= stored_pa
                continue
            year_acc = run.acc.setdefault(row.year, {})
            for name, amount in result.deltas.items():
                if name != ACCOUNT_BALANCE:
                    year_acc[name] = year_acc.get(name, ZERO) - amount
            run.offset += result.totals.personal_account - stored_pa

    def _finish(self, person_id, rows, runs, decoded) -> None:
        self.persons += 1
        burden = [ZERO, ZERO]
        last_in_scope: dict[int, Row] = {}
        for row in rows:
            if not row.in_scope:
                continue
            last_in_scope[row.year] = row
            snap = decoded[row.settlement_id]
            if row.reversed_at is not None:
                continue  # reversed: every reversal up to now was replayed, in both runs
            self.settlements += 1
            key = (
                row.med_type,
                snap.person.aid_category if snap is not None else None,
                snap.institution.level if snap is not None else None,
            )
            cell = self.cells.get(key)
            if cell is None:
                cell = self.cells[key] = [[ZERO] * 7, [ZERO] * 7]
            for which, run in enumerate(runs):
                result = run.moved.get(row.settlement_id)
                if result is not None:
                    t = result.totals
                    amounts = [t.basic_fund, t.critical_illness, t.medical_aid, t.fallback, t.secondary_aid,
                               t.personal_account, t.cash]  # fmt: skip
                elif which == DRAFT and snap is not None:
                    # Refused under the draft: the patient pays it all in cash.
                    amounts = [ZERO] * 6 + [stored_totals(row.stored)[_TOTAL_I]]
                else:
                    # Not reproducible (no stored input) or refused in the baseline (a
                    # mismatch): the stored figures.
                    s = stored_totals(row.stored)
                    amounts = [s[i] for i in _FUND_INDEX]
                sums = cell[which]
                for i, amount in enumerate(amounts):
                    sums[i] += amount
                burden[which] += amounts[5] + amounts[6]
        self.burdens.append((person_id, burden[0], burden[1]))
        # caps_hit: a person counts once per run when any replayed year ended at a cap.
        for which, run in enumerate(runs):
            hit = [False, False, False]
            for year, row in last_in_scope.items():
                snap = decoded[row.settlement_id]
                policy = self.draft if which == DRAFT and row.draft_applies else self.policies[row.policy_key]
                category = snap.person.aid_category if snap is not None else None
                acc = run.acc.get(year, {})
                if acc.get("basic_paid", ZERO) >= policy.basic.annual_cap:
                    hit[0] = True
                ci = policy.critical_illness
                if ci is not None and ci.annual_cap is not None:
                    no_cap = ci.tilt is not None and ci.tilt.no_cap and category in ci.tilt.categories
                    if not no_cap and acc.get("ci_paid", ZERO) >= ci.annual_cap:
                        hit[1] = True
                aid = policy.medical_aid
                cat = aid.categories.get(category) if aid is not None and category is not None else None
                if cat is not None and cat.annual_cap is not None and acc.get("aid_paid", ZERO) >= cat.annual_cap:
                    hit[2] = True
            for i in range(3):
                self.caps[which][i] += hit[i]

    # ------------------------------------------------------------------ shares

    def partial(self) -> dict[str, Any]:
        """This worker's share, JSON-ready (money as text)."""
        return {
            "settlements": self.settlements,
            "replayed": self.replayed,
            "persons": self.persons,
            "baseline_mismatches": self.mismatches,
            "draft_refusals": self.draft_refusals,
            "draft_reused": self.draft_reused,
            "cells": [
                [mt, cat, level, [str(v) for v in cell[0]], [str(v) for v in cell[1]]]
                for (mt, cat, level), cell in self.cells.items()
            ],
            "burdens": [[pid, str(b), str(d)] for pid, b, d in self.burdens],
            "caps": self.caps,
        }


def _row(label: str, key: Any, fund: str, b: Decimal, d: Decimal) -> dict[str, Any]:
    return {label: key, "fund": fund, "baseline": money(b), "draft": money(d)}


def merge(partials: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The result of api.md from the workers' shares."""
    settlements = persons = mismatches = refusals = 0
    funds = [[ZERO] * 7, [ZERO] * 7]
    dims: list[dict[Any, list[list[Decimal]]]] = [{}, {}, {}]
    burdens: list[tuple[str, Decimal, Decimal]] = []
    caps = [[0, 0, 0], [0, 0, 0]]
    for part in partials:
        settlements += part["settlements"]
        persons += part["persons"]
        mismatches += part["baseline_mismatches"]
        refusals += part["draft_refusals"]
        for mt, cat, level, base, draft in part["cells"]:
            for which, sums in enumerate((base, draft)):
                values = [Decimal(v) for v in sums]
                for i, v in enumerate(values):
                    funds[which][i] += v
                for dim, key in enumerate((mt, cat, level)):
                    cell = dims[dim].setdefault(key, [[ZERO] * 7, [ZERO] * 7])
                    for i, v in enumerate(values):
                        cell[which][i] += v
        burdens.extend((pid, Decimal(b), Decimal(d)) for pid, b, d in part["burdens"])
        for which in (0, 1):
            for i in range(3):
                caps[which][i] += part["caps"][which][i]

    def rows(label: str, dim: int) -> list[dict[str, Any]]:
        ordered = sorted(dims[dim].items(), key=lambda kv: (kv[0] is None, kv[0] if kv[0] is not None else 0))
        return [
            _row(label, key, fund, cell[0][i], cell[1][i]) for key, cell in ordered for i, fund in enumerate(FUNDS)
        ]

    changes = [(pid, b, d, d - b) for pid, b, d in burdens if d != b]
    changes.sort(key=lambda c: (-abs(c[3]), c[0]))
    return {
        "settlements": settlements,
        "persons": persons,
        "baseline_mismatches": mismatches,
        "draft_refusals": refusals,
        "funds": [
            {
                "fund": fund,
                "baseline": money(funds[0][i]),
                "draft": money(funds[1][i]),
                "difference": money(funds[1][i] - funds[0][i]),
                "percent": percent(funds[1][i] - funds[0][i], funds[0][i]),
            }
            for i, fund in enumerate(FUNDS)
        ],
        "by_med_type": rows("med_type", 0),
        "by_aid_category": rows("aid_category", 1),
        "by_institution_level": rows("institution_level", 2),
        "personal_burden": {
            "baseline": money(sum((b for _, b, _ in burdens), ZERO)),
            "draft": money(sum((d for _, _, d in burdens), ZERO)),
            "deciles_baseline": _deciles([b for _, b, _ in burdens]),
            "deciles_draft": _deciles([d for _, _, d in burdens]),
        },
        "top_changes": [
            {"person_id": pid, "baseline": money(b), "draft": money(d), "difference": money(diff)}
            for pid, b, d, diff in changes[:100]
        ],
        "caps_hit": {
            run: dict(zip(("basic_cap", "ci_cap", "aid_cap"), caps[which]))
            for which, run in enumerate(("baseline", "draft"))
        },
    }
