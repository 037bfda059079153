"""coordination after a match: covenant versions per municipality, the municipality-admin role

Revision ID: 0008_coordination
Revises: 0007_appointed_auditors
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_coordination"
down_revision: str | None = "0007_appointed_auditors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "covenant_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("municipality", sa.String(length=4), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("coordinator_sectors", sa.Text(), nullable=False),
        sa.Column("respond_within", sa.String(length=32), nullable=False),
        sa.Column("coordinate_within", sa.String(length=32), nullable=False),
        sa.Column("inform_within", sa.String(length=32), nullable=False),
        sa.Column("earlier_involvement_enabled", sa.Boolean(), nullable=False),
        sa.Column("earlier_involvement_retention", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_organisation_id", sa.String(length=36), nullable=False),
        sa.Column("changed_by_api_key_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_covenant_versions")),
    )
    with op.batch_alter_table("covenant_versions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_covenant_versions_municipality_version",
            ["municipality", "version"],
            unique=True,
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM api_keys WHERE role = 'municipality-admin'"))
    with op.batch_alter_table("covenant_versions", schema=None) as batch_op:
        batch_op.drop_index("uq_covenant_versions_municipality_version")
    op.drop_table("covenant_versions")
