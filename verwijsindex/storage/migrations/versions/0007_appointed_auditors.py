"""auditor keys become reviewer keys: auditors are appointed on the command line

Until now an org-admin could issue an ``auditor`` key through the API, and such a key read every
organisation's consent ledger. An ``auditor`` is now appointed by the operator or the
supervisory authority and issued only on the command line; an organisation's own review key is
a ``reviewer``. Which existing auditor keys were issued through the API is not recorded, so
every existing auditor key becomes a reviewer key of its organisation: it keeps what it did for
the access log (its organisation's records) and sees only its own organisation's ledger
entries. Operators issue appointed auditors again with
``verwijsindex admin create-api-key --role auditor``.

Revision ID: 0007_appointed_auditors
Revises: 0006_bulk_import_grants
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_appointed_auditors"
down_revision: str | None = "0006_bulk_import_grants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("UPDATE api_keys SET role = 'reviewer' WHERE role = 'auditor'"))


def downgrade() -> None:
    # The old code knows no reviewer role: reviewer keys become auditor keys again, and with
    # the old code they read every organisation's ledger again, as before the upgrade.
    op.execute(sa.text("UPDATE api_keys SET role = 'auditor' WHERE role = 'reviewer'"))
