"""Hostile input beyond test_hostile.py: entities that would reach outside, encodings that hide a DOCTYPE,
oversized names and values, hostile file names, links in the inbox, one sender writing for another,
and hostile listings on an SFTP mailbox.

Each case states its exact outcome: the ACRF codes, the answer files, the bytes in the archive, what
stays in the inbox or on the server; nothing outside a mailbox is ever opened.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import resource
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from cbss_batch import pipeline
from cbss_batch.dimona_builder import DimonaForm, make_dimona
from cbss_batch.drs_builder import make_risk_declaration
from cbss_batch.errors import BatchError
from cbss_batch.notify import printable_name
from cbss_batch.validation import check_file
from tests.builders import drop_set, make_dmfa
from tests.conftest import PROJECT, TODAY, NewDbUrl, Workspace, write_config
from tests.sshd import LoopbackSshd, sshd_binary

SENDER = "006400"
DAY = "20261120"
NAME_DAY = TODAY.replace(day=20)
FIRST_ACRF = "FO.ACRF.999999.20261128.00001.T"
GOOD = make_dmfa(workers=2, quarter="20253", seed=99)
VALID = make_dmfa(workers=2, quarter="20253", seed=7)
GO = f"GO.DMFA.{SENDER}.{DAY}.00001.T.1"
FI = f"FI.DMFA.{SENDER}.{DAY}.00001.T.1.1"
_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


# --- helpers ----------------------------------------------------------------------------------------


def _put(ws: Workspace, name: str, data: bytes, *, sender: str = SENDER, folder: str = "INTEST") -> Path:
    path = ws.inbox / sender / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _send(ws: Workspace, data: bytes) -> None:
    """``data`` as the one part of a test DmfA set of sender 006400 (FI, then GO)."""
    _put(ws, FI, data)
    _put(ws, GO, b"")


def _acrf(path: Path) -> tuple[str | None, str | None, list[str]]:
    """(FileName, ResultCode, ErrorIDs) of an ACRF file."""
    root = etree.parse(str(path)).getroot()
    return (root.findtext("Form/FileReference/FileName"), root.findtext("Form/ReceptionResult/ResultCode"),
            [e.text or "" for e in root.iterfind("Form/ReceptionResult/ErrorID")])


def _acrfs(ws: Workspace, sender: str = SENDER, folder: str = "OUTTEST") -> list[tuple[str | None, str | None,
                                                                                        list[str]]]:
    return [_acrf(ws.out(sender, folder) / name) for name in ws.answers(sender, folder) if name.startswith("FO.ACRF")]


def _archived(ws: Workspace) -> dict[str, bytes]:
    """Every file of the archive by its name (the SHA-256 of its bytes)."""
    return {p.name: p.read_bytes() for p in (ws.root / "var" / "archive").rglob("*") if p.is_file()}


def _assert_archived(ws: Workspace, data: bytes) -> None:
    sha = hashlib.sha256(data).hexdigest()
    assert (ws.root / "var" / "archive" / sha[:2] / sha).read_bytes() == data


def _inbox_files(ws: Workspace) -> list[Path]:
    """Everything in the inbox that is not a folder: files, links, pipes."""
    return sorted(p for p in ws.inbox.rglob("*") if p.is_symlink() or not p.is_dir())


def _with_other_sender(ws: Workspace) -> None:
    """A valid production set from another sender, which every case must leave unaffected."""
    drop_set(ws.inbox, "007700", VALID, env="R", day=NAME_DAY)


def _other_sender_accepted(ws: Workspace) -> bool:
    return [a[1:] for a in _acrfs(ws, "007700", "OUT")] == [("1", [])]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _utf7_hidden(text: str) -> bytes:
    """``text`` as one UTF-7 shifted run: ``<!DOCTYPE`` becomes ``+ADwAIQ-…``, no ``<`` in the bytes."""
    return b"+" + base64.b64encode(text.encode("utf-16-be")).rstrip(b"=") + b"-"


UTF7 = b'<?xml version="1.0" encoding="UTF-7"?>\n'


# --- detectors: a named pipe and a listening socket outside every mailbox -----------------------------


@dataclass
class Canary:
    """A named pipe: a process opening it to read is counted (and fed, so it is never left blocked)."""

    path: Path
    opened: int = 0


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Canary]:
    path = tmp_path / "outside" / "canary.dtd"
    path.parent.mkdir()
    os.mkfifo(path)
    found = Canary(path)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only while a reader has it open
            except OSError:
                stop.wait(0.002)
                continue
            found.opened += 1
            try:
                os.write(fd, b'<!ENTITY leaked "the canary was read">')
            except OSError:
                pass
            finally:
                os.close(fd)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    yield found
    stop.set()
    watcher.join()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that accepts nothing by itself: a connection attempt waits in its backlog."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        yield server


def _connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


# --- 1. entities that would reach outside -------------------------------------------------------------


def _laughs(*, hidden: bool) -> bytes:
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {n} "{("&" + p + ";") * 10}">' for p, n in zip("abcdefg", "bcdefgh", strict=True))
    doctype = f"<!DOCTYPE DmfAOriginal [{entities}]>"
    body = b'<DmfAOriginal version="&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;"><Form Identification="&h;"/></DmfAOriginal>'
    return UTF7 + _utf7_hidden(doctype) + b"\n" + body if hidden else \
        f'<?xml version="1.0"?>{doctype}'.encode() + body


OUTSIDE = [  # (id, document from (canary path, listening port), codes)
    ("parameter-entity-file", lambda c, p: f'<?xml version="1.0"?><!DOCTYPE DmfAOriginal [<!ENTITY % ext SYSTEM '
                                            f'"file://{c}"> %ext;]><DmfAOriginal/>'.encode(), ("102",)),
    ("parameter-entity-http", lambda c, p: f'<?xml version="1.0"?><!DOCTYPE DmfAOriginal [<!ENTITY % ext SYSTEM '
                                            f'"http://127.0.0.1:{p}/evil.dtd"> %ext;]><DmfAOriginal/>'.encode(),
     ("102",)),
    ("external-dtd-http", lambda c, p: f'<?xml version="1.0"?><!DOCTYPE DmfAOriginal SYSTEM '
                                        f'"http://127.0.0.1:{p}/x.dtd"><DmfAOriginal/>'.encode(), ("102",)),
    ("external-dtd-file-after-bom", lambda c, p: b"\xef\xbb\xbf" + f'<?xml version="1.0"?><!DOCTYPE DmfAOriginal '
                                                  f'SYSTEM "file://{c}"><DmfAOriginal/>'.encode(), ("102",)),
    # Below, the DOCTYPE is written in UTF-7 so that no "<!DOCTYPE" appears in the bytes: refused for the encoding.
    ("utf7-hidden-entity-file", lambda c, p: UTF7 + _utf7_hidden(
        f'<!DOCTYPE DmfAOriginal [<!ENTITY xxe SYSTEM "file://{c}">]>')
        + b"\n<DmfAOriginal><Form><Identification>&xxe;</Identification></Form></DmfAOriginal>", ("138",)),
    ("utf7-hidden-parameter-entity-http", lambda c, p: UTF7 + _utf7_hidden(
        f'<!DOCTYPE DmfAOriginal [<!ENTITY % ext SYSTEM "http://127.0.0.1:{p}/evil.dtd"> %ext;]>')
        + b"\n<DmfAOriginal/>", ("138",)),
    ("utf7-hidden-external-dtd-file", lambda c, p: UTF7 + _utf7_hidden(f'<!DOCTYPE DmfAOriginal SYSTEM "file://{c}">')
        + b"\n<DmfAOriginal/>", ("138",)),
    ("laughs-in-attributes", lambda c, p: _laughs(hidden=False), ("102",)),
    ("utf7-hidden-laughs-in-attributes", lambda c, p: _laughs(hidden=True), ("138",)),
]


@pytest.mark.parametrize(("make", "codes"), [c[1:] for c in OUTSIDE], ids=[c[0] for c in OUTSIDE])
def test_entities_never_reach_outside_the_document(make: object, codes: tuple[str, ...], workspace: Workspace,
                                                   canary: Canary, listener: socket.socket) -> None:
    data = make(canary.path, listener.getsockname()[1])  # type: ignore[operator]
    _send(workspace, data)
    result = workspace.cli("run")
    assert result.exit_code == 0, result.output
    assert _acrfs(workspace) == [(GO, "0", [f"ACRF-{c}" for c in codes])]
    _assert_archived(workspace, data)
    assert _inbox_files(workspace) == []
    path = workspace.root / "check" / FI
    path.parent.mkdir()
    path.write_bytes(data)
    report = check_file(path, xsd_dir=PROJECT / "xsd", today=TODAY)
    assert [f.code for f in report.file_problems] == [f"ACRF-{c}" for c in codes]
    assert canary.opened == 0, "a file outside the mailbox was opened"
    assert _connections(listener) == 0, "a network connection was attempted"


# --- 2. oversized, deep, misplaced DOCTYPE, odd encodings ---------------------------------------------


def _inside(content: bytes, before: bytes, insert: bytes) -> bytes:
    """``insert`` placed just before the first ``before`` of a valid document."""
    assert before in content
    return content.replace(before, insert + before, 1)


BIG_TEXT = 10 * 1024 * 1024
BODY = GOOD.split(b"?>", 1)[1]


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    codes: tuple[str, ...]


CASES = [
    Case("element-name-100kb", _inside(GOOD, b"<Trusteeship>", b"<" + b"N" * 100_000 + b">1</" + b"N" * 100_000
                                       + b">"), ("102",)),
    Case("text-node-10mb", GOOD.replace(b"<Trusteeship>0", b"<Trusteeship>" + b"7" * BIG_TEXT, 1), ("102",)),
    Case("attribute-value-10mb", GOOD.replace(b"<Trusteeship>", b'<Trusteeship note="' + b"v" * BIG_TEXT + b'">', 1),
         ("102",)),
    Case("deep-nesting-inside-a-valid-prefix", _inside(GOOD, b"<Trusteeship>", b"<X>" * 5000 + b"</X>" * 5000),
         ("102",)),
    Case("doctype-after-the-root", GOOD + b'<!DOCTYPE DmfAOriginal [<!ENTITY a "b">]>', ("102",)),
    Case("doctype-after-the-root-beyond-64kb", GOOD.replace(b"?>", b"?><!--" + b" " * 70_000 + b"-->", 1)
         + b"<!DOCTYPE DmfAOriginal>", ("102",)),
    # A DOCTYPE only quoted in a comment is harmless, but the screening reads text, not structure: refused.
    Case("doctype-inside-a-comment", GOOD.replace(b"?>", b'?><!-- <!DOCTYPE x [<!ENTITY a "b">]> -->', 1), ("102",)),
    Case("doctype-internal-subset-only", GOOD.replace(b"?>", b"?><!DOCTYPE DmfAOriginal [<!ELEMENT DmfAOriginal "
                                                            b"ANY>]>", 1), ("102",)),
    Case("utf8-bom-and-doctype", b"\xef\xbb\xbf" + GOOD.replace(b"?>", b"?><!DOCTYPE DmfAOriginal>", 1), ("102",)),
    Case("encoding-ebcdic-declared", b'<?xml version="1.0" encoding="EBCDIC"?>' + BODY, ("138",)),
    Case("encoding-unknown", b'<?xml version="1.0" encoding="x-klingon"?>' + BODY, ("138",)),
    Case("encoding-utf7", UTF7 + BODY, ("138",)),
    Case("encoding-utf32-declared", b'<?xml version="1.0" encoding="UTF-32"?>' + BODY, ("138",)),
    Case("ebcdic-bytes", ('<?xml version="1.0" encoding="IBM500"?>' + BODY.decode()).encode("cp500"), ("102",)),
]


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel-check", "in-stream-check"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_document_is_refused_with_its_code(case: Case, parallel: bool, workspace: Workspace) -> None:
    write_config(workspace.root, f"parallel_validation = {str(parallel).lower()}\nparallel_validation_min_bytes = 0\n")
    _send(workspace, case.content)
    _with_other_sender(workspace)
    before = _peak_rss_mb()
    result = workspace.cli("run")
    assert result.exit_code == 0, result.output
    assert _peak_rss_mb() - before < 200, "the run needed more than 200 MB for one hostile file"
    assert _acrfs(workspace) == [(GO, "0", [f"ACRF-{c}" for c in case.codes])]
    assert workspace.answers() == [FIRST_ACRF, FIRST_ACRF.replace("FO.", "GO.", 1)]
    assert _other_sender_accepted(workspace)
    _assert_archived(workspace, case.content)
    assert _inbox_files(workspace) == []
    assert workspace.sql("select state from file_sets order by id") == [("rejected",), ("accepted",)]


DIMONA = make_dimona([DimonaForm(action="IN", starting_date=date(2026, 9, 1))])
WECH = make_risk_declaration("WECH001")
AGREED = [  # (id, file type, document, codes): found by tests/e2e/test_fuzzing.py, where validate raised
    ("dimona-noss-number-of-5001-digits", "DIMN",
     DIMONA.replace(b"<NOSSRegistrationNbr>175110801<", b"<NOSSRegistrationNbr>1" + b"0" * 5000 + b"<", 1),
     ("008", "093")),
    ("scenario-root-without-a-schema", "WECH", WECH.replace(b"<WECH001>", b"<WECH101>").replace(b"</WECH001>",
                                                                                               b"</WECH101>"),
     ("088",)),
]


@pytest.mark.parametrize(("file_type", "data", "codes"), [a[1:] for a in AGREED], ids=[a[0] for a in AGREED])
def test_validate_and_intake_give_the_same_codes(file_type: str, data: bytes, codes: tuple[str, ...],
                                                 workspace: Workspace) -> None:
    drop_set(workspace.inbox, SENDER, data, day=NAME_DAY, file_type=file_type)
    assert workspace.cli("run").exit_code == 0
    expected = [f"ACRF-{c}" for c in codes]
    assert _acrfs(workspace) == [(f"GO.{file_type}.{SENDER}.{DAY}.00001.T.1", "0", expected)]
    path = workspace.root / "check" / f"FI.{file_type}.{SENDER}.{DAY}.00001.T.1.1"
    path.parent.mkdir()
    path.write_bytes(data)
    report = check_file(path, xsd_dir=PROJECT / "xsd", today=TODAY)
    assert sorted({f.code for f in report.file_problems}) == expected


@pytest.mark.xfail(strict=True, reason="defect, not fixed: a zone of 5000 leading zeros is schema-valid (totalDigits "
                                       "ignores leading zeros) but int() refuses more than 4300 digits; the intake "
                                       "answers ACRF-163 (our failure, set kept as failed), validate says ACRF-102")
def test_leading_zeros_beyond_the_int_digit_limit_get_a_sender_code(workspace: Workspace) -> None:
    data = GOOD.replace(b"<Trusteeship>0", b"<Trusteeship>" + b"0" * 5000, 1)
    _send(workspace, data)
    assert workspace.cli("run").exit_code == 0
    path = workspace.root / "check" / FI
    path.parent.mkdir()
    path.write_bytes(data)
    report = check_file(path, xsd_dir=PROJECT / "xsd", today=TODAY)
    (_, result, errors), = _acrfs(workspace)
    assert result == "0" and "ACRF-163" not in errors
    assert errors == [f.code for f in report.file_problems]


# --- 3. hostile file names ------------------------------------------------------------------------------

FORGED = "2026-11-28 12:00:00,000 ERROR cbss_batch.pipeline: forged line"
NAMES = [  # (id, file name, ACRF code); FI names carry a valid document, GO names are empty
    ("escape-sequence", "FI.DMFA..\x1b[31mred\x1b[0m", "131"),
    ("trailing-newline", f"{FI}\n", "114"),
    ("newline-in-date", f"GO.DMFA.{SENDER}.2026\n1120.00001.T.1", "109"),
    ("forged-log-line", f"{GO}\n{FORGED}", "107"),  # the forged line adds dot-separated elements
    ("carriage-return", f"{GO}\r", "114"),
    ("delete-character", f"{GO}\x7f", "114"),
    ("double-xml-suffix", f"{FI}.xml.xml", "131"),
    ("fullwidth-digit-in-sequence", f"FI.DMFA.{SENDER}.{DAY}.\uff100001.T.1.1", "113"),
    ("fullwidth-digits-in-sender", f"GO.DMFA.\uff10\uff106400.{DAY}.00001.T.1", "107"),
    ("fullwidth-digit-in-date", f"GO.DMFA.{SENDER}.2026112\uff10.00001.T.1", "110"),
    ("arabic-indic-part-count", f"GO.DMFA.{SENDER}.{DAY}.00001.T.\u0661", "115"),
    ("trailing-space", f"{GO} ", "114"),
    ("leading-space", f" {GO}", "129"),
    ("right-to-left-override", f"{GO}\u202e", "114"),
    ("zero-width-space-element", f"{GO}.\u200b", "107"),
    ("backslash-traversal", f"{FI}\\..\\..\\etc\\passwd", "131"),
]


@pytest.mark.parametrize(("name", "code"), [n[1:] for n in NAMES], ids=[n[0] for n in NAMES])
def test_hostile_file_name_is_refused_and_breaks_no_answer_or_log_line(name: str, code: str,
                                                                        workspace: Workspace) -> None:
    data = GOOD if name.startswith("FI") else b""
    _put(workspace, name, data)
    result = workspace.cli("-v", "run")
    assert result.exit_code == 0, result.output
    assert workspace.answers() == [FIRST_ACRF, FIRST_ACRF.replace("FO.", "GO.", 1)]  # our own FO grammar
    assert _acrfs(workspace) == [(printable_name(name), "0", [f"ACRF-{code}"])]
    _assert_archived(workspace, data)
    assert _inbox_files(workspace) == []
    assert workspace.sql("select name from received_files") == [(name,)]
    lines = result.stderr.splitlines()
    assert lines and all(_LOG_LINE.match(line) for line in lines), lines
    assert not any(line.startswith(FORGED) for line in lines)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", result.stderr)


def test_file_name_that_is_not_utf8_is_refused_under_an_escaped_name(workspace: Workspace) -> None:
    folder = workspace.inbox / SENDER / "INTEST"
    folder.mkdir(parents=True)
    raw = os.fsencode(folder / GO) + b"\xff\xfe"
    with open(raw, "wb"):
        pass
    result = workspace.cli("-v", "run")
    assert result.exit_code == 0, result.output
    escaped = f"{GO}\\xff\\xfe"
    assert _acrfs(workspace) == [(escaped, "0", ["ACRF-114"])]
    assert workspace.sql("select name from received_files") == [(escaped,)]
    assert _inbox_files(workspace) == []
    assert all(_LOG_LINE.match(line) for line in result.stderr.splitlines())


# --- 4. links and pipes in the inbox --------------------------------------------------------------------

PASSWD = Path("/etc/passwd")


def test_file_linked_to_etc_passwd_is_never_followed(workspace: Workspace) -> None:
    folder = workspace.inbox / SENDER / "INTEST"
    folder.mkdir(parents=True)
    (folder / FI).symlink_to(PASSWD)
    _put(workspace, GO, b"")
    _with_other_sender(workspace)
    result = workspace.cli("run")
    assert result.exit_code == 0, result.output
    assert _acrfs(workspace) == [(GO, "0", ["ACRF-120"])]  # the GO came, its only part is not a file
    assert _other_sender_accepted(workspace)
    assert PASSWD.read_bytes() not in _archived(workspace).values()
    assert _inbox_files(workspace) == [folder / FI]
    assert (folder / FI).is_symlink() and os.readlink(folder / FI) == str(PASSWD)


def test_linked_mailbox_and_linked_mailbox_folder_are_never_followed(workspace: Workspace, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    placed = drop_set(elsewhere, SENDER, GOOD, day=NAME_DAY, seq=3)
    before = {p: p.read_bytes() for p in placed}
    (workspace.inbox / SENDER).mkdir(parents=True)
    (workspace.inbox / SENDER / "INTEST").symlink_to(elsewhere / SENDER / "INTEST")
    (workspace.inbox / "006401").symlink_to(elsewhere / SENDER)
    _with_other_sender(workspace)
    result = workspace.cli("run")
    assert result.exit_code == 0, result.output
    assert workspace.answers(SENDER) == [] and workspace.answers("006401") == []
    assert _other_sender_accepted(workspace)
    assert {p: p.read_bytes() for p in placed} == before  # read by nobody, removed by nobody
    assert GOOD not in _archived(workspace).values()
    assert workspace.sql("select mailbox from file_sets") == [("007700",)]
    assert "ignoring" in result.stderr and "not a link" in result.stderr


def test_named_pipe_in_the_inbox_is_skipped_without_blocking(workspace: Workspace) -> None:
    folder = workspace.inbox / SENDER / "INTEST"
    folder.mkdir(parents=True)
    os.mkfifo(folder / FI)  # opened for reading, it would block the run for ever
    _put(workspace, GO, b"")
    result = workspace.cli("run")
    assert result.exit_code == 0, result.output
    assert _acrfs(workspace) == [(GO, "0", ["ACRF-120"])]
    assert _inbox_files(workspace) == [folder / FI]


def test_file_swapped_for_a_link_after_the_listing_is_not_read(workspace: Workspace, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "outside" / "secret.xml"
    secret.parent.mkdir()
    secret.write_bytes(GOOD.replace(b"<Quarter>", b"<!-- secret --><Quarter>", 1))
    path = _put(workspace, FI, GOOD)
    _put(workspace, GO, b"")
    real_archive = pipeline.archive_file

    def swap_then_archive(source: Path, root: Path) -> tuple[str, int, Path]:
        if source == path and not source.is_symlink():  # the sender swaps its file between listing and reading
            source.unlink()
            source.symlink_to(secret)
        return real_archive(source, root)

    monkeypatch.setattr(pipeline, "archive_file", swap_then_archive)
    first = workspace.cli("run")
    assert first.exit_code == 0, first.output
    assert workspace.answers() == []  # the set changed while read: left for the next run
    assert secret.read_bytes() not in _archived(workspace).values()
    second = workspace.cli("run")
    assert second.exit_code == 0, second.output
    assert _acrfs(workspace) == [(GO, "0", ["ACRF-120"])]
    assert secret.read_bytes() not in _archived(workspace).values()
    assert path.is_symlink()


# --- 5. one sender writing for another ------------------------------------------------------------------

OTHER = "006401"


def _age(path: Path, hours: int) -> None:
    stamp = path.stat().st_mtime - hours * 3600
    os.utime(path, (stamp, stamp))


def test_go_of_one_sender_with_parts_of_another_in_its_mailbox(workspace: Workspace) -> None:
    own = _put(workspace, f"FI.DMFA.{SENDER}.{DAY}.00001.T.2.1", GOOD[:2000])
    foreign = _put(workspace, f"FI.DMFA.{OTHER}.{DAY}.00001.T.2.2", GOOD[2000:])
    _put(workspace, f"GO.DMFA.{SENDER}.{DAY}.00001.T.2", b"")
    first = workspace.cli("run")
    assert first.exit_code == 0, first.output
    # The foreign part is not part of the set (a set is named by its sender): one part of two arrived.
    assert _acrfs(workspace) == [(f"GO.DMFA.{SENDER}.{DAY}.00001.T.2", "0", ["ACRF-120"])]
    assert _inbox_files(workspace) == [foreign]  # still waiting for a GO of its own
    _age(foreign, 25)  # past intake.go_timeout_hours (24)
    second = workspace.cli("run")
    assert second.exit_code == 0, second.output
    assert _acrfs(workspace)[1] == (foreign.name, "0", ["ACRF-108", "ACRF-130"])
    assert workspace.answers(OTHER) == []  # answered in the mailbox it was found in, never in another
    assert _inbox_files(workspace) == []
    _assert_archived(workspace, GOOD[2000:])
    assert not own.exists()


def test_go_of_one_sender_for_parts_of_another_only(workspace: Workspace) -> None:
    foreign = _put(workspace, f"FI.DMFA.{OTHER}.{DAY}.00001.T.1.1", GOOD)
    _put(workspace, GO, b"")
    assert workspace.cli("run").exit_code == 0
    assert _acrfs(workspace) == [(GO, "0", ["ACRF-120"])]
    _age(foreign, 25)
    assert workspace.cli("run").exit_code == 0
    assert _acrfs(workspace)[1] == (foreign.name, "0", ["ACRF-108", "ACRF-130"])
    assert workspace.answers(OTHER) == [] and _inbox_files(workspace) == []


# --- 6. hostile listings on an SFTP mailbox ---------------------------------------------------------

needs_sshd = pytest.mark.skipif(sshd_binary() is None,
                                reason="OpenSSH sshd is not installed: run scripts/install-sshd (.ci/run does)")
SFTP = "[sftp]\nsettle_seconds = 0.05\nread_timeout_seconds = 2\nconnect_timeout_seconds = 3\n" \
       "retry_base_seconds = 0\npush_attempts = 2\n"


@dataclass
class Remote:
    """The sshd and the remote side of the mailbox it serves (``<root>/<sender>/IN|INTEST|OUT|OUTTEST``)."""

    sshd: LoopbackSshd
    root: Path

    def folder(self, name: str) -> Path:
        return self.root / SENDER / name

    def entries(self, name: str) -> list[str]:
        return sorted(os.listdir(self.folder(name)))


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    sshd = LoopbackSshd(tmp_path / "sshd").start()
    try:
        yield Remote(sshd, tmp_path / "remote")
    finally:
        sshd.stop()


@pytest.fixture
def sftp_ws(tmp_path: Path, remote: Remote, new_db_url: NewDbUrl) -> Workspace:
    """A workspace whose sender 006400 has its mailbox on the loopback sshd."""
    root = tmp_path / "ws"
    write_config(root, SFTP)
    (root / "config" / "known_hosts").write_text(remote.sshd.known_hosts_line, encoding="ascii")
    base = remote.root / SENDER
    for name in ("IN", "INTEST", "OUT", "OUTTEST"):
        (base / name).mkdir(parents=True)
    (root / "config" / "senders").mkdir(parents=True)
    (root / "config" / "senders" / f"{SENDER}.toml").write_text(
        f'number = "{SENDER}"\n[mandates]\nall_employers = true\n[mailbox]\nhost = "127.0.0.1"\n'
        f'port = {remote.sshd.port}\nuser = "{remote.sshd.user}"\nkey_file = "{remote.sshd.client_key}"\n'
        f'in = "{base}/IN"\nintest = "{base}/INTEST"\nout = "{base}/OUT"\nouttest = "{base}/OUTTEST"\n',
        encoding="utf-8")
    ws = Workspace(root, new_db_url(root))
    assert ws.cli("init").exit_code == 0
    return ws


@needs_sshd
def test_hostile_remote_listing_reads_nothing_outside_the_mailbox(sftp_ws: Workspace, remote: Remote,
                                                                 canary: Canary) -> None:
    intest = remote.folder("INTEST")
    escape = f"FI.DMFA.{SENDER}.{DAY}.00007.T.1.1\x1b[31m"
    newline = f"GO.DMFA.{SENDER}.{DAY}.00008.T.1\n"
    hidden = f".GO.DMFA.{SENDER}.{DAY}.00009.T.1"
    folder_named_go = f"GO.DMFA.{SENDER}.{DAY}.00010.T.1"
    linked = f"FI.DMFA.{SENDER}.{DAY}.00011.T.1.1"
    linked_go = f"GO.DMFA.{SENDER}.{DAY}.00011.T.1"
    (intest / escape).write_bytes(GOOD)
    (intest / newline).write_bytes(b"")
    (intest / hidden).write_bytes(b"")
    (intest / folder_named_go).mkdir()
    (intest / linked).symlink_to(canary.path)  # the server would hand out a pipe outside the mailbox
    (intest / linked_go).write_bytes(b"")
    drop_set(remote.root, SENDER, VALID, day=NAME_DAY, seq=12)
    result = sftp_ws.cli("--json", "run")
    assert result.exit_code == 0, result.output
    assert '"sets_pulled": 3' in result.output
    assert remote.entries("INTEST") == sorted([hidden, folder_named_go, linked, linked_go])
    assert canary.opened == 0
    acrfs = [_acrf(remote.folder("OUTTEST") / n) for n in remote.entries("OUTTEST") if n.startswith("FO.ACRF")]
    assert acrfs == [(printable_name(escape), "0", ["ACRF-114"]), (printable_name(newline), "0", ["ACRF-114"]),
                     (f"GO.DMFA.{SENDER}.{DAY}.00012.T.1", "1", [])]
    assert sftp_ws.sql("select name from pulled_files order by name") == sorted(
        [(escape,), (newline,), (f"FI.DMFA.{SENDER}.{DAY}.00012.T.1.1",), (f"GO.DMFA.{SENDER}.{DAY}.00012.T.1",)])
    assert _inbox_files(sftp_ws) == []
    assert all(not name.startswith(".") for name in os.listdir(sftp_ws.inbox / SENDER / "INTEST"))


@needs_sshd
def test_remote_name_that_is_not_utf8_is_a_mailbox_error_and_the_cycle_goes_on(sftp_ws: Workspace,
                                                                              remote: Remote) -> None:
    intest = remote.folder("INTEST")
    with open(os.fsencode(intest / GO) + b"\xff", "wb"):
        pass
    sent = drop_set(remote.root, SENDER, VALID, day=NAME_DAY, seq=2)
    _with_other_sender(sftp_ws)  # the local inbox is still processed
    with pytest.raises(BatchError, match="not UTF-8") as caught:
        sftp_ws.cli("run")
    assert f"mailbox {SENDER}: pull stopped" in str(caught.value)
    assert _other_sender_accepted(sftp_ws)
    assert sorted(os.listdir(os.fsencode(intest))) == sorted(
        [os.fsencode(GO) + b"\xff", *(os.fsencode(p.name) for p in sent)])  # nothing taken, nothing removed
    assert sftp_ws.sql("select status from runs") == [("partial",)]
