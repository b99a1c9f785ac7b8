"""Staging schema: sets, received files, DmfA declarations and their rows, anomalies, answers, audit."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261128_01"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=True),
        sa.Column("ticket", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_set_id"), ["set_id"], unique=False)

    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "file_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=20), nullable=False),
        sa.Column("mailbox", sa.String(length=6), nullable=False),
        sa.Column("folder", sa.String(length=8), nullable=False),
        sa.Column("name_key", sa.String(), nullable=True),
        sa.Column("answer_name", sa.String(), nullable=False),
        sa.Column("file_type", sa.String(length=4), nullable=True),
        sa.Column("environment", sa.String(length=1), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("result_code", sa.Integer(), nullable=True),
        sa.Column("error_codes", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("content_bytes", sa.BigInteger(), nullable=True),
        sa.Column("duplicate_of", sa.String(length=20), nullable=True),
        sa.Column("inbox_cleared", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_sets")),
        sa.UniqueConstraint("ticket", name=op.f("uq_file_sets_ticket")),
    )
    with op.batch_alter_table("file_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_file_sets_content_sha256"), ["content_sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_file_sets_name_key"), ["name_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_file_sets_state"), ["state"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sets", sa.Integer(), nullable=False),
        sa.Column("declarations_accepted", sa.Integer(), nullable=False),
        sa.Column("declarations_refused", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.BigInteger(), nullable=True),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("anomaly_class", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("tag", sa.String(), nullable=True),
        sa.Column("value", sa.String(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("column", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["file_sets.id"], name=op.f("fk_anomalies_set_id_file_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomalies")),
    )
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_anomalies_declaration_id"), ["declaration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_anomalies_set_id"), ["set_id"], unique=False)

    op.create_table(
        "declarations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(), nullable=False),
        sa.Column("form_index", sa.Integer(), nullable=False),
        sa.Column("message_type", sa.String(), nullable=False),
        sa.Column("identification", sa.String(), nullable=True),
        sa.Column("created_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.String(), nullable=True),
        sa.Column("sender_reference", sa.String(), nullable=True),
        sa.Column("quarter", sa.String(), nullable=True),
        sa.Column("noss_number", sa.String(), nullable=True),
        sa.Column("company_id", sa.String(), nullable=True),
        sa.Column("trusteeship", sa.Integer(), nullable=True),
        sa.Column("net_owed_declared", sa.BigInteger(), nullable=True),
        sa.Column("net_owed_computed", sa.BigInteger(), nullable=True),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("worker_records", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("result_code", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["file_sets.id"], name=op.f("fk_declarations_set_id_file_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declarations")),
        sa.UniqueConstraint("ticket", name=op.f("uq_declarations_ticket")),
    )
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_declarations_noss_number_quarter"), ["noss_number", "quarter"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_declarations_set_id"), ["set_id"], unique=False)

    op.create_table(
        "outbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=True),
        sa.Column("mailbox", sa.String(length=6), nullable=False),
        sa.Column("folder", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("body_path", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["set_id"], ["file_sets.id"], name=op.f("fk_outbound_messages_set_id_file_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint("mailbox", "folder", "name", name=op.f("uq_outbound_messages_mailbox_folder_name")),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbound_messages_set_id"), ["set_id"], unique=False)

    op.create_table(
        "received_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(length=2), nullable=True),
        sa.Column("part", sa.Integer(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("archive_path", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["file_sets.id"], name=op.f("fk_received_files_set_id_file_sets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_received_files")),
    )
    with op.batch_alter_table("received_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_received_files_set_id"), ["set_id"], unique=False)

    op.create_table(
        "contributions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("declaration_id", sa.BigInteger(), nullable=False),
        sa.Column("worker_record_id", sa.BigInteger(), nullable=True),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("worker_code", sa.String(), nullable=False),
        sa.Column("contribution_type", sa.String(), nullable=True),
        sa.Column("basis", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_contributions_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contributions")),
    )
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contributions_declaration_id"), ["declaration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contributions_worker_record_id"), ["worker_record_id"], unique=False)

    op.create_table(
        "deductions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("declaration_id", sa.BigInteger(), nullable=False),
        sa.Column("worker_record_id", sa.BigInteger(), nullable=True),
        sa.Column("occupation_id", sa.BigInteger(), nullable=True),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("basis", sa.BigInteger(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_deductions_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deductions")),
    )
    with op.batch_alter_table("deductions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deductions_declaration_id"), ["declaration_id"], unique=False)

    op.create_table(
        "natural_persons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("declaration_id", sa.BigInteger(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("insz", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("first_name", sa.String(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_natural_persons_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_natural_persons")),
    )
    with op.batch_alter_table("natural_persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_natural_persons_declaration_id"), ["declaration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_natural_persons_insz"), ["insz"], unique=False)

    op.create_table(
        "worker_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("declaration_id", sa.BigInteger(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("employer_class", sa.String(), nullable=True),
        sa.Column("worker_code", sa.String(), nullable=False),
        sa.Column("quarter_start", sa.Date(), nullable=True),
        sa.Column("quarter_end", sa.Date(), nullable=True),
        sa.Column("border", sa.Integer(), nullable=True),
        sa.Column("activity_with_risk", sa.Integer(), nullable=True),
        sa.Column("local_unit_id", sa.String(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["natural_persons.id"], name=op.f("fk_worker_records_person_id_natural_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_records")),
    )
    with op.batch_alter_table("worker_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_records_declaration_id"), ["declaration_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_worker_records_person_id"), ["person_id"], unique=False)

    op.create_table(
        "occupations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("worker_record_id", sa.BigInteger(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("starting_date", sa.Date(), nullable=True),
        sa.Column("ending_date", sa.Date(), nullable=True),
        sa.Column("joint_committee", sa.String(), nullable=True),
        sa.Column("working_days_system", sa.Integer(), nullable=True),
        sa.Column("contract_type", sa.Integer(), nullable=True),
        sa.Column("ref_mean_working_hours", sa.Integer(), nullable=True),
        sa.Column("mean_working_hours", sa.Integer(), nullable=True),
        sa.Column("local_unit_id", sa.String(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_record_id"], ["worker_records.id"], name=op.f("fk_occupations_worker_record_id_worker_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occupations")),
    )
    with op.batch_alter_table("occupations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_occupations_worker_record_id"), ["worker_record_id"], unique=False)

    op.create_table(
        "remunerations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occupation_id", sa.BigInteger(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("bonus_frequency", sa.Integer(), nullable=True),
        sa.Column("percentage_paid", sa.Integer(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["occupation_id"], ["occupations.id"], name=op.f("fk_remunerations_occupation_id_occupations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remunerations")),
    )
    with op.batch_alter_table("remunerations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_remunerations_occupation_id"), ["occupation_id"], unique=False)

    op.create_table(
        "services",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occupation_id", sa.BigInteger(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("hours", sa.Integer(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["occupation_id"], ["occupations.id"], name=op.f("fk_services_occupation_id_occupations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_occupation_id"), ["occupation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_occupation_id"))

    op.drop_table("services")
    with op.batch_alter_table("remunerations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_remunerations_occupation_id"))

    op.drop_table("remunerations")
    with op.batch_alter_table("occupations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_occupations_worker_record_id"))

    op.drop_table("occupations")
    with op.batch_alter_table("worker_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_records_person_id"))
        batch_op.drop_index(batch_op.f("ix_worker_records_declaration_id"))

    op.drop_table("worker_records")
    with op.batch_alter_table("natural_persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_natural_persons_insz"))
        batch_op.drop_index(batch_op.f("ix_natural_persons_declaration_id"))

    op.drop_table("natural_persons")
    with op.batch_alter_table("deductions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deductions_declaration_id"))

    op.drop_table("deductions")
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contributions_worker_record_id"))
        batch_op.drop_index(batch_op.f("ix_contributions_declaration_id"))

    op.drop_table("contributions")
    with op.batch_alter_table("received_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_received_files_set_id"))

    op.drop_table("received_files")
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_messages_set_id"))

    op.drop_table("outbound_messages")
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declarations_set_id"))
        batch_op.drop_index(batch_op.f("ix_declarations_noss_number_quarter"))

    op.drop_table("declarations")
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_anomalies_set_id"))
        batch_op.drop_index(batch_op.f("ix_anomalies_declaration_id"))

    op.drop_table("anomalies")
    op.drop_table("runs")
    with op.batch_alter_table("file_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_file_sets_state"))
        batch_op.drop_index(batch_op.f("ix_file_sets_name_key"))
        batch_op.drop_index(batch_op.f("ix_file_sets_content_sha256"))

    op.drop_table("file_sets")
    op.drop_table("counters")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_set_id"))

    op.drop_table("audit_events")
