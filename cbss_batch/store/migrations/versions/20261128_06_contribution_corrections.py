"""Contribution corrections (our figures where they replace declared ones) and the parameter versions used."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_06"
down_revision = "20261128_05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contribution_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.BigInteger(), nullable=False),
        sa.Column("insz", sa.String(), nullable=False),
        sa.Column("employer_class", sa.String(), nullable=True),
        sa.Column("worker_code", sa.String(), nullable=True),
        sa.Column("contribution_code", sa.String(), nullable=False),
        sa.Column("contribution_type", sa.String(), nullable=True),
        sa.Column("declared_basis", sa.BigInteger(), nullable=True),
        sa.Column("declared_amount", sa.BigInteger(), nullable=True),
        sa.Column("corrected_basis", sa.BigInteger(), nullable=True),
        sa.Column("corrected_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_corrections")),
    )
    with op.batch_alter_table("contribution_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contribution_corrections_declaration_id"), ["declaration_id"], unique=False
        )

    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parameter_versions", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_column("parameter_versions")

    with op.batch_alter_table("contribution_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_corrections_declaration_id"))

    op.drop_table("contribution_corrections")
