"""DmfA modifications: declaration versions, worker lines valid per version range."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_04"
down_revision = "20261128_03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "declaration_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=20), nullable=False),
        sa.Column("form_index", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.String(), nullable=True),
        sa.Column("noss_number", sa.String(), nullable=True),
        sa.Column("company_id", sa.String(), nullable=True),
        sa.Column("sender_pid", sa.String(), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("lines_added", sa.Integer(), nullable=False),
        sa.Column("lines_changed", sa.Integer(), nullable=False),
        sa.Column("lines_removed", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("result_code", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["file_sets.id"], name=op.f("fk_declaration_versions_set_id_file_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declaration_versions")),
        sa.UniqueConstraint("ticket", name=op.f("uq_declaration_versions_ticket")),
    )
    with op.batch_alter_table("declaration_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_declaration_versions_declaration_id"), ["declaration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_declaration_versions_set_id"), ["set_id"], unique=False)

    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("current_version", sa.Integer(), server_default="1", nullable=False))

    with op.batch_alter_table("worker_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version_from", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("version_to", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("worker_records", schema=None) as batch_op:
        batch_op.drop_column("version_to")
        batch_op.drop_column("version_from")

    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_column("current_version")

    with op.batch_alter_table("declaration_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declaration_versions_set_id"))
        batch_op.drop_index(batch_op.f("ix_declaration_versions_declaration_id"))

    op.drop_table("declaration_versions")
