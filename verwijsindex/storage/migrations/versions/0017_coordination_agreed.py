"""coordinations: when the coordinator confirmed the coordination as agreed

``agreed_at`` is set by the coordinator's ``confirm`` (the professionals agreed who does
what); while it is set the coordination deadline no longer applies. A handover, a new
acceptance or an escalation clears it. Nullable: no coordination is agreed before.

Revision ID: 0017_coordination_agreed
Revises: 0016_parent_links_by_pseudonym
Create Date: 2026-12-06 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_coordination_agreed"
down_revision: str | None = "0016_parent_links_by_pseudonym"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("coordinations") as batch:
        batch.add_column(sa.Column("agreed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("coordinations") as batch:
        batch.drop_column("agreed_at")
