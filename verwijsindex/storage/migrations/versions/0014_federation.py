"""federation: a region's hand-off to the hub and its cross-region matches; the hub's tables

A region writes a row to ``federation_outbox`` in the transaction of each new or ended
registration and sends the rows to the hub in the background; it keeps the hub's reports of
cross-region matches in ``federated_matches`` and ``federated_participants``. The hub
(``VERWIJSINDEX_ROLE=hub``) keeps ``hub_regions``, ``hub_registrations`` (federated
pseudonym, region, reference, sealed card), ``hub_matches``, ``hub_participants``,
``hub_received`` (idempotency keys) and ``hub_outbox``. Every index has all the tables; a
region leaves the hub's empty and the hub the region's.

Revision ID: 0014_federation
Revises: 0007_appointed_auditors
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_federation"
down_revision: str | None = "0012_personal_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federated_matches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_matches")),
    )
    op.create_table(
        "federation_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("reference", sa.String(length=48), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=True),
        sa.Column("federated_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_outbox")),
    )
    op.create_table(
        "hub_matches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("federated_pseudonym", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_matches")),
    )
    op.create_index(
        "uq_hub_matches_open_fp",
        "hub_matches",
        ["federated_pseudonym"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "hub_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_outbox")),
    )
    op.create_index("ix_hub_outbox_region", "hub_outbox", ["region", "id"], unique=False)
    op.create_table(
        "hub_received",
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region", "key", name=op.f("pk_hub_received")),
    )
    op.create_table(
        "hub_regions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("callback_url", sa.String(length=2048), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_regions")),
    )
    op.create_table(
        "hub_registrations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=48), nullable=False),
        sa.Column("federated_pseudonym", sa.String(length=64), nullable=False),
        sa.Column("card", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_registrations")),
    )
    op.create_index(
        "ix_hub_registrations_active_fp",
        "hub_registrations",
        ["federated_pseudonym"],
        unique=False,
        sqlite_where=sa.text("active = true"),
        postgresql_where=sa.text("active = true"),
    )
    op.create_index(
        "uq_hub_registrations_region_ref", "hub_registrations", ["region", "reference"], unique=True
    )
    op.create_table(
        "federated_participants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("match_id", sa.String(length=36), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=48), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=True),
        sa.Column("organisation_id", sa.String(length=36), nullable=True),
        sa.Column("card", sa.Text(), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["federated_matches.id"],
            name=op.f("fk_federated_participants_match_id_federated_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_participants")),
    )
    op.create_index(
        "ix_federated_participants_org",
        "federated_participants",
        ["organisation_id", "match_id"],
        unique=False,
    )
    op.create_index(
        "ix_federated_participants_registration",
        "federated_participants",
        ["registration_id"],
        unique=False,
    )
    op.create_index(
        "uq_federated_participants_match_ref",
        "federated_participants",
        ["match_id", "region", "reference"],
        unique=True,
    )
    op.create_table(
        "hub_participants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("match_id", sa.String(length=36), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["hub_matches.id"],
            name=op.f("fk_hub_participants_match_id_hub_matches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["hub_registrations.id"],
            name=op.f("fk_hub_participants_registration_id_hub_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hub_participants")),
    )
    op.create_index(
        "uq_hub_participants_match_reg",
        "hub_participants",
        ["match_id", "registration_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_hub_participants_match_reg", table_name="hub_participants")
    op.drop_table("hub_participants")
    op.drop_index("uq_federated_participants_match_ref", table_name="federated_participants")
    op.drop_index("ix_federated_participants_registration", table_name="federated_participants")
    op.drop_index("ix_federated_participants_org", table_name="federated_participants")
    op.drop_table("federated_participants")
    op.drop_index("uq_hub_registrations_region_ref", table_name="hub_registrations")
    op.drop_index(
        "ix_hub_registrations_active_fp",
        table_name="hub_registrations",
        sqlite_where=sa.text("active = true"),
        postgresql_where=sa.text("active = true"),
    )
    op.drop_table("hub_registrations")
    op.drop_table("hub_regions")
    op.drop_table("hub_received")
    op.drop_index("ix_hub_outbox_region", table_name="hub_outbox")
    op.drop_table("hub_outbox")
    op.drop_index(
        "uq_hub_matches_open_fp",
        table_name="hub_matches",
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.drop_table("hub_matches")
    op.drop_table("federation_outbox")
    op.drop_table("federated_matches")
