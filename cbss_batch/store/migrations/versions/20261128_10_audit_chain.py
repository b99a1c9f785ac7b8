"""The audit log becomes a hash chain: each entry carries the hash that links it to the previous one."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_10"
down_revision = "20261128_09"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_hash", sa.String(length=64), nullable=True))
    from cbss_batch.store.audit import rechain

    rechain(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("chain_hash")
