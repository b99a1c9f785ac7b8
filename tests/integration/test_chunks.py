"""Large sets cut into chunks: several workers, one ACRF and one NOTI, the same result as the set processed whole."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import text

from cbss_batch.chunking.document import SegmentReader, chunk_segments, header_segments
from cbss_batch.chunking.plan import NotSplittable, scan
from cbss_batch.faults import PAUSE_ENV, PAUSE_FILE_ENV
from cbss_batch.parse.dmfa import DeclarationEnd, PersonRead, read_dmfa
from cbss_batch.store.session import make_engine, upgrade
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, write_config

DAY = TODAY.replace(day=20)
CHUNK = 40


def _content() -> bytes:
    """230 workers in 7 declarations with a repeated INSZ, a bad INSZ, a wrong net amount, and a contribution
    declared 1.00 EUR too high in the fourth declaration (a correction: DMNO)."""
    data = make_dmfa(workers=230, declarations=7, quarter="20253", seed=3,
                     faults=["duplicate_insz", "bad_insz", "net_owed_off"])
    document = etree.fromstring(data)
    form = document.findall("Form")[3]
    record = form.find(".//WorkerRecord")
    assert record is not None
    code = record.findtext("WorkerCode")
    own = next(c for c in record.iter("WorkerContribution") if c.findtext("ContributionWorkerCode") == code)
    amount = own.find("ContributionAmount")
    assert amount is not None
    amount.text = f"{int(amount.text or 0) + 100:011d}"
    net = form.find(".//NetOwedAmount")
    assert net is not None
    net.text = f"{int(net.text or 0) + 100:011d}"
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    engine = make_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(pg_database)
    yield pg_database


def _workspace(root: Path, content: bytes, *, chunk: int) -> Path:
    write_config(root)
    config = root / "config" / "cbss.toml"
    config.write_text(config.read_text().replace("batch_rows = 1000\n",
                                                 f"batch_rows = 1000\nchunk_persons = {chunk}\n"))
    drop_set(root / "inbox", "006400", content, day=DAY, parts=3)
    return root


def _cli(root: Path, url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "cbss_batch", "--db", url, *args], cwd=root,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    return out


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _answers(root: Path) -> list[tuple[str, bytes]]:
    """Each answer as (name without sequence, bytes) with tickets blanked (they come from counters)."""
    out = []
    for path in sorted((root / "outbox").rglob("*")):
        if path.is_file():
            kind = ".".join(path.name.split(".")[:2])
            out.append((kind, re.sub(rb"CB\d{16}", b"CB#", path.read_bytes())))
    return sorted(out)


STATE = [
    "select form_index, net_owed_declared, net_owed_computed, persons, worker_records, accepted, result_code, line, "
    "parameter_versions from declarations order by form_index",
    "select d.form_index, a.code, a.anomaly_class, a.message, a.tag, a.value, a.line, a.\"column\", a.path "
    "from anomalies a join declarations d on d.id = a.declaration_id order by 1, 2, 7, 4",
    "select d.form_index, p.sequence, p.insz, p.line from natural_persons p join declarations d on d.id = "
    "p.declaration_id order by 1, 4, 2",
    "select count(*), sum(line) from worker_records",
    "select count(*), sum(amount) from contributions",
    "select count(*), sum(line) from occupations",
    "select count(*) from services",
    "select count(*) from remunerations",
    "select count(*) from deductions",
    "select insz, contribution_code, declared_amount, corrected_amount from contribution_corrections order by 1, 2",
    "select state, result_code, error_codes from file_sets",
    "select kind, count(*) from outbound_messages group by kind order by kind",
    "select kind, mutation, count(*) from fact_events group by kind, mutation order by 1, 2",
]


def _state(url: str) -> list[list[tuple[object, ...]]]:
    return [_rows(url, sql) for sql in STATE]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The same set processed whole by ``run`` on SQLite."""
    root = _workspace(tmp_path_factory.mktemp("whole") / "ws", _content(), chunk=0)
    url = f"sqlite:///{root / 'var' / 'cbss.db'}"
    _finish(_cli(root, url, "init"))
    _finish(_cli(root, url, "run"))
    return root, url


def test_reference_has_what_the_comparison_needs(reference: tuple[Path, str]) -> None:
    root, url = reference
    codes = {r[0] for r in _rows(url, "select code from anomalies")}
    assert {"90017-006", "00015-007"} <= codes  # a repeated INSZ and a wrong net amount are compared too
    assert [kind for kind, _ in _answers(root)].count("FO.DMNO") == 1


