"""persons_certno: POST /v1/persons/lookup finds a person by certno

Institutions look persons up only by the credential the patient presents (api.md,
"Persons and registrations"); without an index that is a scan of every person.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("persons_certno", "persons", ["certno"])


def downgrade() -> None:
    op.drop_index("persons_certno", table_name="persons")
