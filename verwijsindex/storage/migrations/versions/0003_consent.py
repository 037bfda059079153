"""consent: consent events, organisation encryption keys, exchanges, ledger and checkpoints

Revision ID: 0003_consent
Revises: 0002_notifier
Create Date: 2026-11-23 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_consent"
down_revision: str | None = "0002_notifier"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consent_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("match_id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("counterpart_organisation_id", sa.String(36), nullable=False),
        sa.Column("recorded_by", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("grantor", sa.String(12), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("data_categories", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(12), nullable=False),
        sa.Column("age_band", sa.String(12), nullable=False),
        sa.Column("method", sa.String(12), nullable=False),
        sa.Column("valid_from", _TS, nullable=True),
        sa.Column("valid_until", _TS, nullable=True),
        sa.Column("evidence_hash", sa.String(64), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("ledger_index", name=op.f("uq_consent_events_ledger_index")),
    )
    op.create_index(
        "ix_consent_events_match_recorded", "consent_events", ["match_id", "recorded_at"]
    )
    op.create_table(
        "organisation_encryption_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("organisation_id", sa.String(36), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("retired_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_encryption_keys")),
    )
    op.create_index(
        "ix_organisation_encryption_keys_org",
        "organisation_encryption_keys",
        ["organisation_id", "retired_at"],
    )
    op.create_table(
        "exchanges",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("match_id", sa.String(36), nullable=False),
        sa.Column("sender_organisation_id", sa.String(36), nullable=False),
        sa.Column("sender_professional_id", sa.String(36), nullable=False),
        sa.Column("recipient_organisation_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("data_category", sa.String(20), nullable=False),
        sa.Column("consent_reference", sa.Text(), nullable=False),
        sa.Column("legal_ground", sa.String(20), nullable=True),
        sa.Column("legal_ground_justification", sa.Text(), nullable=True),
        sa.Column("flagged_for_review", sa.Boolean(), nullable=False),
        sa.Column("enc", sa.LargeBinary(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("ciphertext_sha256", sa.String(64), nullable=False),
        sa.Column("recipient_key_id", sa.String(36), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("delivered_at", _TS, nullable=True),
        sa.Column("acknowledged_at", _TS, nullable=True),
        sa.Column("deleted_at", _TS, nullable=True),
        sa.Column("deletion_reason", sa.String(30), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchanges")),
        sa.UniqueConstraint("ledger_index", name=op.f("uq_exchanges_ledger_index")),
    )
    op.create_index(
        "ix_exchanges_recipient_created", "exchanges", ["recipient_organisation_id", "created_at"]
    )
    op.create_index("ix_exchanges_match", "exchanges", ["match_id"])
    op.create_index("ix_exchanges_pending", "exchanges", ["deleted_at", "created_at"])
    op.create_table(
        "ledger_entries",
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("salt", sa.LargeBinary(16), nullable=True),
        sa.Column("personal", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("erased_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("idx", name=op.f("pk_ledger_entries")),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_ledger_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_entries")
    op.drop_index("ix_exchanges_pending", table_name="exchanges")
    op.drop_index("ix_exchanges_match", table_name="exchanges")
    op.drop_index("ix_exchanges_recipient_created", table_name="exchanges")
    op.drop_table("exchanges")
    op.drop_index("ix_organisation_encryption_keys_org", table_name="organisation_encryption_keys")
    op.drop_table("organisation_encryption_keys")
    op.drop_index("ix_consent_events_match_recorded", table_name="consent_events")
    op.drop_table("consent_events")
