"""access log (hash chain, signed heads), rate-limit counters, anomaly flags

Revision ID: 0004_access_log
Revises: 0003_consent
Create Date: 2026-11-23 12:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_access_log"
down_revision: str | None = "0003_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("professional_id", sa.String(length=36), nullable=True),
        sa.Column("organisation_id", sa.String(length=36), nullable=True),
        sa.Column("on_behalf_of", sa.String(length=36), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("subject_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("subject_ref_type", sa.String(length=20), nullable=True),
        sa.Column("subject_ref", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_log")),
        sa.UniqueConstraint("id", name=op.f("uq_access_log_id")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_org_started", ["organisation_id", "started_at"])
        batch_op.create_index(
            "ix_access_log_professional_started", ["professional_id", "started_at"]
        )
        batch_op.create_index("ix_access_log_started", ["started_at"])
        batch_op.create_index("ix_access_log_subject_pseudonym", ["subject_pseudonym"])
        batch_op.create_index("ix_access_log_subject_ref", ["subject_ref"])

    _append_only_triggers()

    op.create_table(
        "access_log_heads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log_heads")),
    )

    op.create_table(
        "rate_limit_counters",
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "scope", "subject_id", "window_start", name=op.f("pk_rate_limit_counters")
        ),
    )
    with op.batch_alter_table("rate_limit_counters", schema=None) as batch_op:
        batch_op.create_index("ix_rate_limit_counters_window", ["window_start"])

    op.create_table(
        "anomaly_flags",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("professional_id", sa.String(length=36), nullable=True),
        sa.Column("subject_ref_type", sa.String(length=20), nullable=True),
        sa.Column("subject_ref", sa.String(length=64), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("observed", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_flags")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_anomaly_flags_dedupe_key")),
    )
    with op.batch_alter_table("anomaly_flags", schema=None) as batch_op:
        batch_op.create_index("ix_anomaly_flags_org_raised", ["organisation_id", "raised_at"])


def _append_only_triggers() -> None:
    """Refuse UPDATE and DELETE of access-log rows in the database itself. Someone with DDL
    rights can drop the triggers; the hash chain and signed heads detect what they do then."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION access_log_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'access_log is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log"
            " FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log"
            " FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log"
            " BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log"
            " BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END"
        )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_log_no_truncate ON access_log")
        op.execute("DROP TRIGGER IF EXISTS access_log_append_only ON access_log")
        op.execute("DROP FUNCTION IF EXISTS access_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS access_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS access_log_no_delete")


def downgrade() -> None:
    with op.batch_alter_table("anomaly_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_anomaly_flags_org_raised")
    op.drop_table("anomaly_flags")
    with op.batch_alter_table("rate_limit_counters", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_limit_counters_window")
    op.drop_table("rate_limit_counters")
    op.drop_table("access_log_heads")
    _drop_append_only_triggers()
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        for name in (
            "ix_access_log_subject_ref",
            "ix_access_log_subject_pseudonym",
            "ix_access_log_started",
            "ix_access_log_professional_started",
            "ix_access_log_org_started",
        ):
            batch_op.drop_index(name)
    op.drop_table("access_log")
