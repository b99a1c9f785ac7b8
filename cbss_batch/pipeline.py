"""One processing cycle: receive every ready set, check it, load it, answer it, deliver the answers.

Order of effects for a set (each step survives a crash of the next):
1. every received byte is archived (content-addressed) — before anything else;
2. the set is recorded (ticket, files, hashes) in one transaction; then its inbox files are removed;
3. checks, streamed validation, staging rows, declaration outcomes, the ACRF and the NOTI bodies and
   their outbound records are committed together in one transaction (or rolled back together);
4. answers are delivered to the outbox (temporary name, rename, GO marker) and marked written.
A set left in state ``received`` by a crash is processed again from the archive on the next run.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine

from cbss_batch import loading, modifications, notify, outbox, personnel, risks
from cbss_batch.archive import archive_file
from cbss_batch.calculate.parameters import project_parameters
from cbss_batch.clock import Clock
from cbss_batch.collector import fewer_collections
from cbss_batch.columns import fill_columns
from cbss_batch.config import Settings
from cbss_batch.durable import BackgroundDigest, sha256_of
from cbss_batch.errors import BatchError, RejectedFile
from cbss_batch.faults import crash_point
from cbss_batch.intake import Candidate, read_name, scan_inbox
from cbss_batch.names import FileName, answer_name, check_name_context
from cbss_batch.parse import dimona, dmfa, dmfa_update, drs
from cbss_batch.parse.dmfa import InvalidDocument
from cbss_batch.records import Finding
from cbss_batch.schemas.files import DIMONA_SCHEMA, DMFA_SCHEMA, known_elements, scenario_schema_name, schema
from cbss_batch.senders import Mandates, Sender, load_senders
from cbss_batch.signatures import load_public_key, sign_files, signing_key, verify_file
from cbss_batch.store import claims, queries
from cbss_batch.store.session import STORE_ERRORS
from cbss_batch.xmlcheck import ParallelCheck
from cbss_batch.xmlsafe import ChainedReader, diagnose, screen_prolog

log = logging.getLogger(__name__)

ROOT_TYPES = {"DmfAOriginal": "DMFA", "DmfAUpdate": "DMWA", "Dimona": "DIMN", "DmfAConsultationRequest": "DMRQ"}


@dataclass(frozen=True, slots=True)
class MessageKind:
    """How one file type is validated and staged."""

    schema: str  # file name in xsd/
    root: str
    blocks: tuple[str, ...]  # repeating elements the validator clears as it streams
    load: Callable[..., Any]  # (conn, source, *, set_id, schema_path, settings, clock, paths, mandates) -> loaded


def _load_dmfa_rows(conn: Connection, source: IO[bytes], *, set_id: int, schema_path: Path | None,
                    settings: Settings, clock: Clock, paths: list[Path], mandates: Mandates | None) -> Any:
    return loading.load_dmfa(conn, source, set_id=set_id, schema_path=schema_path, today=clock.today(),
                             mandates=mandates, parameters=project_parameters(settings.parameters),
                             batch_rows=settings.batch_rows,
                             relation_class=settings.missing_employment_relation_class,
                             person_counts=dmfa.count_persons(paths) if settings.calculate_contributions else None,
                             structural_reduction=settings.structural_reduction)


def _load_dimona_rows(conn: Connection, source: IO[bytes], *, set_id: int, schema_path: Path | None,
                      settings: Settings, clock: Clock, paths: list[Path], mandates: Mandates | None) -> Any:
    return personnel.load_dimona(conn, source, set_id=set_id, schema_path=schema_path, today=clock.today(),
                                 now=clock.now(), mandates=mandates)


def _risk_kind(settings: Settings, root: str) -> MessageKind:
    """The scenario is the root element: its own schema, the same loader for every scenario."""

    def load(conn: Connection, source: IO[bytes], *, set_id: int, schema_path: Path | None, settings: Settings,
             clock: Clock, paths: list[Path], mandates: Mandates | None) -> Any:
        return risks.load_risks(conn, source, root=root, set_id=set_id, schema_path=schema_path,
                                today=clock.today(), relation_class=settings.missing_employment_relation_class,
                                mandates=mandates, parameters=project_parameters(settings.parameters))

    return MessageKind(scenario_schema_name(settings.xsd, root), root, drs.STREAMED_BLOCKS, load)


def _load_modification_rows(conn: Connection, source: IO[bytes], *, set_id: int, schema_path: Path | None,
                            settings: Settings, clock: Clock, paths: list[Path], mandates: Mandates | None) -> Any:
    return modifications.load_modifications(conn, source, set_id=set_id, schema_path=schema_path,
                                            today=clock.today(), batch_rows=settings.batch_rows, mandates=mandates)


KINDS = {
    "DMFA": MessageKind(DMFA_SCHEMA, dmfa.ROOT, dmfa.STREAMED_BLOCKS, _load_dmfa_rows),
    "DMWA": MessageKind(modifications.DMWA_SCHEMA, dmfa_update.ROOT, dmfa_update.STREAMED_BLOCKS,
                        _load_modification_rows),
    "DIMN": MessageKind(DIMONA_SCHEMA, dimona.ROOT, dimona.STREAMED_BLOCKS, _load_dimona_rows),
}


@dataclass(slots=True)
class RunSummary:
    """What one cycle did."""

    sets: int = 0
    sets_accepted: int = 0
    sets_rejected: int = 0
    sets_cancelled: int = 0
    declarations_accepted: int = 0
    declarations_refused: int = 0
    answers_written: int = 0
    seconds: float = 0.0
    tickets: list[str] = field(default_factory=list)
    mailboxes: int = 0
    sets_pulled: int = 0
    answers_pushed: int = 0
    mailbox_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class SetOutcome:
    ticket: str
    state: str  # accepted | rejected | cancelled
    declarations_accepted: int = 0
    declarations_refused: int = 0


Progress = Callable[[str], None]


RUN_LEASE_SECONDS = 60.0  # a run's claim on the set it processes; a heartbeat extends it


class RunInProgress(BatchError):
    """Another run holds the workspace."""


@contextmanager
def _run_lock(settings: Settings, wait: bool = False) -> Iterator[None]:
    """One run per workspace at a time: two would race for the same inbox files."""
    settings.work.mkdir(parents=True, exist_ok=True)
    path = settings.work / "run.lock"
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgress(f"another cbss-batch run is working on this workspace (lock {path}); "
                                "wait for it to finish") from None
        yield
    finally:
        handle.close()


def run_cycle(settings: Settings, engine: Engine, clock: Clock, progress: Progress | None = None, *,
              mailboxes: tuple[str, ...] = (), job: str | None = None, wait: bool = False) -> RunSummary:
    """Pull from the SFTP mailboxes, process every ready set of the inbox, deliver and push every answer.

    ``mailboxes`` limits pulling and pushing to those senders (all when empty); ``wait`` waits for a
    run in progress on the same workspace instead of refusing to start.
    """
    with _run_lock(settings, wait):
        return _run_cycle(settings, engine, clock, progress, mailboxes, job)


def _run_cycle(settings: Settings, engine: Engine, clock: Clock, progress: Progress | None,
               mailboxes: tuple[str, ...] = (), job: str | None = None) -> RunSummary:
    started = time.monotonic()
    summary = RunSummary()
    with engine.begin() as conn:
        run_id = queries.start_run(conn, "run", clock.now(), job=job)
    from cbss_batch.exchange import Exchange  # paramiko is loaded only by the commands that pull and push
    from cbss_batch.worker import process_claimed, process_free_chunks, run_owner_prefix, worker_name

    owner = f"run {worker_name()}"
    stale = run_owner_prefix()  # a claim of an earlier run here is dead: this run holds the workspace lock

    exchange = Exchange(settings, engine, os.environ, mailboxes)
    try:
        exchange.pull(clock.now())
        _clear_leftovers(settings, engine)
        process_free_chunks(settings, engine, clock, owner, RUN_LEASE_SECONDS)  # of sets workers cut and left
        for set_id in _resumable(engine):
            resumed = process_claimed(settings, engine, clock, owner, RUN_LEASE_SECONDS, set_id, stale)
            if resumed is not None:
                _count(summary, resumed)
        go_timeout = timedelta(hours=settings.intake.go_timeout_hours)
        # File ages are physical time, whatever processing date the clock is fixed to.
        for candidate in scan_inbox(settings.inbox, now=datetime.now(), go_timeout=go_timeout):
            if progress:
                progress(candidate.answer_name)
            try:
                outcome = receive(settings, engine, clock, candidate, run_id)
            except FileNotFoundError as exc:
                log.warning("%s changed while being read (%s); it is taken on the next run", candidate.answer_name,
                            exc.filename)
                continue
            if outcome is None:
                continue
            if isinstance(outcome, int):
                claimed = process_claimed(settings, engine, clock, owner, RUN_LEASE_SECONDS, outcome, stale)
                if claimed is None:
                    continue
                outcome = claimed
            _count(summary, outcome)
        summary.answers_written = deliver_pending(settings, engine, clock)
        exchange.push(clock.now())
    except BaseException as exc:
        exchange.close()
        with engine.begin() as conn:
            queries.finish_run(conn, run_id, now=clock.now(), sets=summary.sets,
                               accepted=summary.declarations_accepted, refused=summary.declarations_refused,
                               status="failed", message=str(exc)[:500])
        raise
    exchange.close()
    summary.mailboxes = exchange.report.mailboxes
    summary.sets_pulled = exchange.report.sets_pulled
    summary.answers_pushed = exchange.report.answers_pushed
    summary.mailbox_errors = exchange.report.errors
    summary.seconds = round(time.monotonic() - started, 3)
    with engine.begin() as conn:
        queries.finish_run(conn, run_id, now=clock.now(), sets=summary.sets, accepted=summary.declarations_accepted,
                           refused=summary.declarations_refused, status="partial" if summary.mailbox_errors else "ok",
                           message="; ".join(summary.mailbox_errors)[:500] or None)
    log.info("run: %d sets (%d accepted, %d rejected, %d cancelled), %d declarations accepted, %d refused, "
             "%d answers written in %.2f s", summary.sets, summary.sets_accepted, summary.sets_rejected,
             summary.sets_cancelled, summary.declarations_accepted, summary.declarations_refused,
             summary.answers_written, summary.seconds,
             extra={"stage": "run", "run_id": run_id, **{k: v for k, v in summary.as_dict().items() if k != "tickets"}})
    return summary


def _count(summary: RunSummary, outcome: SetOutcome) -> None:
    summary.sets += 1
    summary.tickets.append(outcome.ticket)
    summary.declarations_accepted += outcome.declarations_accepted
    summary.declarations_refused += outcome.declarations_refused
    if outcome.state == "accepted":
        summary.sets_accepted += 1
    elif outcome.state == "rejected":
        summary.sets_rejected += 1
    else:
        summary.sets_cancelled += 1


def _resumable(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return queries.sets_in_state(conn, "received")


def _clear_leftovers(settings: Settings, engine: Engine) -> None:
    """Remove inbox files of sets recorded before a crash interrupted their removal."""
    with engine.connect() as conn:
        leftovers = [(row, queries.set_files(conn, row.id)) for row in queries.uncleared_sets(conn)]
    for row, files in leftovers:
        folder = settings.inbox / row.mailbox / row.folder
        for f in files:
            path = folder / f.name
            if path.is_file() and sha256_of(path) == f.sha256:
                path.unlink()
        with engine.begin() as conn:
            queries.mark_inbox_cleared(conn, row.id)


ARCHIVE_THREADS = 2  # the parts archived at once
ARCHIVE_PARALLEL_BYTES = 8 << 20  # parts archived side by side from this size


def _archive_all(settings: Settings, candidate: Candidate) -> list[tuple[str, int, Path]]:
    """Archive the set's files in their order; the large parts of a multi-part set side by side first
    (copying, hashing and syncing run outside the interpreter lock: two threads archive a 9-part set in
    about half the time), the small files (the GO) once they are all archived, as one by one."""
    files = candidate.files
    large = [i for i, item in enumerate(files) if item.path.stat().st_size >= ARCHIVE_PARALLEL_BYTES]
    done: dict[int, tuple[str, int, Path]] = {}
    if len(large) >= 2:
        with ThreadPoolExecutor(max_workers=ARCHIVE_THREADS, thread_name_prefix="archive") as pool:
            done = dict(zip(large, pool.map(lambda i: archive_file(files[i].path, settings.archive), large),
                            strict=True))
    return [done[i] if i in done else archive_file(item.path, settings.archive) for i, item in enumerate(files)]


def receive(settings: Settings, engine: Engine, clock: Clock, candidate: Candidate,
            run_id: int | None) -> SetOutcome | int | None:
    """Archive and record a candidate set; refused or cancelled sets are answered at once.

    Returns the set id of a set to process, the outcome of a set already decided, or None.
    """
    archived = []
    for item, (sha, size, path) in zip(candidate.files, _archive_all(settings, candidate), strict=True):
        name = item.name
        archived.append(queries.ArchivedFile(item.received_name, name.prefix if name else None,
                                             name.part if name else None, size, sha, str(path)))
    log.info("archived %d file(s) of %s/%s %s", len(archived), candidate.mailbox, candidate.folder,
             candidate.answer_name, extra={"stage": "archived", "mailbox": candidate.mailbox,
                                           "folder": candidate.folder, "set_name": candidate.answer_name})
    crash_point("after-archive")  # archived, not recorded: the files are still in the inbox
    key = candidate.key
    environment = key.environment if key else ("R" if candidate.folder == "IN" else "T")
    now = clock.now()
    with engine.begin() as conn:
        existing = queries.uncleared_set(conn, candidate.mailbox, candidate.folder, candidate.answer_name,
                                         {a.sha256 for a in archived})
        if existing is not None:
            set_id = existing
            state = queries.set_row(conn, set_id).state
        else:
            ticket = queries.new_ticket(conn, clock.today())
            state = "cancelled" if candidate.action == "cancel" else "received"
            set_id = queries.insert_set(
                conn, ticket=ticket, mailbox=candidate.mailbox, folder=candidate.folder,
                name_key=str(key) if key else None, answer_name=candidate.answer_name,
                file_type=key.file_type if key else None, environment=environment,
                parts=_announced_parts(candidate), files=archived, now=now, run_id=run_id)
            queries.audit(conn, "received", now=now, set_id=set_id, ticket=ticket,
                          detail=f"{candidate.mailbox}/{candidate.folder} {candidate.answer_name} "
                                 f"({len(archived)} files)")
            if state == "cancelled":
                queries.finish_set(conn, set_id, state="cancelled", result_code=0, error_codes=(),
                                   reason="cancelled by a TD file", now=now)
                queries.audit(conn, "cancelled", now=now, set_id=set_id, ticket=ticket)
    crash_point("after-record")  # recorded, inbox files still there
    for item in candidate.files:
        item.path.unlink(missing_ok=True)
    with engine.begin() as conn:
        queries.mark_inbox_cleared(conn, set_id)
        ticket = queries.set_row(conn, set_id).ticket
    log.info("set %s %s/%s %s recorded; its inbox files removed", ticket, candidate.mailbox, candidate.folder,
             candidate.answer_name, extra={"ticket": ticket, "stage": "received", "set_id": set_id})
    if existing is not None and state != "received":
        return None
    if state == "cancelled":
        log.info("set %s %s cancelled by its TD file", ticket, candidate.answer_name,
                 extra={"ticket": ticket, "stage": "cancelled", "set_id": set_id})
        return SetOutcome(ticket, "cancelled")
    if candidate.action not in ("refuse-name", "refuse-no-go"):
        return set_id
    if candidate.action == "refuse-name":
        error = candidate.files[0].error
        codes = [error.code if error else "129"]
        reason = error.reason if error else "answers are not accepted in an inbox"
    else:
        codes = _no_go_codes(candidate.mailbox, [key.sender] if key else [])
        reason = "no GO file arrived for these files"
    try:
        return _reject(settings, engine, clock, set_id, codes, reason)
    except claims.LeaseLost as exc:  # recorded as received, so a worker may have claimed it in between
        log.info("%s", exc, extra={"ticket": ticket, "set_id": set_id})
        return None


def _no_go_codes(mailbox: str, senders: list[str]) -> list[str]:
    """ACRF-130 for files whose GO never came, after ACRF-108 when they name another sender than the mailbox's."""
    return ["108", "130"] if any(sender != mailbox for sender in senders) else ["130"]


