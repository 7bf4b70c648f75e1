"""Typed client for the medsettle settlement API 医保一站式结算 (sync and async, httpx)."""

from medsettle_client.client import ENDPOINTS, AsyncMedsettleClient, MedsettleClient
from medsettle_client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MedsettleError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    SettlementRefused,
    TooManyAttempts,
    TransportError,
    Unauthorized,
)
from medsettle_client.models import (
    Enrollment,
    EVoucher,
    FeeLine,
    FundLine,
    ItemLine,
    Person,
    Settlement,
    SettlementPage,
    SettlementRequest,
    SettlementSummary,
    Totals,
)

__all__ = [
    "ENDPOINTS",
    "AsyncMedsettleClient",
    "BadRequest",
    "Conflict",
    "EVoucher",
    "Enrollment",
    "FeeLine",
    "Forbidden",
    "FundLine",
    "ItemLine",
    "MedsettleClient",
    "MedsettleError",
    "NotFound",
    "PayloadTooLarge",
    "Person",
    "ServiceUnavailable",
    "Settlement",
    "SettlementPage",
    "SettlementRefused",
    "SettlementRequest",
    "SettlementSummary",
    "TooManyAttempts",
    "Totals",
    "TransportError",
    "Unauthorized",
]  # fmt: skip
__version__ = "0.1.0"
