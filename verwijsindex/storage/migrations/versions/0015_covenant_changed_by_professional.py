"""covenant versions: the portal professional who changed the covenant

A covenant changed through the API records the API key (``changed_by_api_key_id``); one
changed in the portal records the signed-in professional instead
(``changed_by_professional_id``). Both are nullable; a version has one or the other.

Revision ID: 0015_covenant_professional
Revises: 0014_federation
Create Date: 2026-12-06 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_covenant_professional"
down_revision: str | None = "0014_federation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("covenant_versions") as batch:
        batch.add_column(
            sa.Column("changed_by_professional_id", sa.String(length=36), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("covenant_versions") as batch:
        batch.drop_column("changed_by_professional_id")
