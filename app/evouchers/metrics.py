"""E-voucher counters in the service's Prometheus registry (`GET /metrics`).

Labels are fixed words only: a code, its hash or a person never becomes a label.
"""

from __future__ import annotations

from prometheus_client import Counter

from app.kit.metrics import REGISTRY

FAILURE_REASONS = ("invalid", "expired", "used", "rate_limited")

FAILURES = Counter(
    "medsettle_e_voucher_failures_total",
    "E-voucher code attempts refused, by reason (invalid, expired, used, rate_limited)",
    ["reason"],
    registry=REGISTRY,
)
ISSUED = Counter(
    "medsettle_e_vouchers_issued_total",
    "E-voucher codes issued to the wallet",
    registry=REGISTRY,
)

for _reason in FAILURE_REASONS:  # every series exists from the start, at 0
    FAILURES.labels(_reason)