def _announced_parts(candidate: Candidate) -> int | None:
    go = candidate.go
    return go.name.total if go and go.name else None


def process_set(settings: Settings, engine: Engine, clock: Clock, set_id: int, *, cut: bool = False) -> SetOutcome:
    """Check, validate, load and answer one recorded set; never raises for a bad set.

    ``cut``: a large DmfA set may be cut into chunks for several workers (cbss_batch/chunking); the
    outcome is then ``chunked`` and the set is finished once its chunks are done.
    """
    try:
        return _process(settings, engine, clock, set_id, cut)
    except RejectedFile as exc:
        return _reject(settings, engine, clock, set_id, list(exc.codes) or ["088"], exc.reason)
    except (BatchError, *STORE_ERRORS):
        raise  # the run cannot go on (configuration, database): stop with a clear message
    except Exception as exc:
        # A defect or an unexpected input must not stop the run: the set is refused and kept for reprocessing.
        log.exception("set %d could not be processed", set_id, extra={"stage": "failed", "set_id": set_id})
        return _reject(settings, engine, clock, set_id, ["163"], f"processing failed: {exc.__class__.__name__}",
                       state="failed")


def _process(settings: Settings, engine: Engine, clock: Clock, set_id: int, cut: bool = False) -> SetOutcome:
    from cbss_batch.chunking import work as chunking

    with engine.connect() as conn:
        row = queries.set_row(conn, set_id)
        files = queries.set_files(conn, set_id)
        plan = chunking.plan_of(conn, set_id)
    if plan is not None and plan.state == "chunked":
        return _finish_chunked(settings, engine, clock, row, plan, files, cut)
    names = {f.name: read_name(Path(f.name)).name for f in files}
    go = next((n for n in names.values() if n and n.prefix == "GO"), None)
    if go is None:  # a refused name or a set without GO whose answer a crash interrupted: answer it now
        error = next((e for f in files if (e := read_name(Path(f.name)).error) is not None), None)
        codes = [error.code] if error else _no_go_codes(row.mailbox, [n.sender for n in names.values() if n])
        return _reject(settings, engine, clock, set_id, codes,
                       error.reason if error else "no GO file arrived for these files")
    sender = load_senders(settings.senders).get(row.mailbox)
    codes = _set_level_codes(settings, clock, row, go, files, names)
    reason = "the set fails the file checks"
    if sender is None and settings.intake.unregistered_senders == "refuse":
        codes.append("103")
        reason = f"sender {row.mailbox} is not registered (config/senders/{row.mailbox}.toml)"
    elif go.environment == "R" and settings.intake.signature_required_in_production:
        problem = ("a signature (FS file) is missing for a part of this production set"
                   if "122" in codes or "124" in codes else _signature_problem(sender, files, names))
        if problem is not None:
            codes.append("125")
            reason = problem
    if codes:
        return _reject(settings, engine, clock, set_id, codes, reason)
    parts = sorted(((name.part or 1, f) for f in files if (name := names[f.name]) and name.prefix == "FI"),
                   key=lambda pair: pair[0])
    paths = [Path(f.archive_path) for _, f in parts]
    size = sum(f.size for _, f in parts)
    # The content's hash (a duplicate of an accepted set's content is refused): a single part's is the one
    # its archiving computed; several parts are hashed as one stream alongside the checks and the staging.
    # A duplicate is found before the commit and its staging rolled back.
    digest = BackgroundDigest(paths, known=parts[0][1].sha256 if len(parts) == 1 else None)
    with engine.connect() as conn:
        name_twin = queries.earlier_set_with_name(conn, set_id, row.name_key)
    if name_twin:
        return _reject(settings, engine, clock, set_id, ["133"], f"a set with this name was received before "
                       f"(ticket {name_twin})", duplicate_of=name_twin, content=(digest.result(), size))
    with paths[0].open("rb") as head:
        prolog = screen_prolog(head.read(65536), row.answer_name)
    declared_type = _type_of_root(prolog.root)
    if declared_type is None:
        raise RejectedFile(row.answer_name, f"unknown root element {prolog.root}", ("089",))
    if declared_type != go.file_type:
        raise RejectedFile(row.answer_name, f"the name says {go.file_type} but the document is a "
                                            f"{prolog.root} ({declared_type or 'unknown type'})", ("158",))
    kind = KINDS.get(go.file_type)
    if kind is None and drs.is_scenario_root(prolog.root):
        try:
            kind = _risk_kind(settings, prolog.root)
        except LookupError:
            kind = None
    if kind is None:
        raise RejectedFile(row.answer_name, f"no schema for {go.file_type} messages in this version", ("088",))
    log.info("set %s %s passed the file checks: %s, %d bytes in %d part(s)", row.ticket, row.answer_name,
             prolog.root, size, len(paths), extra={"ticket": row.ticket, "stage": "checked", "set_id": row.id})
    chunks = chunking.cut_set(settings, engine, row, paths, size) if cut and go.file_type == "DMFA" else None
    if chunks is not None:  # the content is hashed meanwhile: a duplicate is refused, not cut
        twin = _content_twin(engine, set_id, digest.result())
        if twin is not None:
            return _reject_twin(settings, engine, clock, set_id, twin, (digest.result(), size))
        chunking.record_plan(settings, engine, clock.now(), clock.today(), row, chunks, (digest.result(), size))
        return SetOutcome(row.ticket, "chunked")
    return _load_set(settings, engine, clock, row, paths, digest, size, kind, sender.mandates if sender else None)