def test_one_worker_on_sqlite_cuts_the_set_and_answers_as_the_whole_set(tmp_path: Path,
                                                                         reference: tuple[Path, str]) -> None:
    root = _workspace(tmp_path / "ws", _content(), chunk=CHUNK)
    url = f"sqlite:///{root / 'var' / 'cbss.db'}"
    _finish(_cli(root, url, "init"))
    _finish(_cli(root, url, "worker", "--idle", "0.1", "--until-idle", "1"))
    assert _rows(url, "select chunk, state, persons from set_chunks order by chunk") == [
        (0, "done", 230), (1, "done", 40), (2, "done", 40), (3, "done", 40), (4, "done", 40), (5, "done", 40),
        (6, "done", 30)]
    assert _state(url) == _state(reference[1])
    assert _answers(root) == _answers(reference[0])


def test_two_workers_on_postgresql_share_the_chunks_with_one_acrf_and_one_noti(
        tmp_path: Path, pg_url: str, reference: tuple[Path, str]) -> None:
    root = _workspace(tmp_path / "ws", _content(), chunk=CHUNK)
    workers = [_cli(root, pg_url, "worker", "--idle", "0.05", "--until-idle", "2") for _ in range(2)]
    for process in workers:
        _finish(process)
    assert _rows(pg_url, "select count(*), count(distinct claimed_by) >= 1, max(claim_token) from set_chunks") == [
        (7, True, 1)]
    assert _state(pg_url) == _state(reference[1])
    assert _answers(root) == _answers(reference[0])
    names = [kind for kind, _ in _answers(root)]
    assert names.count("FO.ACRF") == 1 and names.count("FO.NOTI") == 1


def test_a_worker_killed_in_a_chunk_is_taken_over_after_its_lease(tmp_path: Path, pg_url: str,
                                                                  reference: tuple[Path, str]) -> None:
    root = _workspace(tmp_path / "ws", _content(), chunk=CHUNK)
    marker = tmp_path / "paused"
    victim = _cli(root, pg_url, "worker", "--idle", "0.1", "--lease", "3",
                  env={PAUSE_ENV: "chunk-staged", PAUSE_FILE_ENV: str(marker)})
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the worker never reached the end of a chunk"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    assert _rows(pg_url, "select count(*) from set_chunks where state = 'pending'") != [(0,)]
    _finish(_cli(root, pg_url, "worker", "--idle", "0.1", "--lease", "3", "--until-idle", "6"))
    assert _rows(pg_url, "select max(claim_token) from set_chunks") == [(2,)]  # the dead worker's chunk, taken over
    assert _state(pg_url) == _state(reference[1])
    assert _answers(root) == _answers(reference[0])


def test_run_finishes_a_set_whose_worker_died(tmp_path: Path, reference: tuple[Path, str]) -> None:
    root = _workspace(tmp_path / "ws", _content(), chunk=CHUNK)
    url = f"sqlite:///{root / 'var' / 'cbss.db'}"
    _finish(_cli(root, url, "init"))
    marker = tmp_path / "paused"
    victim = _cli(root, url, "worker", "--idle", "0.1", "--lease", "2",
                  env={PAUSE_ENV: "chunk-staged", PAUSE_FILE_ENV: str(marker)})
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the worker never reached the end of a chunk"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    time.sleep(2.5)  # the dead worker's lease runs out
    waiting = json.loads(_finish(_cli(root, url, "--json", "status")))["backlog"]["chunks_pending"]
    assert 1 <= waiting["count"] <= 6 and waiting["held"] == 0, waiting
    _finish(_cli(root, url, "run"))
    assert _rows(url, "select count(*) from set_chunks where state <> 'done'") == [(0,)]
    assert _state(url) == _state(reference[1])
    assert _answers(root) == _answers(reference[0])


def test_an_invalid_document_is_answered_as_when_processed_whole(tmp_path: Path) -> None:
    content = make_dmfa(workers=230, declarations=7, quarter="20253", seed=5, faults=["schema"])
    whole = _workspace(tmp_path / "whole", content, chunk=0)
    whole_url = f"sqlite:///{whole / 'var' / 'cbss.db'}"
    _finish(_cli(whole, whole_url, "init"))
    _finish(_cli(whole, whole_url, "run"))
    cut = _workspace(tmp_path / "cut", content, chunk=CHUNK)
    cut_url = f"sqlite:///{cut / 'var' / 'cbss.db'}"
    _finish(_cli(cut, cut_url, "init"))
    _finish(_cli(cut, cut_url, "worker", "--idle", "0.1", "--until-idle", "1"))
    assert _rows(cut_url, "select state from file_sets") == [("rejected",)]
    assert _rows(cut_url, "select state from chunk_plans") == [("whole",)]
    assert _rows(cut_url, "select count(*) from natural_persons") == [(0,)]  # the chunks' rows are gone
    assert _rows(cut_url, "select count(*) from declarations") == [(0,)]
    assert _state(cut_url) == _state(whole_url)
    assert _answers(cut) == _answers(whole)


