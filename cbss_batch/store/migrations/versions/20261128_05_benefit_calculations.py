"""Benefits computed from social-risk declarations, with the parameter versions used."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_05"
down_revision = "20261128_04"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "benefit_calculations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("risk_declaration_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=True),
        sa.Column("daily_amount", sa.String(), nullable=False),
        sa.Column("daily_basis", sa.String(), nullable=False),
        sa.Column("cap_applied", sa.Boolean(), nullable=False),
        sa.Column("minimum_applied", sa.Boolean(), nullable=False),
        sa.Column("employer_supplement", sa.String(), nullable=False),
        sa.Column("paid_days_per_week", sa.Integer(), nullable=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["risk_declaration_id"],
            ["risk_declarations.id"],
            name=op.f("fk_benefit_calculations_risk_declaration_id_risk_declarations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_calculations")),
    )
    with op.batch_alter_table("benefit_calculations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_benefit_calculations_risk_declaration_id"), ["risk_declaration_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("benefit_calculations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_calculations_risk_declaration_id"))

    op.drop_table("benefit_calculations")
