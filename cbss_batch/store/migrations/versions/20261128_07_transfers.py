"""SFTP transfers: files pulled from remote mailboxes, answers pushed back; who ran each run."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_07"
down_revision = "20261128_06"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pulled_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=6), nullable=False),
        sa.Column("folder", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("remote_mtime", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("pulled_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulled_files")),
        sa.UniqueConstraint("mailbox", "folder", "name", "size", "remote_mtime",
                            name=op.f("uq_pulled_files_mailbox_folder_name_size_remote_mtime")),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pushed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("push_failures", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("push_next_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("push_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("signature_name", sa.String(length=80), nullable=True))
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("job", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("job")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_column("signature_name")
        batch_op.drop_column("push_error")
        batch_op.drop_column("push_next_at")
        batch_op.drop_column("push_failures")
        batch_op.drop_column("pushed_at")
    op.drop_table("pulled_files")
