"""one pseudonym-keyed index entry per registration; partial indexes for the rest

Every registration used to be in two indexes keyed by the youth's pseudonym: the unique index of
active registrations and ``(pseudonym, status)``. The second is replaced by an index of the
withdrawn and ended registrations only, so a new (active) registration writes one randomly placed
index entry instead of two. The sweeper's and the purge's indexes become partial on the status
they look for, and closed matches get an index by youth (subject access and erasure read them;
they were found by scanning every match).

Building the new indexes reads each table once; writes wait while it runs.

Revision ID: 0005_subject_indexes
Revises: 0004_access_log
Create Date: 2026-11-24 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_subject_indexes"
down_revision: str | None = "0004_access_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_ACTIVE = sa.text("status <> 'active'")
_ACTIVE = sa.text("status = 'active'")


def _partial(name: str, table: str, columns: list[str], where: sa.TextClause) -> None:
    op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    _partial("ix_registrations_ended_pseudonym", "registrations", ["pseudonym"], _NOT_ACTIVE)
    _partial("ix_registrations_active_ends_at", "registrations", ["ends_at"], _ACTIVE)
    op.drop_index("ix_registrations_pseudonym_status", table_name="registrations")
    op.drop_index("ix_registrations_status_ends_at", table_name="registrations")
    op.drop_index("ix_registrations_ended_at", table_name="registrations")
    _partial("ix_registrations_ended_at", "registrations", ["ended_at"], _NOT_ACTIVE)
    _partial(
        "ix_matches_closed_subject", "matches", ["subject_pseudonym"], sa.text("status <> 'open'")
    )
    _partial("ix_matches_closed_at", "matches", ["closed_at"], sa.text("status = 'closed'"))
    op.drop_index("ix_matches_status_closed_at", table_name="matches")


def downgrade() -> None:
    op.create_index("ix_matches_status_closed_at", "matches", ["status", "closed_at"])
    op.drop_index("ix_matches_closed_at", table_name="matches")
    op.drop_index("ix_matches_closed_subject", table_name="matches")
    op.drop_index("ix_registrations_ended_at", table_name="registrations")
    op.create_index("ix_registrations_ended_at", "registrations", ["ended_at"])
    op.create_index("ix_registrations_status_ends_at", "registrations", ["status", "ends_at"])
    op.create_index("ix_registrations_pseudonym_status", "registrations", ["pseudonym", "status"])
    op.drop_index("ix_registrations_active_ends_at", table_name="registrations")
    op.drop_index("ix_registrations_ended_pseudonym", table_name="registrations")
