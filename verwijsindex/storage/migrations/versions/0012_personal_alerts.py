"""personal e-mail alerts: alert_messages and their attempts beside the webhook messages, and
each professional's switch (professionals.alerts_enabled, on for everyone already there)

Revision ID: 0012_personal_alerts
Revises: 0007_appointed_auditors
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_personal_alerts"
down_revision: str | None = "0011_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("professionals") as batch_op:
        batch_op.add_column(
            sa.Column("alerts_enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "alert_messages",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("registration_id", sa.String(length=36), nullable=False),
        sa.Column("professional_id", sa.String(length=36), nullable=True),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("topic", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("round_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_reply_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=20), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_alert_messages")),
        sa.UniqueConstraint("public_id", name=op.f("uq_alert_messages_public_id")),
    )
    op.create_index(
        "ix_alert_messages_due", "alert_messages", ["status", "next_attempt_at"], unique=False
    )
    op.create_index(
        "ix_alert_messages_org_status",
        "alert_messages",
        ["organisation_id", "status", "seq"],
        unique=False,
    )
    op.create_table(
        "alert_delivery_attempts",
        sa.Column("id", _SEQ, autoincrement=True, nullable=False),
        sa.Column("message_seq", _SEQ, nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=20), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_seq"],
            ["alert_messages.seq"],
            name=op.f("fk_alert_delivery_attempts_message_seq_alert_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery_attempts")),
    )
    op.create_index(
        "ix_alert_delivery_attempts_message",
        "alert_delivery_attempts",
        ["message_seq", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_alert_delivery_attempts_message", table_name="alert_delivery_attempts")
    op.drop_table("alert_delivery_attempts")
    op.drop_index("ix_alert_messages_org_status", table_name="alert_messages")
    op.drop_index("ix_alert_messages_due", table_name="alert_messages")
    op.drop_table("alert_messages")
    with op.batch_alter_table("professionals") as batch_op:
        batch_op.drop_column("alerts_enabled")
