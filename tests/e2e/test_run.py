"""A DmfA set travels end to end: inbox → `cbss-batch run` → ACRF + NOTI in the outbox, rows in the database."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from lxml import etree

from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, Workspace

NAME_DAY = TODAY.replace(day=20)


def _schema(official: Path, name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(official / "xsd" / "Dimona" / name)))


def _xml(path: Path) -> etree._Element:
    return etree.parse(str(path)).getroot()


def test_valid_set_gets_positive_acrf_and_accepting_noti(workspace: Workspace, official: Path) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=3, quarter="20253"), day=NAME_DAY)
    result = workspace.cli("run")
    assert result.exit_code == 0, result.output
    assert "1 sets: 1 accepted" in result.output
    assert workspace.answers() == [
        "FO.ACRF.999999.20261128.00001.T", "FO.NOTI.999999.20261128.00002.T",
        "GO.ACRF.999999.20261128.00001.T", "GO.NOTI.999999.20261128.00002.T"]
    acrf = _xml(workspace.out() / "FO.ACRF.999999.20261128.00001.T")
    assert _schema(official, "ACRF_20231.xsd").validate(acrf)
    assert acrf.findtext("Form/FileReference/FileName") == "GO.DMFA.006400.20261120.00001.T.1"
    assert acrf.findtext("Form/ReceptionResult/ResultCode") == "1"
    assert acrf.findall("Form/ReceptionResult/ErrorID") == []
    ticket = acrf.findtext("Form/FileReference/ReferenceNbr")
    noti = _xml(workspace.out() / "FO.NOTI.999999.20261128.00002.T")
    assert _schema(official, "NOTIFICATION_20223.xsd").validate(noti)
    assert noti.findtext("Form/FileReference/ReferenceNbr") == ticket
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"
    assert noti.findall("Form/HandlingResult/AnomalyReport") == []
    assert (workspace.out() / "GO.NOTI.999999.20261128.00002.T").read_bytes() == b""
    # The inbox is empty, every byte is archived under its hash, the staging rows are there.
    assert list((workspace.inbox / "006400" / "INTEST").iterdir()) == []
    assert workspace.sql("select state, result_code from file_sets") == [("accepted", 1)]
    assert workspace.sql("select count(*) from natural_persons") == [(3,)]
    assert workspace.sql("select accepted, persons from declarations") == [(1, 3)]
    for (sha, path) in workspace.sql("select sha256, archive_path from received_files"):
        assert hashlib.sha256(Path(str(path)).read_bytes()).hexdigest() == sha


def test_bad_insz_refuses_the_declaration_with_its_location(workspace: Workspace, official: Path) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=4, quarter="20253", faults=["bad_insz"]), day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    noti = _xml(workspace.out() / "FO.NOTI.999999.20261128.00002.T")
    assert _schema(official, "NOTIFICATION_20223.xsd").validate(noti)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "0"
    reports = noti.findall("Form/HandlingResult/AnomalyReport")
    assert [r.findtext("ErrorID") for r in reports] == ["00024-004"]
    report = reports[0]
    assert report.findtext("AnomalyClass") == "B"
    assert int(report.findtext("AnomalyLocation/LineNbr")) > 0
    assert int(report.findtext("AnomalyLocation/ColumnNbr")) > 0
    assert report.findtext("Path/INSS") is not None and len(report.findtext("Path/INSS")) == 11
    assert workspace.sql("select accepted, result_code from declarations") == [(0, 0)]
    assert workspace.sql("select code, anomaly_class from anomalies") == [("00024-004", "B")]


def test_one_refused_declaration_leaves_the_others_accepted(workspace: Workspace) -> None:
    content = make_dmfa(workers=6, declarations=3, quarter="20253", faults=["duplicate_insz"])
    drop_set(workspace.inbox, "006400", content, day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    noti = _xml(workspace.out() / "FO.NOTI.999999.20261128.00002.T")
    results = [f.findtext("HandlingResult/ResultCode") for f in noti.findall("Form")]
    assert sorted(results) == ["0", "1", "1"]
    codes = [e.text for e in noti.iter("ErrorID")]
    assert codes == ["90017-006"]
    tickets = [f.findtext("HandledReference/ReferenceNbr") for f in noti.findall("Form")]
    assert len(set(tickets)) == 3


def test_net_owed_amount_off_by_one_cent_is_refused(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253", faults=["net_owed_off"]), day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    noti = _xml(workspace.out() / "FO.NOTI.999999.20261128.00002.T")
    report = noti.find("Form/HandlingResult/AnomalyReport")
    assert report is not None
    assert report.findtext("ErrorID") == "00015-007"
    declared, computed = workspace.sql("select net_owed_declared, net_owed_computed from declarations")[0]
    assert isinstance(declared, int) and isinstance(computed, int)
    assert abs(declared - computed) == 1


def test_multi_part_set_is_reassembled_in_part_order(workspace: Workspace) -> None:
    content = make_dmfa(workers=40, quarter="20253")
    paths = drop_set(workspace.inbox, "006400", content, day=NAME_DAY, parts=3)
    assert [p.name for p in paths][-1] == "GO.DMFA.006400.20261120.00001.T.3"
    assert workspace.cli("run").exit_code == 0
    assert workspace.sql("select state, content_sha256 from file_sets") == [
        ("accepted", hashlib.sha256(content).hexdigest())]
    assert workspace.sql("select count(*) from natural_persons") == [(40,)]


def test_set_without_go_waits_and_is_not_answered(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=1, quarter="20253"), day=NAME_DAY, go=False)
    assert workspace.cli("run").exit_code == 0
    assert workspace.answers() == []
    assert len(list((workspace.inbox / "006400" / "INTEST").iterdir())) == 1


def test_td_cancels_the_set_without_processing(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=1, quarter="20253"), day=NAME_DAY)
    (workspace.inbox / "006400" / "INTEST" / "TD.DMFA.006400.20261120.00001.T.1").write_bytes(b"")
    assert workspace.cli("run").exit_code == 0
    assert workspace.answers() == []
    assert workspace.sql("select state from file_sets") == [("cancelled",)]
    assert workspace.sql("select count(*) from received_files") == [(3,)]
    assert workspace.sql("select count(*) from declarations") == [(0,)]


def test_production_set_is_answered_in_out(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=1, quarter="20253"), day=NAME_DAY, env="R")
    assert workspace.cli("run").exit_code == 0
    assert workspace.answers(folder="OUT") == [
        "FO.ACRF.999999.20261128.00001.R", "FO.NOTI.999999.20261128.00002.R",
        "GO.ACRF.999999.20261128.00001.R", "GO.NOTI.999999.20261128.00002.R"]


def test_official_example_is_processed(workspace: Workspace, official: Path) -> None:
    content = (official / "examples" / "DmfAOriginal_20223_1.xml").read_bytes()
    drop_set(workspace.inbox, "006400", content, day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    acrf = _xml(workspace.out() / "FO.ACRF.999999.20261128.00001.T")
    assert acrf.findtext("Form/ReceptionResult/ResultCode") == "1"
    noti = _xml(workspace.out() / "FO.NOTI.999999.20261128.00002.T")
    assert _schema(official, "NOTIFICATION_20223.xsd").validate(noti)
    assert noti.findtext("Form/EmployerId/NOSSRegistrationNbr") == "199999934"
    assert workspace.sql("select persons from declarations") == [(7,)]


def test_second_run_changes_nothing(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    before = {p.name: p.read_bytes() for p in workspace.out().iterdir()}
    result = workspace.cli("run")
    assert result.exit_code == 0
    assert "0 sets" in result.output
    assert {p.name: p.read_bytes() for p in workspace.out().iterdir()} == before


def test_crash_after_recording_resumes_from_the_archive(workspace: Workspace,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from cbss_batch import pipeline

    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=NAME_DAY)

    def crash(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(pipeline, "process_set", crash)
    assert workspace.cli("run").exit_code == 1  # the run stopped
    assert workspace.sql("select state from file_sets") == [("received",)]
    monkeypatch.undo()
    assert workspace.cli("run").exit_code == 0
    assert workspace.sql("select state from file_sets") == [("accepted",)]
    assert [n for n in workspace.answers() if n.startswith("FO.ACRF")] == ["FO.ACRF.999999.20261128.00001.T"]


def test_crash_before_delivery_delivers_once_on_next_run(workspace: Workspace,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from cbss_batch import pipeline

    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=NAME_DAY)

    def crash(*_args: object, **_kwargs: object) -> int:
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(pipeline, "deliver_pending", crash)
    assert workspace.cli("run").exit_code == 1  # the run stopped
    assert workspace.answers() == []
    monkeypatch.undo()
    assert workspace.cli("run").exit_code == 0
    assert len(workspace.answers()) == 4
    assert workspace.sql("select count(*) from outbound_messages where state = 'written'") == [(2,)]


def test_duplicate_content_acrf_names_the_original_ticket_and_is_exact(workspace: Workspace, official: Path) -> None:
    content = make_dmfa(workers=2, quarter="20253")
    drop_set(workspace.inbox, "006400", content, day=NAME_DAY, seq=1)
    assert workspace.cli("run").exit_code == 0
    drop_set(workspace.inbox, "006400", content, day=NAME_DAY, seq=2)
    assert workspace.cli("run").exit_code == 0
    path = workspace.out() / "FO.ACRF.999999.20261128.00003.T"
    assert path.read_text(encoding="utf-8") == """<?xml version='1.0' encoding='UTF-8'?>
