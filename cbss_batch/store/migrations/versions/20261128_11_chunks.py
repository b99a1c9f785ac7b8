"""Chunked sets: the plan of a large DmfA set and its chunks, each claimed by a worker like a set."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_11"
down_revision = "20261128_10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chunk_plans",
        sa.Column("set_id", sa.Integer(), sa.ForeignKey("file_sets.id"), primary_key=True),
        sa.Column("persons", sa.BigInteger(), nullable=False),
        sa.Column("forms", sa.Integer(), nullable=False),
        sa.Column("first_declaration_id", sa.BigInteger(), nullable=False),
        sa.Column("first_ticket", sa.BigInteger(), nullable=False),
        sa.Column("ticket_day", sa.Date(), nullable=False),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("content_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "set_chunks",
        sa.Column("set_id", sa.Integer(), sa.ForeignKey("file_sets.id"), primary_key=True),
        sa.Column("chunk", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("start_offset", sa.BigInteger(), nullable=False),
        sa.Column("end_offset", sa.BigInteger(), nullable=True),
        sa.Column("line", sa.BigInteger(), nullable=False),
        sa.Column("form", sa.Integer(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("form_ends", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_set_chunks_state", "set_chunks", ["state"])


def downgrade() -> None:
    op.drop_index("ix_set_chunks_state", table_name="set_chunks")
    op.drop_table("set_chunks")
    op.drop_table("chunk_plans")
