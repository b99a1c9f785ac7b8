"""Staging tables (SQLAlchemy Core). Alembic migrations create them; ``create_all`` is for tests only.

Every staging row keeps its lineage: the set it came from (``set_id`` → ticket, archived file) and
the source line in the reassembled XML. Money in integer cents, days/hours in hundredths.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

# Client-generated keys of the big tables: BIGINT in PostgreSQL, the rowid alias INTEGER in SQLite
# (a BIGINT primary key there would cost a second index on every insert).
Key = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

counters = Table(
    "counters", metadata,
    Column("name", String(80), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("kind", String(20), nullable=False),
    Column("sets", Integer, nullable=False, default=0),
    Column("declarations_accepted", Integer, nullable=False, default=0),
    Column("declarations_refused", Integer, nullable=False, default=0),
    Column("status", String(20), nullable=False),
    Column("message", Text),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("job", String(80)),  # the scheduled job that started it, or None for a command
)

file_sets = Table(
    "file_sets", metadata,
    Column("id", Integer, primary_key=True),
    Column("ticket", String(20), nullable=False, unique=True),
    Column("mailbox", String(6), nullable=False),
    Column("folder", String(8), nullable=False),  # IN | INTEST
    Column("name_key", String),  # TYPE.SENDER.DATE.SEQ.ENV, None when the name is unreadable
    Column("answer_name", String, nullable=False),  # the name the ACRF refers to (GO, or the file)
    Column("file_type", String(4)),
    Column("environment", String(1), nullable=False),
    Column("parts", Integer),
    Column("state", String(12), nullable=False),  # received | accepted | rejected | cancelled
    Column("result_code", Integer),
    Column("error_codes", Text),  # "ACRF-102 ACRF-133"
    Column("reason", Text),
    Column("content_sha256", String(64)),  # of the reassembled FI bytes
    Column("content_bytes", BigInteger),
    Column("duplicate_of", String(20)),  # ticket of the original set, for duplicates
    Column("inbox_cleared", Boolean, nullable=False, default=False),
    Column("received_at", DateTime, nullable=False),
    Column("processed_at", DateTime),
    Column("run_id", Integer),
    # The worker processing the set holds a lease; the token grows with every claim (fencing: a worker
    # whose lease was taken over cannot commit, its token is no longer the set's).
    Column("claim_token", Integer, nullable=False, server_default="0"),
    Column("claimed_by", String(120)),
    Column("lease_until", DateTime),
    Index(None, "name_key"),
    Index(None, "content_sha256"),
    Index(None, "state"),
)

received_files = Table(
    "received_files", metadata,
    Column("id", Integer, primary_key=True),
    Column("set_id", Integer, ForeignKey("file_sets.id"), nullable=False, index=True),
    Column("name", String, nullable=False),
    Column("role", String(2)),  # FI | FS | GO | TD, None when unreadable
    Column("part", Integer),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("archive_path", String, nullable=False),
    Column("received_at", DateTime, nullable=False),
)

declarations = Table(
    "declarations", metadata,
    Column("id", Key, primary_key=True),
    Column("set_id", Integer, ForeignKey("file_sets.id"), nullable=False, index=True),
    Column("ticket", String, nullable=False, unique=True),
    Column("form_index", Integer, nullable=False),
    Column("message_type", String, nullable=False),  # DMFA
    Column("identification", String),
    Column("created_on", Date),
    Column("created_at", String),
    Column("sender_reference", String),
    Column("quarter", String),
    Column("noss_number", String),
    Column("company_id", String),
    Column("trusteeship", Integer),
    Column("net_owed_declared", BigInteger),
    Column("net_owed_computed", BigInteger),
    Column("persons", Integer, nullable=False, default=0),
    Column("worker_records", Integer, nullable=False, default=0),
    Column("accepted", Boolean, nullable=False),
    Column("result_code", Integer, nullable=False),
    Column("line", Integer),
    Column("current_version", Integer, nullable=False, server_default="1"),
    Column("parameter_versions", Text),  # JSON: the calculation parameters used ("name@valid_from")
    Index(None, "noss_number", "quarter"),
)

# The staging tables below (natural_persons … deductions) hold a declaration's rows, written in bulk with
# keys the writer takes from reserved blocks, every parent before its children in one transaction, and
# deleted children first. They declare no foreign keys: on PostgreSQL the checks of the 1.4 million
# references of a 100 000-worker set cost a quarter of its processing time (the referential triggers
# run per row, also under COPY) and guard nothing the writer does not already ensure.
natural_persons = Table(
    "natural_persons", metadata,
    Column("id", Key, primary_key=True),
    Column("declaration_id", BigInteger, nullable=False, index=True),
    Column("set_id", Integer, nullable=False),
    Column("sequence", Integer),
    Column("insz", String, nullable=False, index=True),
    Column("name", String),
    Column("first_name", String),
    Column("line", Integer, nullable=False),
)

worker_records = Table(
    "worker_records", metadata,
    Column("id", Key, primary_key=True),
    Column("person_id", BigInteger, nullable=False, index=True),
    Column("declaration_id", BigInteger, nullable=False, index=True),
    Column("set_id", Integer, nullable=False),
    Column("employer_class", String),
    Column("worker_code", String, nullable=False),
    Column("quarter_start", Date),
    Column("quarter_end", Date),
    Column("border", Integer),
    Column("activity_with_risk", Integer),
    Column("local_unit_id", String),
    Column("line", Integer, nullable=False),
    # Versions of the declaration this line belongs to: from version_from until version_to (excluded);
    # a modification closes a changed or removed line and adds the new one (the current view: version_to NULL).
    Column("version_from", Integer, nullable=False, server_default="1"),
    Column("version_to", Integer),
)

occupations = Table(
    "occupations", metadata,
    Column("id", Key, primary_key=True),
    Column("worker_record_id", BigInteger, nullable=False, index=True),
    Column("set_id", Integer, nullable=False),
    Column("sequence", Integer),
    Column("starting_date", Date),
    Column("ending_date", Date),
    Column("joint_committee", String),
    Column("working_days_system", Integer),
    Column("contract_type", Integer),
    Column("ref_mean_working_hours", Integer),
    Column("mean_working_hours", Integer),
    Column("local_unit_id", String),
    Column("line", Integer, nullable=False),
)

services = Table(
    "services", metadata,
    Column("id", Key, primary_key=True),
    Column("occupation_id", BigInteger, nullable=False, index=True),
    Column("set_id", Integer, nullable=False),
    Column("sequence", Integer),
    Column("code", String, nullable=False),
    Column("days", Integer),
    Column("hours", Integer),
    Column("line", Integer, nullable=False),
)

remunerations = Table(
    "remunerations", metadata,
    Column("id", Key, primary_key=True),
    Column("occupation_id", BigInteger, nullable=False, index=True),
    Column("set_id", Integer, nullable=False),
    Column("sequence", Integer),
    Column("code", String, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("bonus_frequency", Integer),
    Column("percentage_paid", Integer),
    Column("line", Integer, nullable=False),
)

_UNRELATED = text("worker_record_id IS NULL")

contributions = Table(
    "contributions", metadata,
    Column("id", Key, primary_key=True),
    Column("declaration_id", BigInteger, nullable=False),
    Column("worker_record_id", BigInteger, index=True),  # None for employer-level contributions
    Column("set_id", Integer, nullable=False),
    Column("worker_code", String, nullable=False),
    Column("contribution_type", String),
    Column("basis", BigInteger),
    Column("amount", BigInteger, nullable=False),
    Column("line", Integer, nullable=False),
    Column("kind", String, nullable=False),  # worker | student | unrelated
    # A worker line's contributions are found by worker_record_id; by declaration, only the employer-level
    # ones (a handful) are indexed: an index of every row's declaration_id cost ~4 % of a large run on SQLite.
    Index("ix_contributions_unrelated", "declaration_id", sqlite_where=_UNRELATED, postgresql_where=_UNRELATED),
)

deductions = Table(
    "deductions", metadata,
    Column("id", Key, primary_key=True),
    Column("declaration_id", BigInteger, nullable=False, index=True),
    Column("worker_record_id", BigInteger),
    Column("occupation_id", BigInteger),
    Column("set_id", Integer, nullable=False),
    Column("code", String, nullable=False),
    Column("basis", BigInteger),
    Column("amount", BigInteger),
    Column("line", Integer, nullable=False),
)

anomalies = Table(
    "anomalies", metadata,
    Column("id", Integer, primary_key=True),
    Column("set_id", Integer, ForeignKey("file_sets.id"), nullable=False, index=True),
    Column("declaration_id", BigInteger, index=True),  # None for file-level (ACRF) problems
    Column("code", String, nullable=False),
    Column("anomaly_class", String, nullable=False),
    Column("message", Text),
    Column("tag", String),
    Column("value", String),
    Column("line", Integer),
    Column("column", Integer),
    Column("path", Text),  # JSON list of [label, value] pairs
)

outbound_messages = Table(
    "outbound_messages", metadata,
    Column("id", Integer, primary_key=True),
    Column("set_id", Integer, ForeignKey("file_sets.id"), index=True),
    Column("mailbox", String(6), nullable=False),
    Column("folder", String(8), nullable=False),  # OUT | OUTTEST
    Column("kind", String(4), nullable=False),  # ACRF | NOTI | DMNO
    Column("name", String(80), nullable=False),
    Column("body_path", String, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),  # pending | written
    Column("created_at", DateTime, nullable=False),
    Column("written_at", DateTime),
    Column("pushed_at", DateTime),  # uploaded to the sender's SFTP mailbox with its GO marker
    Column("push_failures", Integer, nullable=False, server_default="0"),
    Column("push_next_at", DateTime),  # no upload attempt before this (backoff after failures)
    Column("push_error", Text),
    Column("signature_name", String(80)),  # the FS file written beside it, when we sign answers
    UniqueConstraint("mailbox", "folder", "name"),
)

pulled_files = Table(
    "pulled_files", metadata,
    Column("id", Integer, primary_key=True),
    Column("mailbox", String(6), nullable=False),
    Column("folder", String(8), nullable=False),  # IN | INTEST
    Column("name", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("remote_mtime", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("state", String(10), nullable=False),  # pulled (in the inbox) | removed (gone from the remote)
    Column("pulled_at", DateTime, nullable=False),
    Column("removed_at", DateTime),
    UniqueConstraint("mailbox", "folder", "name", "size", "remote_mtime"),
)

audit_events = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False),
    Column("event", String(30), nullable=False),
    Column("set_id", Integer, index=True),
    Column("ticket", String(20)),
    Column("detail", Text),
    Column("chain_hash", String(64)),  # SHA-256 linking it to the entry before (store/audit.py)
)

STAGING_TABLES = (natural_persons, worker_records, occupations, services, remunerations, contributions,
                  deductions)
# Rows of these tables are referenced by nobody: the database numbers them, the writer leaves ``id`` out.
LEAF_TABLES = (services, remunerations, contributions, deductions)

# --- Dimona and the personnel file ---------------------------------------------------------------

dimona_declarations = Table(
    "dimona_declarations", metadata,
    Column("id", Integer, primary_key=True),
    Column("set_id", Integer, ForeignKey("file_sets.id"), nullable=False, index=True),
    Column("ticket", String(20), nullable=False, unique=True),
    Column("form_index", Integer, nullable=False),
    Column("action", String(8), nullable=False),  # IN | OUT | UPDATE | CANCEL | DAILY
    Column("period_id", String, index=True),  # the period declared, or created for an accepted IN
    Column("noss_number", String),
    Column("company_id", String),
    Column("insz", String, index=True),
    Column("worker_type", String),
    Column("joint_committee", String),
    Column("starting_date", Date),
    Column("starting_hour", String),
    Column("ending_date", Date),
    Column("ending_hour", String),
    Column("planned_hours", Integer),
    Column("planned_days", Integer),
    Column("sender_reference", String),
    Column("accepted", Boolean, nullable=False),
    Column("result_code", Integer, nullable=False),
    Column("line", Integer),
)

# The personnel file: one row per Dimona period as it stands now ...
employment_periods = Table(
    "employment_periods", metadata,
    Column("id", Integer, primary_key=True),
    Column("period_id", String(12), nullable=False, unique=True),
    Column("noss_number", String, index=True),
    Column("company_id", String),
    Column("insz", String(11), nullable=False, index=True),
    Column("worker_type", String, nullable=False),
    Column("joint_committee", String),
    Column("starting_date", Date, nullable=False),
    Column("starting_hour", String),
    Column("ending_date", Date),
    Column("ending_hour", String),
    Column("planned_hours", Integer),
    Column("is_cancelled", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("declaration_id", Integer, nullable=False),  # the accepted declaration that made this version
)

# ... and every version it went through (full history).
employment_period_versions = Table(
    "employment_period_versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("period_id", String(12), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("action", String(8), nullable=False),
    Column("declaration_id", Integer, nullable=False),
    Column("worker_type", String, nullable=False),
    Column("joint_committee", String),
    Column("starting_date", Date, nullable=False),
    Column("starting_hour", String),
    Column("ending_date", Date),
    Column("ending_hour", String),
    Column("planned_hours", Integer),
    Column("is_cancelled", Boolean, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    UniqueConstraint("period_id", "version"),
)

# Anomalies name the declaration they concern by its ticket, whatever the message type.
anomalies.append_column(Column("ticket", String(20), index=True))

# --- Social-risk declarations (DRS) ---------------------------------------------------------------

risk_declarations = Table(
    "risk_declarations", metadata,
    Column("id", Integer, primary_key=True),
    Column("set_id", Integer, ForeignKey("file_sets.id"), nullable=False, index=True),
    Column("ticket", String(20), nullable=False, unique=True),
    Column("form_index", Integer, nullable=False),
    Column("scenario", String(7), nullable=False, index=True),
    Column("risk_codes", String),  # space-separated IdentificationOfRisk values
    Column("sender_reference", String),
    Column("noss_number", String),
    Column("company_id", String),
    Column("insz", String, index=True),
    Column("worker_code", String),
    Column("joint_committee", String),
    Column("risk_starting_date", Date),
    Column("last_working_day", Date),
    Column("work_recovery_date", Date),
    Column("accident_date", Date),
    Column("occupation_starting_date", Date),
    Column("occupation_ending_date", Date),
    Column("reference_start", Date),
    Column("reference_end", Date),
    Column("remuneration_time_unit", Integer),
    Column("remuneration_basis_amount", BigInteger),  # cents
    Column("remuneration_cycle", Integer),
    Column("lost_hours", Integer),  # hundredths
    Column("lost_wage", BigInteger),  # cents
    Column("details", Text),  # JSON list of [path, value]: every other declared zone
    Column("accepted", Boolean, nullable=False),
    Column("result_code", Integer, nullable=False),
    Column("line", Integer),
)

# --- DmfA modifications ---------------------------------------------------------------------------

# One row per modification (DMWA form) of a DmfA declaration, accepted or refused.
declaration_versions = Table(
    "declaration_versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("declaration_id", BigInteger, index=True),  # the modified declaration; None when not identified
    Column("version", Integer),  # the version it made; None when refused
    Column("set_id", Integer, ForeignKey("file_sets.id"), nullable=False, index=True),
    Column("ticket", String(20), nullable=False, unique=True),
    Column("form_index", Integer, nullable=False),
    Column("quarter", String),
    Column("noss_number", String),
    Column("company_id", String),
    Column("sender_pid", String),  # EmployerDeclarationPID as sent
    Column("justification", Text),
    Column("lines_added", Integer, nullable=False, default=0),
    Column("lines_changed", Integer, nullable=False, default=0),
    Column("lines_removed", Integer, nullable=False, default=0),
    Column("accepted", Boolean, nullable=False),
    Column("result_code", Integer, nullable=False),
    Column("line", Integer),
)

# --- Benefits computed from social-risk declarations ---------------------------------------------------

benefit_calculations = Table(
    "benefit_calculations", metadata,
    Column("id", Integer, primary_key=True),
    Column("risk_declaration_id", Integer, ForeignKey("risk_declarations.id"), nullable=False, index=True),
    Column("kind", String, nullable=False),  # FULL_UNEMPLOYMENT, TEMPORARY_UNEMPLOYMENT, SICKNESS, MATERNITY, …
    Column("phase", String),
    Column("daily_amount", String, nullable=False),  # EUR, exact decimal text (to the cent)
    Column("daily_basis", String, nullable=False),  # EUR, 4 decimals
    Column("cap_applied", Boolean, nullable=False),
    Column("minimum_applied", Boolean, nullable=False),
    Column("employer_supplement", String, nullable=False),
    Column("paid_days_per_week", Integer),
    Column("parameters", Text, nullable=False),  # JSON list of parameter versions used ("name@valid_from")
    Column("notes", Text),
)

# Where our calculation replaces a declared contribution: the figures used downstream are these.
contribution_corrections = Table(
    "contribution_corrections", metadata,
    Column("id", Integer, primary_key=True),
    Column("declaration_id", BigInteger, nullable=False, index=True),
    Column("insz", String, nullable=False),
    Column("employer_class", String),
    Column("worker_code", String),  # the worker line's code
    Column("contribution_code", String, nullable=False),
    Column("contribution_type", String),
    Column("declared_basis", BigInteger),
    Column("declared_amount", BigInteger),  # None: not declared
    Column("corrected_basis", BigInteger),
    Column("corrected_amount", BigInteger, nullable=False),
)

# --- Facts delivered to institutions ---------------------------------------------------------------

# One event per accepted fact, in commit order: a DmfA declaration (new) or modification (changed),
# a Dimona period version (new / changed / cancelled), a social-risk declaration (new). Extracts expand
# an event into records (a DmfA event into its worker lines) when they are written.
fact_events = Table(
    "fact_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),  # dmfa | dimona | risk
    Column("mutation", String(10), nullable=False),  # new | changed | cancelled
    Column("ticket", String(20), nullable=False),  # the declaration (or modification) it comes from
    Column("set_id", Integer, nullable=False),
    Column("environment", String(1), nullable=False),  # R | T | S, of the set
    Column("recorded_at", DateTime, nullable=False),
)

extracts = Table(
    "extracts", metadata,
    Column("id", Integer, primary_key=True),
    Column("institution", String(40), nullable=False),
    Column("name", String(80), nullable=False),
    Column("environment", String(1), nullable=False),
    Column("first_event", Integer, nullable=False),
    Column("last_event", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("backfill", Boolean, nullable=False),
    Column("body_path", String, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("state", String(10), nullable=False),  # pending | written
    Column("created_at", DateTime, nullable=False),
    Column("written_at", DateTime),
    Column("pushed_at", DateTime),
    Column("push_failures", Integer, nullable=False, server_default="0"),
    Column("push_next_at", DateTime),
    Column("push_error", Text),
    UniqueConstraint("institution", "name"),
)

# Per institution: every event up to last_event is in one of its extracts (or matched none of its
# subscriptions). It moves in the same transaction that records the extract.
institution_marks = Table(
    "institution_marks", metadata,
    Column("institution", String(40), primary_key=True),
    Column("last_event", Integer, nullable=False),
    Column("since", DateTime, nullable=False),
)

# --- chunked sets -----------------------------------------------------------------------------------

# A large DmfA set cut into chunks (cbss_batch/chunking): where its forms lie and which keys and
# tickets its declarations get; the set stays ``received`` until its last chunk is done and a
# worker finishes it (one ACRF, one NOTI).
chunk_plans = Table(
    "chunk_plans", metadata,
    Column("set_id", Integer, ForeignKey("file_sets.id"), primary_key=True),
    Column("persons", BigInteger, nullable=False),
    Column("forms", Integer, nullable=False),
    Column("first_declaration_id", BigInteger, nullable=False),  # form n gets id first + n - 1
    Column("first_ticket", BigInteger, nullable=False),  # and ticket counter first + n - 1
    Column("ticket_day", Date, nullable=False),
    Column("layout", Text, nullable=False),  # JSON: prefix and forms (offsets and lines)
    Column("state", String(8), nullable=False),  # chunked | whole (a chunk failed: the set is processed whole)
    Column("content_sha256", String(64), nullable=False),  # of the FI parts, checked when the set was cut
    Column("content_bytes", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

# Chunk 0 is the schema check of the whole document; chunks 1… each stage a run of persons.
set_chunks = Table(
    "set_chunks", metadata,
    Column("set_id", Integer, ForeignKey("file_sets.id"), primary_key=True),
    Column("chunk", Integer, primary_key=True, autoincrement=False),
    Column("state", String(8), nullable=False),  # pending | done | failed
    Column("start_offset", BigInteger, nullable=False),
    Column("end_offset", BigInteger),  # None: to the end of the document
    Column("line", BigInteger, nullable=False),
    Column("form", Integer, nullable=False),  # the form the chunk starts in (1-based)
    Column("persons", Integer, nullable=False),  # persons the chunk must read
    Column("form_ends", Integer, nullable=False),  # forms that must end in it
    Column("claim_token", Integer, nullable=False, server_default="0"),
    Column("claimed_by", String(120)),
    Column("lease_until", DateTime),
    Column("result", Text),  # JSON: the chunk's part of each declaration, or why it failed
    Column("finished_at", DateTime),
    Index("ix_set_chunks_state", "state"),
)