class _DuplicateContent(Exception):
    """The set's content is an accepted set's (ACRF-133): its staging is rolled back."""

    def __init__(self, ticket: str) -> None:
        super().__init__(ticket)
        self.ticket = ticket


def _content_twin(engine: Engine, set_id: int, sha: str) -> str | None:
    with engine.connect() as conn:
        return queries.accepted_set_with_content(conn, set_id, sha)


def _reject_twin(settings: Settings, engine: Engine, clock: Clock, set_id: int, twin: str,
                 content: tuple[str, int]) -> SetOutcome:
    return _reject(settings, engine, clock, set_id, ["133"], f"the same content was accepted before (ticket {twin})",
                   duplicate_of=twin, content=content)


def _fi_paths(files: list[Any]) -> list[Path]:
    parts = [((name.part or 1), Path(f.archive_path)) for f in files
             if (name := read_name(Path(f.name)).name) is not None and name.prefix == "FI"]
    return [path for _, path in sorted(parts)]


def _finish_chunked(settings: Settings, engine: Engine, clock: Clock, row: Any, plan: Any, files: list[Any],
                    cut: bool) -> SetOutcome:
    """The last step of a set cut into chunks: one transaction with every declaration's outcome and the answers."""
    from cbss_batch.chunking import work as chunking

    paths = _fi_paths(files)
    with engine.connect() as conn:
        reason = chunking.needs_whole(conn, row.id)
    if reason is None:
        sender = load_senders(settings.senders).get(row.mailbox)
        try:
            with engine.begin() as conn:
                loaded = chunking.finish_in(conn, settings, clock.today(), row, plan, paths,
                                            sender.mandates if sender else None)
                accepted, refused = commit_loaded(settings, conn, clock, row, loaded, paths, plan.content)
        except InvalidDocument as exc:
            reason = str(exc)
        else:
            log.info("set %s %s accepted: %d declarations accepted, %d refused, %d persons staged by %d chunks",
                     row.ticket, row.answer_name, accepted, refused, loaded.rows, len(plan.plan.chunks),
                     extra={"ticket": row.ticket, "stage": "staged", "set_id": row.id,
                            "declarations_accepted": accepted, "declarations_refused": refused})
            return SetOutcome(row.ticket, "accepted", accepted, refused)
    chunking.abandon(engine, row, plan, reason)
    return _process(settings, engine, clock, row.id, cut)


