"""Facts for the institutions (one event per accepted fact), extracts delivered, high-water marks."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_08"
down_revision = "20261128_07"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fact_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("mutation", sa.String(length=10), nullable=False),
        sa.Column("ticket", sa.String(length=20), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=1), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fact_events")),
    )
    op.create_table(
        "extracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("environment", sa.String(length=1), nullable=False),
        sa.Column("first_event", sa.Integer(), nullable=False),
        sa.Column("last_event", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("backfill", sa.Boolean(), nullable=False),
        sa.Column("body_path", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(), nullable=True),
        sa.Column("push_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("push_next_at", sa.DateTime(), nullable=True),
        sa.Column("push_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extracts")),
        sa.UniqueConstraint("institution", "name", name=op.f("uq_extracts_institution_name")),
    )
    op.create_table(
        "institution_marks",
        sa.Column("institution", sa.String(length=40), nullable=False),
        sa.Column("last_event", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("institution", name=op.f("pk_institution_marks")),
    )


def downgrade() -> None:
    op.drop_table("institution_marks")
    op.drop_table("extracts")
    op.drop_table("fact_events")
