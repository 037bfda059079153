"""statistics: the rollup's cells and watermark, and the time indexes its counting queries use

Revision ID: 0010_statistics
Revises: 0009_family_match
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_statistics"
down_revision: str | None = "0009_family_match"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statistics_cells",
        sa.Column("municipality", sa.String(length=4), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("measure", sa.String(length=60), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "municipality", "month", "sector", "measure", name=op.f("pk_statistics_cells")
        ),
    )
    op.create_table(
        "statistics_rollup",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.String(length=7), nullable=True),
        sa.Column("counted_through", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statistics_rollup")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index("ix_matches_created_at", ["created_at"])
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index("ix_consent_events_recorded_at", ["recorded_at"])
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.create_index("ix_exchanges_created_at", ["created_at"])
    with op.batch_alter_table("coordination_events", schema=None) as batch_op:
        batch_op.create_index("ix_coordination_events_at", ["at"])


def downgrade() -> None:
    with op.batch_alter_table("coordination_events", schema=None) as batch_op:
        batch_op.drop_index("ix_coordination_events_at")
    with op.batch_alter_table("exchanges", schema=None) as batch_op:
        batch_op.drop_index("ix_exchanges_created_at")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_events_recorded_at")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index("ix_matches_created_at")
    op.drop_table("statistics_rollup")
    op.drop_table("statistics_cells")
