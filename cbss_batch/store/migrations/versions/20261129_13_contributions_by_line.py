"""Contributions are indexed by declaration only where they have no worker line (employer-level ones).

A worker line's contributions are found through ``worker_record_id``; an index of every row's
``declaration_id`` (850 000 entries for a 100 000-worker set) cost about 4 % of a large run on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261129_13"
down_revision = "20261129_12"
branch_labels = None
depends_on = None

_UNRELATED = sa.text("worker_record_id IS NULL")


def upgrade() -> None:
    op.drop_index("ix_contributions_declaration_id", table_name="contributions")
    op.create_index("ix_contributions_unrelated", "contributions", ["declaration_id"],
                    sqlite_where=_UNRELATED, postgresql_where=_UNRELATED)


def downgrade() -> None:
    op.drop_index("ix_contributions_unrelated", table_name="contributions")
    op.create_index("ix_contributions_declaration_id", "contributions", ["declaration_id"])
