"""Social-risk declarations (DRS): one row per form with the wage data benefits build on."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_03"
down_revision = "20261128_02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=20), nullable=False),
        sa.Column("form_index", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(length=7), nullable=False),
        sa.Column("risk_codes", sa.String(), nullable=True),
        sa.Column("sender_reference", sa.String(), nullable=True),
        sa.Column("noss_number", sa.String(), nullable=True),
        sa.Column("company_id", sa.String(), nullable=True),
        sa.Column("insz", sa.String(), nullable=True),
        sa.Column("worker_code", sa.String(), nullable=True),
        sa.Column("joint_committee", sa.String(), nullable=True),
        sa.Column("risk_starting_date", sa.Date(), nullable=True),
        sa.Column("last_working_day", sa.Date(), nullable=True),
        sa.Column("work_recovery_date", sa.Date(), nullable=True),
        sa.Column("accident_date", sa.Date(), nullable=True),
        sa.Column("occupation_starting_date", sa.Date(), nullable=True),
        sa.Column("occupation_ending_date", sa.Date(), nullable=True),
        sa.Column("reference_start", sa.Date(), nullable=True),
        sa.Column("reference_end", sa.Date(), nullable=True),
        sa.Column("remuneration_time_unit", sa.Integer(), nullable=True),
        sa.Column("remuneration_basis_amount", sa.BigInteger(), nullable=True),
        sa.Column("remuneration_cycle", sa.Integer(), nullable=True),
        sa.Column("lost_hours", sa.Integer(), nullable=True),
        sa.Column("lost_wage", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("result_code", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["file_sets.id"], name=op.f("fk_risk_declarations_set_id_file_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_declarations")),
        sa.UniqueConstraint("ticket", name=op.f("uq_risk_declarations_ticket")),
    )
    with op.batch_alter_table("risk_declarations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_declarations_insz"), ["insz"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_declarations_scenario"), ["scenario"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_declarations_set_id"), ["set_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("risk_declarations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_declarations_set_id"))
        batch_op.drop_index(batch_op.f("ix_risk_declarations_scenario"))
        batch_op.drop_index(batch_op.f("ix_risk_declarations_insz"))

    op.drop_table("risk_declarations")
