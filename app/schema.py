"""The whole schema: every domain's tables on the one metadata (for alembic's
autogenerate and the drift test). Importing this module registers them all."""

from __future__ import annotations

from app.apikeys import tables as apikeys_tables  # noqa: F401
from app.chronic import tables as chronic_tables  # noqa: F401
from app.evouchers import tables as evouchers_tables  # noqa: F401
from app.kit.tables import metadata
from app.national import tables as national_tables  # noqa: F401
from app.ops import tables as ops_tables  # noqa: F401
from app.reconciliation import tables as reconciliation_tables  # noqa: F401
from app.reports import tables as reports_tables  # noqa: F401
from app.persons import tables as persons_tables  # noqa: F401
from app.reference import tables as reference_tables  # noqa: F401
from app.registrations import tables as registrations_tables  # noqa: F401
from app.settlement import tables as settlement_tables  # noqa: F401
from app.simulations import tables as simulations_tables  # noqa: F401

__all__ = ["metadata"]
