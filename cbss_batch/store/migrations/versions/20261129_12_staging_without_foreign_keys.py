"""The staging tables lose their foreign keys: the bulk writer ensures them, PostgreSQL checked them per row.

natural_persons … deductions are written with client-side keys, parents first, in one transaction, and
deleted children first; on PostgreSQL the referential triggers cost a quarter of a large set's time.
"""

from __future__ import annotations

from alembic import op

revision = "20261129_12"
down_revision = "20261128_11"
branch_labels = None
depends_on = None

# (table, column, referred table): the names follow the metadata's naming convention
_KEYS = (
    ("natural_persons", "declaration_id", "declarations"),
    ("worker_records", "person_id", "natural_persons"),
    ("occupations", "worker_record_id", "worker_records"),
    ("services", "occupation_id", "occupations"),
    ("remunerations", "occupation_id", "occupations"),
    ("contributions", "declaration_id", "declarations"),
    ("deductions", "declaration_id", "declarations"),
)


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    for table, column, referred in _KEYS:
        with op.batch_alter_table(table) as batch:  # SQLite: the table is rebuilt without the key
            batch.drop_constraint(_name(table, column, referred), type_="foreignkey")


def downgrade() -> None:
    for table, column, referred in reversed(_KEYS):
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(_name(table, column, referred), referred, [column], ["id"])