def _signature_problem(sender: Sender | None, files: list[Any], names: dict[str, FileName | None]) -> str | None:
    """Why the FS files of a production set do not prove its FI parts came from the sender, or None."""
    if sender is None or sender.certificate is None:
        return "no certificate is registered for this sender to verify its signatures"
    key = load_public_key(sender.certificate)
    by_part = {(n.prefix, n.part or 1): f for f in files if (n := names[f.name]) is not None}
    for (prefix, part), fi in sorted(by_part.items()):
        if prefix != "FI":
            continue
        fs = by_part.get(("FS", part))
        if fs is None:
            return f"the signature of part {part} is missing"
        problem = verify_file(key, Path(fi.archive_path), Path(fs.archive_path))
        if problem is not None:
            return f"part {part}: {problem.reason}"
    return None


def _type_of_root(root: str) -> str | None:
    if root in ROOT_TYPES:
        return ROOT_TYPES[root]
    return drs.SCENARIO_TYPES[root[:4]] if drs.is_scenario_root(root) else None


def _set_level_codes(settings: Settings, clock: Clock, row: Any, go: FileName, files: list[Any],
                     names: dict[str, FileName | None]) -> list[str]:
    """Annex-30 codes of the file checks that need no content (PROTOCOL.md §2), in its order."""
    codes: list[str] = []
    if go.sender != row.mailbox or any(n and n.sender != row.mailbox for n in names.values()):
        codes.append("108")
    codes += check_name_context(go, today=clock.today(), max_age_days=settings.intake.max_name_age_days,
                                max_parts=settings.intake.max_parts)
    if go.environment == "R" and row.folder != "IN":
        codes.append("118")
    elif go.environment in ("T", "S") and row.folder != "INTEST":
        codes.append("119")
    total = go.total or 1
    fi_parts = sorted(n.part or 1 for n in names.values() if n and n.prefix == "FI")
    fs_parts = sorted(n.part or 1 for n in names.values() if n and n.prefix == "FS")
    if len(fi_parts) != total:
        codes.append("120")
    elif fi_parts != list(range(1, total + 1)) or any(
            n.total != total for n in names.values() if n and n.prefix == "FI"):
        codes.append("123")
    needs_signature = go.environment == "R" and settings.intake.signature_required_in_production
    if fs_parts or needs_signature:
        if len(fs_parts) != total:
            codes.append("122")
        elif fs_parts != list(range(1, total + 1)):
            codes.append("124")
    fi_files = [f for f in files if names[f.name] and names[f.name].prefix == "FI"]  # type: ignore[union-attr]
    if any(f.size == 0 for f in fi_files):
        codes.append("134")
    if any(f.size > settings.intake.max_part_bytes for f in fi_files):
        codes.append("093")
    return list(dict.fromkeys(codes))


