"""family matches, the duty to inform, reminders and earlier involvement

Parents on a registration (by a pseudonym under their own key purpose, deleted when the
registration ends), family matches and their participants (no pseudonym), records of the
duty to inform, the reminders the sweeper has sent (inform due, expiring) and the ended
registrations kept for earlier involvement where a municipality switched it on (ADR 0016).

Revision ID: 0009_family_match
Revises: 0008_coordination
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_family_match"
down_revision: str | None = "0008_coordination"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "family_matches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_matches")),
    )
    with op.batch_alter_table("family_matches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_family_matches_closed_at",
            ["closed_at"],
            unique=False,
            sqlite_where=sa.text("status = 'closed'"),
            postgresql_where=sa.text("status = 'closed'"),
        )
        batch_op.create_index("ix_family_matches_created_at", ["created_at"], unique=False)

    op.create_table(
        "earlier_involvements",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("professional_id", sa.String(length=36), nullable=False),
        sa.Column("municipality", sa.String(length=4), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_earlier_involvements_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_earlier_involvements_professional_id_professionals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earlier_involvements")),
    )
    with op.batch_alter_table("earlier_involvements", schema=None) as batch_op:
        batch_op.create_index("ix_earlier_involvements_pseudonym", ["pseudonym"], unique=False)
        batch_op.create_index("ix_earlier_involvements_purge_after", ["purge_after"], unique=False)

    op.create_table(
        "family_match_participants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("family_match_id", sa.String(length=36), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["family_match_id"],
            ["family_matches.id"],
            name=op.f("fk_family_match_participants_family_match_id_family_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_family_match_participants_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_family_match_participants_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_match_participants")),
    )
    with op.batch_alter_table("family_match_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_family_match_participants_match", ["family_match_id"], unique=False
        )
        batch_op.create_index(
            "ix_family_match_participants_org", ["organisation_id", "family_match_id"], unique=False
        )
        batch_op.create_index(
            "ix_family_match_participants_registration", ["registration_id"], unique=False
        )
        batch_op.create_index(
            "uq_family_match_participants_current_registration",
            ["registration_id"],
            unique=True,
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )

    op.create_table(
        "registration_informing",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("youth_informed", sa.Boolean(), nullable=False),
        sa.Column("parents_informed", sa.Boolean(), nullable=False),
        sa.Column("informed_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=True),
        sa.Column("revisit_on", sa.Date(), nullable=True),
        sa.Column("professional_id", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_registration_informing_professional_id_professionals"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_registration_informing_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_informing")),
    )
    with op.batch_alter_table("registration_informing", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registration_informing_recorded_at", ["recorded_at"], unique=False
        )
        batch_op.create_index(
            "ix_registration_informing_registration",
            ["registration_id", "recorded_at"],
            unique=False,
        )
        batch_op.create_index("ix_registration_informing_revisit_on", ["revisit_on"], unique=False)

    op.create_table(
        "registration_parents",
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_registration_parents_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "registration_id", "pseudonym", name=op.f("pk_registration_parents")
        ),
    )
    with op.batch_alter_table("registration_parents", schema=None) as batch_op:
        batch_op.create_index("ix_registration_parents_pseudonym", ["pseudonym"], unique=False)

    op.create_table(
        "registration_reminders",
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_registration_reminders_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "registration_id", "kind", "due_at", name=op.f("pk_registration_reminders")
        ),
    )


def downgrade() -> None:
    op.drop_table("registration_reminders")
    with op.batch_alter_table("registration_parents", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_parents_pseudonym")

    op.drop_table("registration_parents")
    with op.batch_alter_table("registration_informing", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_informing_revisit_on")
        batch_op.drop_index("ix_registration_informing_registration")
        batch_op.drop_index("ix_registration_informing_recorded_at")

    op.drop_table("registration_informing")
    with op.batch_alter_table("family_match_participants", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_family_match_participants_current_registration",
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        )
        batch_op.drop_index("ix_family_match_participants_registration")
        batch_op.drop_index("ix_family_match_participants_org")
        batch_op.drop_index("ix_family_match_participants_match")

    op.drop_table("family_match_participants")
    with op.batch_alter_table("earlier_involvements", schema=None) as batch_op:
        batch_op.drop_index("ix_earlier_involvements_purge_after")
        batch_op.drop_index("ix_earlier_involvements_pseudonym")

    op.drop_table("earlier_involvements")
    with op.batch_alter_table("family_matches", schema=None) as batch_op:
        batch_op.drop_index("ix_family_matches_created_at")
        batch_op.drop_index(
            "ix_family_matches_closed_at",
            sqlite_where=sa.text("status = 'closed'"),
            postgresql_where=sa.text("status = 'closed'"),
        )

    op.drop_table("family_matches")
