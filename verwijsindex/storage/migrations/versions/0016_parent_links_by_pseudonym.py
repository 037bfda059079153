"""registration_parents: keyed by the parent's pseudonym first, without SQLite's row id

The write path looks links up by parent pseudonym and inserts two or more per registration.
The table was a row-id table with a primary key (registration_id, pseudonym) and a second
index on pseudonym: three B-trees written per link on SQLite. Now the primary key is
(pseudonym, registration_id), the table is WITHOUT ROWID on SQLite (the primary key is the
table), and one index on registration_id serves ending and purging a registration's links:
two B-trees per link on SQLite; on PostgreSQL the same two indexes with their roles swapped.

Revision ID: 0016_parent_links_by_pseudonym
Revises: 0015_covenant_professional
Create Date: 2026-12-06 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_parent_links_by_pseudonym"
down_revision: str | None = "0015_covenant_professional"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_registration_parents_registration_id_registrations"


def _create(name: str, first: str, second: str, *, without_rowid: bool) -> None:
    op.create_table(
        name,
        sa.Column(first, sa.String(length=64 if first == "pseudonym" else 36), nullable=False),
        sa.Column(second, sa.String(length=64 if second == "pseudonym" else 36), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"], ["registrations.id"], name=_FK, ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(first, second, name="pk_registration_parents"),
        sqlite_with_rowid=not without_rowid,
    )


def _rebuild_sqlite(first: str, second: str, *, without_rowid: bool) -> None:
    """SQLite cannot change a table's primary key or row id in place: copy into a new one."""
    _create("registration_parents_new", first, second, without_rowid=without_rowid)
    op.execute(
        "INSERT INTO registration_parents_new (registration_id, pseudonym, key_version) "
        "SELECT registration_id, pseudonym, key_version FROM registration_parents"
    )
    op.drop_table("registration_parents")
    op.rename_table("registration_parents_new", "registration_parents")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite("pseudonym", "registration_id", without_rowid=True)
    else:
        op.drop_index("ix_registration_parents_pseudonym", table_name="registration_parents")
        op.drop_constraint("pk_registration_parents", "registration_parents", type_="primary")
        op.create_primary_key(
            "pk_registration_parents", "registration_parents", ["pseudonym", "registration_id"]
        )
    op.create_index(
        "ix_registration_parents_registration", "registration_parents", ["registration_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_registration_parents_registration", table_name="registration_parents")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite("registration_id", "pseudonym", without_rowid=False)
    else:
        op.drop_constraint("pk_registration_parents", "registration_parents", type_="primary")
        op.create_primary_key(
            "pk_registration_parents", "registration_parents", ["registration_id", "pseudonym"]
        )
    op.create_index("ix_registration_parents_pseudonym", "registration_parents", ["pseudonym"])