@contextmanager
def chained_reader(paths: list[Path]) -> Iterator[IO[bytes]]:
    """The parts of a set read as one stream, always closed."""
    reader = ChainedReader(paths)
    try:
        yield reader  # type: ignore[misc]
    finally:
        reader.close()


def usable_cpus() -> int:
    """The CPUs this process may run on (``taskset``, a container's cpuset): with one, a second process checking
    the schema only competes with the staging for it (measured: 26.1 s instead of 21.2 s for 100 000 workers)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _load_set(settings: Settings, engine: Engine, clock: Clock, row: Any, paths: list[Path],
              digest: BackgroundDigest, size: int, kind: MessageKind, mandates: Mandates | None) -> SetOutcome:
    schema_path = settings.xsd / kind.schema
    check = (ParallelCheck.start(schema_path, paths, kind.root, kind.blocks)
             if settings.parallel_validation and size >= settings.parallel_validation_min_bytes and usable_cpus() >= 2
             else None)
    try:
        with fewer_collections(), engine.begin() as conn, chained_reader(paths) as source:
            try:
                loaded = kind.load(conn, source, set_id=row.id, schema_path=None if check else schema_path,
                                   settings=settings, clock=clock, paths=paths, mandates=mandates)
            except (ValueError, LookupError, TypeError, AttributeError) as exc:
                # Without the schema in the stream, a structurally wrong document can trip the reader.
                raise InvalidDocument(f"unreadable document: {exc.__class__.__name__}: {exc}") from exc
            if check is not None:
                problem = check.result()
                if problem is not None:
                    raise InvalidDocument(problem)
            twin = queries.accepted_set_with_content(conn, row.id, digest.result())
            if twin is not None:
                raise _DuplicateContent(twin)
            accepted, refused = commit_loaded(settings, conn, clock, row, loaded, paths, (digest.result(), size))
    except _DuplicateContent as exc:
        return _reject_twin(settings, engine, clock, row.id, exc.ticket, (digest.result(), size))
    except InvalidDocument as exc:
        content = (digest.result(), size)
        twin = _content_twin(engine, row.id, content[0])
        if twin is not None:  # an accepted set's bytes that our schema now refuses: still a duplicate
            return _reject_twin(settings, engine, clock, row.id, twin, content)
        log.info("set %s is not a valid document (%s); diagnosing", row.ticket, exc,
                 extra={"ticket": row.ticket, "stage": "validated", "set_id": row.id})
        problems = diagnose(lambda: chained_reader(paths), schema(schema_path),
                            known_elements(settings.xsd), size=content[1], max_tree_bytes=200_000_000)
        if not problems:
            # The document is valid: the failure is ours. The set is kept as failed for reprocessing.
            log.error("set %s is valid but could not be read: %s", row.ticket, exc,
                      extra={"ticket": row.ticket, "stage": "failed", "set_id": row.id})
            return _reject(settings, engine, clock, row.id, ["163"], f"processing failed: {exc}", content=content,
                           state="failed")
        findings = [Finding(code=f"ACRF-{p.code}", message=p.message, tag=p.element, line=p.line, column=p.column)
                    for p in problems]
        return _reject(settings, engine, clock, row.id, [p.code for p in problems], problems[0].message,
                       content=content, findings=findings)
    finally:
        if check is not None:
            check.cancel()
    log.info("set %s %s accepted: %d declarations accepted, %d refused, %d rows staged", row.ticket,
             row.answer_name, accepted, refused, loaded.rows,
             extra={"ticket": row.ticket, "stage": "staged", "set_id": row.id, "declarations_accepted": accepted,
                    "declarations_refused": refused, "rows": loaded.rows})
    return SetOutcome(row.ticket, "accepted", accepted, refused)


def commit_loaded(settings: Settings, conn: Connection, clock: Clock, row: Any, loaded: Any, paths: list[Path],
                  content: tuple[str, int]) -> tuple[int, int]:
    """The end of an accepted set, in its final transaction: anomalies, state, ACRF, NOTI, DMNO, facts, audit.

    Returns the numbers of declarations accepted and refused; RejectedFile (157) when there is none.
    """
    now = clock.now()
    if not loaded.declarations:
        raise RejectedFile(row.answer_name, "the file contains no declaration", ("157",))
    fill_columns(paths, loaded.findings_with_lines())
    accepted = sum(1 for d in loaded.declarations if d.is_accepted)
    refused = len(loaded.declarations) - accepted
    for outcome in loaded.declarations:
        queries.insert_anomalies(conn, row.id, outcome.declaration_id, outcome.findings, ticket=outcome.ticket)
    queries.finish_set(conn, row.id, state="accepted", result_code=1, error_codes=(), reason=None,
                       now=now, content_sha256=content[0], content_bytes=content[1])
    queue_answer(settings, conn, clock, row, "ACRF", notify.acrf_bytes(
        file_name=row.answer_name, ticket=row.ticket, accepted=True, error_codes=(), now=now))
    queue_noti(settings, conn, clock, row, loaded, now)
    for outcome in loaded.declarations:
        body = outcome.dmno_body(now) if hasattr(outcome, "dmno_body") else None
        if body is not None:
            queue_answer(settings, conn, clock, row, "DMNO", body, parts=(1, 1))
    queries.record_facts(conn, loaded.facts(), set_id=row.id, environment=row.environment, now=now)
    crash_point("set-staged")  # everything of the set written, not committed
    queries.audit(conn, "accepted", now=now, set_id=row.id, ticket=row.ticket,
                  detail=f"{accepted} declarations accepted, {refused} refused")
    return accepted, refused


def queue_answer(settings: Settings, conn: Connection, clock: Clock, row: Any, kind: str, body: bytes,
                  parts: tuple[int, int] | None = None) -> None:
    name, path = _answer_slot(settings, conn, clock, row, kind, parts)
    sha, size = outbox.write_body(path, body)
    queries.add_outbound(conn, set_id=row.id, mailbox=row.mailbox, folder=_out_folder(row.environment), kind=kind,
                         name=str(name), body_path=str(path), sha256=sha, size=size, now=clock.now())
    log.info("set %s: %s %s queued", row.ticket, kind, name,
             extra={"ticket": row.ticket, "stage": "queued", "set_id": row.id, "answer": str(name)})


def queue_noti(settings: Settings, conn: Connection, clock: Clock, row: Any, loaded: Any, now: datetime) -> None:
    name, path = _answer_slot(settings, conn, clock, row, "NOTI")
    path.parent.mkdir(parents=True, exist_ok=True)
    notify.write_noti(path, file_name=row.answer_name, set_ticket=row.ticket,
                      forms=(d.noti_form() for d in loaded.declarations), now=now)
    sha, size = outbox.seal_body(path)
    queries.add_outbound(conn, set_id=row.id, mailbox=row.mailbox, folder=_out_folder(row.environment), kind="NOTI",
                         name=str(name), body_path=str(path), sha256=sha, size=size, now=now)
    log.info("set %s: NOTI %s queued", row.ticket, name,
             extra={"ticket": row.ticket, "stage": "queued", "set_id": row.id, "answer": str(name)})


def _answer_slot(settings: Settings, conn: Connection, clock: Clock, row: Any, kind: str,
                 parts: tuple[int, int] | None = None) -> tuple[FileName, Path]:
    folder = _out_folder(row.environment)
    sequence = queries.next_answer_sequence(conn, row.mailbox, folder, clock.today())
    name = answer_name(kind, settings.transfer_point, clock.today(), sequence, row.environment, parts=parts)
    return name, settings.work / row.mailbox / folder / str(name)


def _out_folder(environment: str) -> str:
    return "OUT" if environment == "R" else "OUTTEST"


def _reject(settings: Settings, engine: Engine, clock: Clock, set_id: int, codes: list[str], reason: str, *,
            duplicate_of: str | None = None, content: tuple[str, int] | None = None,
            findings: list[Finding] | None = None, state: str = "rejected") -> SetOutcome:
    """Refuse a whole set: negative ACRF with one ACRF-<code> per problem, nothing staged."""
    now = clock.now()
    codes = list(dict.fromkeys(codes))
    with engine.begin() as conn:
        row = queries.set_row(conn, set_id)
        queries.finish_set(conn, set_id, state=state, result_code=0, error_codes=codes, reason=reason[:1000],
                           now=now, content_sha256=content[0] if content else None,
                           content_bytes=content[1] if content else None, duplicate_of=duplicate_of)
        queries.insert_anomalies(conn, set_id, None, findings or [
            Finding(code=f"ACRF-{code}", message=reason) for code in codes])
        queue_answer(settings, conn, clock, row, "ACRF", notify.acrf_bytes(
            file_name=row.answer_name, ticket=row.ticket, accepted=False, error_codes=codes, now=now,
            original_ticket=duplicate_of))
        queries.audit(conn, state, now=now, set_id=set_id, ticket=row.ticket, detail=" ".join(codes))
    log.info("set %s %s refused: %s (%s)", row.ticket, row.answer_name, " ".join(f"ACRF-{c}" for c in codes), reason,
             extra={"ticket": row.ticket, "stage": "refused" if state == "rejected" else state, "set_id": set_id,
                    "codes": [f"ACRF-{c}" for c in codes]})
    return SetOutcome(row.ticket, "rejected")


def deliver_pending(settings: Settings, engine: Engine, clock: Clock, set_id: int | None = None) -> int:
    """Write every pending answer to its outbox folder (with its FS signature when we sign answers)
    and its GO marker; the number written."""
    with engine.connect() as conn:
        pending = queries.pending_outbound(conn, set_id)
    key = signing_key(settings.signing, os.environ) if pending else None
    for message in pending:
        name = FileName.parse(message.name)
        target = outbox.deliver(Path(message.body_path), name, settings.outbox / message.mailbox / message.folder,
                                compress_above=settings.outbox_options.compress_above_bytes,
                                sign=(lambda path: sign_files(key, [path])) if key is not None else None)
        with engine.begin() as conn:
            queries.mark_written(conn, message.id, clock.now(),
                                 signature_name=str(name.with_prefix("FS")) if key is not None else None)
            queries.audit(conn, "answer-written", now=clock.now(), set_id=message.set_id, detail=target.name)
        log.info("wrote %s to %s/%s", target.name, message.mailbox, message.folder,
                 extra={"stage": "delivered", "set_id": message.set_id, "answer": target.name,
                        "mailbox": message.mailbox})
    return len(pending)
