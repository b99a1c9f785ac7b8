"""Dimona declarations and the personnel file: employment periods with every version."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_02"
down_revision = "20261128_01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket", sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f("ix_anomalies_ticket"), ["ticket"], unique=False)
    op.create_table(
        "employment_period_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.Column("worker_type", sa.String(), nullable=False),
        sa.Column("joint_committee", sa.String(), nullable=True),
        sa.Column("starting_date", sa.Date(), nullable=False),
        sa.Column("starting_hour", sa.String(), nullable=True),
        sa.Column("ending_date", sa.Date(), nullable=True),
        sa.Column("ending_hour", sa.String(), nullable=True),
        sa.Column("planned_hours", sa.Integer(), nullable=True),
        sa.Column("is_cancelled", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employment_period_versions")),
        sa.UniqueConstraint("period_id", "version", name=op.f("uq_employment_period_versions_period_id_version")),
    )
    with op.batch_alter_table("employment_period_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employment_period_versions_period_id"), ["period_id"], unique=False)

    op.create_table(
        "employment_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.String(length=12), nullable=False),
        sa.Column("noss_number", sa.String(), nullable=True),
        sa.Column("company_id", sa.String(), nullable=True),
        sa.Column("insz", sa.String(length=11), nullable=False),
        sa.Column("worker_type", sa.String(), nullable=False),
        sa.Column("joint_committee", sa.String(), nullable=True),
        sa.Column("starting_date", sa.Date(), nullable=False),
        sa.Column("starting_hour", sa.String(), nullable=True),
        sa.Column("ending_date", sa.Date(), nullable=True),
        sa.Column("ending_hour", sa.String(), nullable=True),
        sa.Column("planned_hours", sa.Integer(), nullable=True),
        sa.Column("is_cancelled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employment_periods")),
        sa.UniqueConstraint("period_id", name=op.f("uq_employment_periods_period_id")),
    )
    with op.batch_alter_table("employment_periods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employment_periods_insz"), ["insz"], unique=False)
        batch_op.create_index(batch_op.f("ix_employment_periods_noss_number"), ["noss_number"], unique=False)

    op.create_table(
        "dimona_declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=20), nullable=False),
        sa.Column("form_index", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("period_id", sa.String(), nullable=True),
        sa.Column("noss_number", sa.String(), nullable=True),
        sa.Column("company_id", sa.String(), nullable=True),
        sa.Column("insz", sa.String(), nullable=True),
        sa.Column("worker_type", sa.String(), nullable=True),
        sa.Column("joint_committee", sa.String(), nullable=True),
        sa.Column("starting_date", sa.Date(), nullable=True),
        sa.Column("starting_hour", sa.String(), nullable=True),
        sa.Column("ending_date", sa.Date(), nullable=True),
        sa.Column("ending_hour", sa.String(), nullable=True),
        sa.Column("planned_hours", sa.Integer(), nullable=True),
        sa.Column("planned_days", sa.Integer(), nullable=True),
        sa.Column("sender_reference", sa.String(), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("result_code", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["file_sets.id"], name=op.f("fk_dimona_declarations_set_id_file_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dimona_declarations")),
        sa.UniqueConstraint("ticket", name=op.f("uq_dimona_declarations_ticket")),
    )
    with op.batch_alter_table("dimona_declarations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dimona_declarations_insz"), ["insz"], unique=False)
        batch_op.create_index(batch_op.f("ix_dimona_declarations_period_id"), ["period_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dimona_declarations_set_id"), ["set_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anomalies_ticket"))
        batch_op.drop_column("ticket")
    with op.batch_alter_table("dimona_declarations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dimona_declarations_set_id"))
        batch_op.drop_index(batch_op.f("ix_dimona_declarations_period_id"))
        batch_op.drop_index(batch_op.f("ix_dimona_declarations_insz"))

    op.drop_table("dimona_declarations")
    with op.batch_alter_table("employment_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employment_periods_noss_number"))
        batch_op.drop_index(batch_op.f("ix_employment_periods_insz"))

    op.drop_table("employment_periods")
    with op.batch_alter_table("employment_period_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employment_period_versions_period_id"))

    op.drop_table("employment_period_versions")
