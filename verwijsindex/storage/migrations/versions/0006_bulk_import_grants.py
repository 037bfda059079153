"""bulk-import grants: batch registrations beyond the per-professional limits, by grant only

Revision ID: 0006_bulk_import_grants
Revises: 0005_subject_indexes
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_bulk_import_grants"
down_revision: str | None = "0005_subject_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulk_import_grants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_import_grants")),
    )
    with op.batch_alter_table("bulk_import_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bulk_import_grants_org_expires", ["organisation_id", "expires_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("bulk_import_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_bulk_import_grants_org_expires")
    op.drop_table("bulk_import_grants")
