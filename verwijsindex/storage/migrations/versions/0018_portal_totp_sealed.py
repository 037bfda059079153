"""portal_accounts: TOTP secrets sealed

A TOTP secret is now stored sealed under a key derived from the master key
(``k<version>.<base64url(nonce || ciphertext)>``, ChaCha20-Poly1305 bound to its account), about
83 characters for a 32-character secret, so the column widens from 64 to 128. Secrets stored
before stay readable and are sealed at the account's next sign-in (the migration has no key).

Revision ID: 0018_portal_totp_sealed
Revises: 0017_coordination_agreed
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_portal_totp_sealed"
down_revision: str | None = "0017_coordination_agreed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("portal_accounts") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(64), type_=sa.String(128), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_accounts") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(128), type_=sa.String(64), existing_nullable=True
        )
