"""coordination after a match: covenant versions per municipality, the municipality-admin role,
each match's coordination and its history

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
    op.create_table(
        "coordinations",
        sa.Column("match_id", sa.String(length=36), nullable=False),
        sa.Column("municipality", sa.String(length=4), nullable=False),
        sa.Column("covenant_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("coordinator_organisation_id", sa.String(length=36), nullable=True),
        sa.Column("coordinator_registration_id", sa.String(length=36), nullable=True),
        sa.Column("handover_from_organisation_id", sa.String(length=36), nullable=True),
        sa.Column("handover_from_registration_id", sa.String(length=36), nullable=True),
        sa.Column("declined", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("coordinate_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("match_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.id"],
            name=op.f("fk_coordinations_match_id_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("match_id", name=op.f("pk_coordinations")),
    )
    with op.batch_alter_table("coordinations", schema=None) as batch_op:
        batch_op.create_index("ix_coordinations_due_at", ["due_at"])
        batch_op.create_index("ix_coordinations_municipality_status", ["municipality", "status"])
    op.create_table(
        "coordination_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("match_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("actor_organisation_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("target_organisation_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("coordinator_organisation_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.id"],
            name=op.f("fk_coordination_events_match_id_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordination_events")),
    )
    with op.batch_alter_table("coordination_events", schema=None) as batch_op:
        batch_op.create_index("ix_coordination_events_match_at", ["match_id", "at", "id"])


def downgrade() -> None:
    op.drop_table("coordination_events")
    op.drop_table("coordinations")
    op.execute(sa.text("DELETE FROM api_keys WHERE role = 'municipality-admin'"))
    with op.batch_alter_table("covenant_versions", schema=None) as batch_op:
        batch_op.drop_index("uq_covenant_versions_municipality_version")
    op.drop_table("covenant_versions")
