"""Work claims: which worker holds a set, until when, and the fencing token of its claim."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_09"
down_revision = "20261128_08"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("file_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("file_sets", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("claim_token")
