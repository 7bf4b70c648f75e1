"""Settlement counters in the service's Prometheus registry (`GET /metrics`).

How each POST /v1/settlements was decided: by the optimistic write (two statements, no
lock) or by the locked transaction, and why the optimistic one declined. A high
``state_changed`` rate means many concurrent settlements of the same persons
(docs/operations.md).
"""

from __future__ import annotations

from prometheus_client import Counter

from app.kit.metrics import REGISTRY

#: Why `SettlementService.settle_optimistic` left a request to the locked path (`Decline`).
DECLINE_REASONS = (
    "state_changed",
    "idempotency_key_taken",
    "e_voucher_taken",
    "e_voucher_unknown",
    "person_unknown",
    "policy_changed",
)

PATHS = Counter(
    "medsettle_settlement_paths_total",
    "POST /v1/settlements by how it was decided: path=optimistic|locked; reason: why the "
    "optimistic write declined (none when it did not)",
    ["path", "reason"],
    registry=REGISTRY,
)

OPTIMISTIC = PATHS.labels("optimistic", "none")
LOCKED = {reason: PATHS.labels("locked", reason) for reason in DECLINE_REASONS}