<ACRF>
  <Form>
    <Identification>ACRF001</Identification>
    <FormCreationDate>2026-11-28</FormCreationDate>
    <FormCreationHour>12:00:00.000</FormCreationHour>
    <AttestationStatus>0</AttestationStatus>
    <TypeForm>FA</TypeForm>
    <FileReference>
      <FileName>GO.DMFA.006400.20261120.00002.T.1</FileName>
      <ReferenceOrigin>2</ReferenceOrigin>
      <ReferenceNbr>CB2026112800000003</ReferenceNbr>
    </FileReference>
    <ReceptionResult>
      <ResultCode>0</ResultCode>
      <ErrorID>ACRF-133</ErrorID>
      <!-- duplicate of the set received under ticket CB2026112800000001 -->
    </ReceptionResult>
  </Form>
</ACRF>
"""
    assert _schema(official, "ACRF_20231.xsd").validate(etree.parse(str(path)))
    assert workspace.sql("select ticket, state, duplicate_of from file_sets order by id") == [
        ("CB2026112800000001", "accepted", None), ("CB2026112800000003", "rejected", "CB2026112800000001")]
    # The duplicate is found while it is staged (its hash is computed alongside): nothing of it stays.
    assert workspace.sql("select count(*), min(set_id), max(set_id) from natural_persons") == [(2, 1, 1)]
    assert workspace.sql("select set_id from declarations") == [(1,)]


def test_files_left_without_go_get_acrf_130_after_the_timeout(workspace: Workspace) -> None:
    import os

    paths = drop_set(workspace.inbox, "006400", make_dmfa(workers=1, quarter="20253"), day=NAME_DAY, go=False)
    assert workspace.cli("run").exit_code == 0
    assert workspace.answers() == []
    old = paths[0].stat().st_mtime - 25 * 3600
    os.utime(paths[0], (old, old))
    assert workspace.cli("run").exit_code == 0
    acrf = _xml(workspace.out() / "FO.ACRF.999999.20261128.00001.T")
    assert [e.text for e in acrf.iter("ErrorID")] == ["ACRF-130"]
    assert acrf.findtext("Form/FileReference/FileName") == "FI.DMFA.006400.20261120.00001.T.1.1"


def test_large_answers_travel_as_zip(workspace: Workspace) -> None:
    import zipfile

    from tests.conftest import write_config

    write_config(workspace.root, "[outbox]\ncompress_above_bytes = 1000\n")
    drop_set(workspace.inbox, "006400", make_dmfa(workers=3, quarter="20253", faults=["bad_insz"]), day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    assert workspace.answers() == [
        "CO.NOTI.999999.20261128.00002.T", "FO.ACRF.999999.20261128.00001.T",
        "GO.ACRF.999999.20261128.00001.T", "GO.NOTI.999999.20261128.00002.T"]
    with zipfile.ZipFile(workspace.out() / "CO.NOTI.999999.20261128.00002.T") as archive:
        assert archive.namelist() == ["FO.NOTI.999999.20261128.00002.T"]
        noti = etree.fromstring(archive.read("FO.NOTI.999999.20261128.00002.T"))
    assert noti.findtext("Form/HandlingResult/AnomalyReport/ErrorID") == "00024-004"


def test_a_second_run_at_the_same_time_is_refused(workspace: Workspace) -> None:
    import fcntl

    lock = workspace.root / "var" / "work" / "run.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    import subprocess
    import sys

    with lock.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = subprocess.run([sys.executable, "-m", "cbss_batch", "--db", workspace.db_url, "run"],
                                cwd=workspace.root, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: another cbss-batch run is working on this workspace")


def test_logs_never_show_a_full_national_number() -> None:
    from cbss_batch.logging_setup import MaskInsz

    record = __import__("logging").LogRecord("x", 20, "f", 1, "person %s refused", ("85073003328",), None)
    assert MaskInsz().filter(record)
    assert record.getMessage() == "person 850730-***-** refused"


def test_a_refused_name_interrupted_before_its_answer_is_answered_on_the_next_run(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from cbss_batch import pipeline

    bad = workspace.inbox / "006400" / "INTEST" / "GO.DMFA.006400.2026112.00001.T.1"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"")

    def crash(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(pipeline, "_reject", crash)
    assert workspace.cli("run").exit_code == 1
    assert workspace.sql("select state from file_sets") == [("received",)]
    monkeypatch.undo()
    assert workspace.cli("run").exit_code == 0
    acrf = _xml(workspace.out() / "FO.ACRF.999999.20261128.00001.T")
    assert [e.text for e in acrf.iter("ErrorID")] == ["ACRF-109"]


def test_large_parts_are_archived_side_by_side_each_under_its_own_hash(workspace: Workspace,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from cbss_batch import pipeline

    monkeypatch.setattr(pipeline, "ARCHIVE_PARALLEL_BYTES", 1)  # every part of this small set counts as large
    content = make_dmfa(workers=40, quarter="20253")
    paths = drop_set(workspace.inbox, "006400", content, day=NAME_DAY, parts=3)
    expected = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert workspace.cli("run").exit_code == 0
    recorded = dict(workspace.sql("select name, sha256 from received_files"))
    assert recorded == expected
    archive = workspace.root / "var" / "archive"
    assert sorted(p.name for p in archive.rglob("*") if p.is_file()) == sorted(set(expected.values()))
    assert workspace.sql("select state, content_sha256 from file_sets") == [
        ("accepted", hashlib.sha256(content).hexdigest())]