# --- the cut itself ------------------------------------------------------------------------------------


def _parts(tmp_path: Path, data: bytes, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = tmp_path / f"part{i}"
        path.write_bytes(data[len(data) * i // count:len(data) * (i + 1) // count])
        paths.append(path)
    return paths


@pytest.mark.parametrize("chunk", [1, 7, 33, 500])
def test_chunk_documents_read_the_same_persons_at_the_same_lines(tmp_path: Path, chunk: int) -> None:
    data = make_dmfa(workers=120, declarations=5, quarter="20253", seed=8)
    paths = _parts(tmp_path, data, 4)
    plan = scan(paths, chunk)
    whole = [(e.header.form_index, e.person) for e in read_dmfa(io.BytesIO(data), None)
             if isinstance(e, PersonRead)]
    read = []
    for span in plan.chunks:
        reader = SegmentReader(paths, chunk_segments(plan, span, "DmfAOriginal"))
        events = list(read_dmfa(reader, None))
        persons = [(e.header.form_index + span.form - 1, e.person) for e in events if isinstance(e, PersonRead)]
        assert len(persons) == span.persons
        assert sum(isinstance(e, DeclarationEnd) for e in events) == span.form_ends + (span.end is not None)
        read += persons
    assert read == whole  # every person once, in order, with its lines as in the file
    headers = [e.header for e in read_dmfa(SegmentReader(paths, header_segments(plan, "DmfAOriginal")), None)
               if isinstance(e, DeclarationEnd)]
    assert headers == [e.header for e in read_dmfa(io.BytesIO(data), None)
                       if isinstance(e, DeclarationEnd)]
    assert len(plan.chunks) == -(-120 // chunk)


@pytest.mark.parametrize(("insert", "reason"), [
    (b"<!-- <NaturalPerson> -->", "comments"),
    (b"<!-- x -->", "comments"),
    (b"<![CDATA[x]]>", "CDATA"),
    (b"<?pi x?>", "processing instructions"),
    (b"\r", "carriage returns"),
])
def test_documents_whose_tags_a_byte_scan_could_miscount_are_not_cut(tmp_path: Path, insert: bytes,
                                                                     reason: str) -> None:
    data = make_dmfa(workers=10, quarter="20253")
    at = data.index(b"<NaturalPerson>")
    (tmp_path / "doc").write_bytes(data[:at] + insert + data[at:])
    with pytest.raises(NotSplittable, match=reason):
        scan([tmp_path / "doc"], 3)


@pytest.mark.parametrize("block", [17, 23, 64, 97, 301])
def test_the_plan_does_not_depend_on_where_the_reads_cut_the_tags(tmp_path: Path, block: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from cbss_batch.chunking import plan as plan_module

    data = make_dmfa(workers=12, declarations=4, quarter="20253")
    (tmp_path / "doc").write_bytes(data)
    reference = scan([tmp_path / "doc"], 5)
    monkeypatch.setattr(plan_module, "_BLOCK", block)
    assert scan([tmp_path / "doc"], 5) == reference
    assert [len(reference.forms), [c.persons for c in reference.chunks]] == [4, [5, 5, 2]]
    for at in range(data.index(b"<Form>"), data.index(b"<Form>") + 2 * block):
        (tmp_path / "marked").write_bytes(data[:at] + b"<!--x-->" + data[at:])
        with pytest.raises(NotSplittable, match="comments"):
            scan([tmp_path / "marked"], 5)


# --- the schema check offered before the scan -------------------------------------------------------------


def _in_process(root: Path, new_db_url: NewDbUrl, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any, Any, Any]:
    """The workspace initialised on the test's backend, run from its folder: its database URL, settings, an
    engine and a clock, for driving a worker step by step in this process."""
    from cbss_batch import pipeline
    from cbss_batch.config import load_settings
    from cbss_batch.store.session import open_database

    url = new_db_url(root)
    _finish(_cli(root, url, "init"))
    monkeypatch.chdir(root)
    settings = load_settings(root / "config" / "cbss.toml", {"CBSS_DB_URL": url})
    return url, settings, open_database(url), pipeline.Clock(settings.today)


def _claim_check_during_scan(monkeypatch: pytest.MonkeyPatch, engine: Any) -> list[Any]:
    """While the cutting worker scans the set, another worker finds the schema check pending and claims it."""
    from cbss_batch.chunking import work
    from cbss_batch.store import claims

    taken: list[Any] = []
    real_scan = work.scan

    def scan_while_another_worker_claims(paths: list[Path], persons: int) -> Any:
        with engine.begin() as conn:
            taken.append(claims.claim_chunk(conn, "other-host:1", 60))
        return real_scan(paths, persons)

    monkeypatch.setattr(work, "scan", scan_while_another_worker_claims)
    return taken


def _drain(settings: Any, engine: Any, clock: Any) -> None:
    from cbss_batch import worker

    report = worker.WorkerReport()
    while worker.process_next(settings, engine, clock, "this-host:1", 60, report):
        pass


def test_another_worker_checks_the_document_while_the_set_is_scanned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: tuple[Path, str], new_db_url: NewDbUrl) -> None:
    from cbss_batch import worker

    root = _workspace(tmp_path / "ws", _content(), chunk=CHUNK)
    url, settings, engine, clock = _in_process(root, new_db_url, monkeypatch)
    try:
        taken = _claim_check_during_scan(monkeypatch, engine)
        assert worker._take_inbox(settings, engine, clock)
        report = worker.WorkerReport()
        assert worker.process_next(settings, engine, clock, "this-host:1", 60, report)  # claims and cuts the set
        assert [(c.chunk, c.owner) for c in taken] == [(0, "other-host:1")]  # offered before the scan ended
        assert _rows(url, "select chunk, state, claimed_by from set_chunks where chunk < 2 order by chunk") == [
            (0, "pending", "other-host:1"), (1, "pending", None)]
        assert worker._process_chunk(settings, engine, clock, taken[0], 60)  # the other worker's check
        _drain(settings, engine, clock)
    finally:
        engine.dispose()
    assert _rows(url, "select chunk, state, persons from set_chunks order by chunk")[0] == (0, "done", 230)
    assert _state(url) == _state(reference[1])
    assert _answers(root) == _answers(reference[0])


def test_a_set_not_cut_after_all_withdraws_its_check_and_a_worker_holding_it_loses_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_db_url: NewDbUrl) -> None:
    from cbss_batch import worker

    data = make_dmfa(workers=230, declarations=7, quarter="20253", seed=3)
    at = data.index(b"<NaturalPerson>")
    content = data[:at] + b"<!-- a comment: a byte scan cannot cut this safely -->" + data[at:]
    root = _workspace(tmp_path / "ws", content, chunk=CHUNK)
    url, settings, engine, clock = _in_process(root, new_db_url, monkeypatch)
    try:
        taken = _claim_check_during_scan(monkeypatch, engine)
        assert worker._take_inbox(settings, engine, clock)
        _drain(settings, engine, clock)  # the set is processed whole
        assert [c.chunk for c in taken] == [0]
        assert _rows(url, "select state from file_sets") == [("accepted",)]
        assert _rows(url, "select count(*) from set_chunks") == [(0,)]
        assert _rows(url, "select count(*) from chunk_plans") == [(0,)]
        assert not worker._process_chunk(settings, engine, clock, taken[0], 60)  # withdrawn: its result discarded
    finally:
        engine.dispose()
    assert _rows(url, "select count(*) from set_chunks") == [(0,)]
    assert _rows(url, "select kind, count(*) from outbound_messages group by kind order by kind")[0] == ("ACRF", 1)


def test_a_duplicate_found_after_the_scan_is_refused_without_a_check_left_pending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_db_url: NewDbUrl) -> None:
    from cbss_batch import worker

    content = make_dmfa(workers=230, declarations=7, quarter="20253", seed=4)
    root = _workspace(tmp_path / "ws", content, chunk=CHUNK)
    drop_set(root / "inbox", "006400", content, day=DAY, parts=2, seq=2)  # the same content, another name
    url, settings, engine, clock = _in_process(root, new_db_url, monkeypatch)
    try:
        assert worker._take_inbox(settings, engine, clock)
        _drain(settings, engine, clock)
    finally:
        engine.dispose()
    assert _rows(url, "select state, error_codes from file_sets order by id") == [
        ("accepted", None), ("rejected", "ACRF-133")]
    assert _rows(url, "select set_id, count(*) from set_chunks where state <> 'done' group by set_id") == []
    assert _rows(url, "select count(*) from set_chunks where set_id = 2") == [(0,)]
