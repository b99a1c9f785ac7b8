"""DmfA modifications: a new version of an accepted declaration, every version kept, the NOTI says what changed."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from cbss_batch.dmfa_update_builder import LineEdit, make_dmfa_update
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, Workspace

NAME_DAY = TODAY.replace(day=20)


def _run(ws: Workspace, content: bytes, file_type: str, seq: int) -> etree._Element:
    before = set(ws.answers())
    drop_set(ws.inbox, "006400", content, day=NAME_DAY, seq=seq, file_type=file_type)
    assert ws.cli("run").exit_code == 0
    new = sorted(set(ws.answers()) - before)
    return etree.parse(str(ws.out() / next(n for n in new if n.startswith("FO.NOTI")))).getroot()


def _inszs(content: bytes) -> list[str]:
    return [str(e.text) for e in etree.fromstring(content).iter("INSS")]


def test_a_modification_changes_removes_and_adds_lines_as_a_new_version(workspace: Workspace,
                                                                        official: Path) -> None:
    original = make_dmfa(workers=3, quarter="20253")
    newcomer = make_dmfa(workers=1, quarter="20253", seed=9)
    people = _inszs(original)
    new_person = _inszs(newcomer)[0]
    _run(workspace, original, "DMFA", 1)
    amount_before = workspace.sql("select r.amount from remunerations r join occupations o on o.id = "
                                  "r.occupation_id join worker_records w on w.id = o.worker_record_id join "
                                  f"natural_persons p on p.id = w.person_id where p.insz = '{people[0]}' "
                                  "order by r.id limit 1")[0][0]
    update = make_dmfa_update(original, [LineEdit(people[0], 1, remun_delta=10000), LineEdit(people[1], 0),
                                         LineEdit(new_person, 3, source=newcomer)])
    noti = _run(workspace, update, "DMWA", 2)
    assert etree.XMLSchema(etree.parse(str(official / "xsd" / "Dimona" / "NOTIFICATION_20223.xsd"))).validate(noti)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"
    assert noti.findtext("Form/HandledOriginalForm/Identification") == "DMFAUPD"
    summary = noti.find("Form/ApplicationData/DeclarationChanges")
    assert summary is not None
    assert (summary.get("version"), summary.get("added"), summary.get("changed"), summary.get("removed")) == (
        "2", "1", "1", "1")
    assert [(w.get("action"), w.get("INSS")) for w in summary] == [
        ("changed", people[0]), ("removed", people[1]), ("added", new_person)]
    assert [e.findtext("INSS") for e in noti.findall("Form/WorkerRecordIdentification")] == [
        people[0], people[1], new_person]
    # Every version is kept; the current view has the changed, the untouched and the added line.
    assert workspace.sql("select current_version from declarations") == [(2,)]
    current = workspace.sql("select p.insz, w.version_from from worker_records w join natural_persons p on "
                            "p.id = w.person_id where w.version_to is null order by w.id")
    assert current == [(people[2], 1), (people[0], 2), (new_person, 2)]
    history = workspace.sql("select p.insz, w.version_from, w.version_to from worker_records w join "
                            "natural_persons p on p.id = w.person_id where w.version_to is not null order by w.id")
    assert history == [(people[0], 1, 2), (people[1], 1, 2)]
    amount_after = workspace.sql("select r.amount from remunerations r join occupations o on o.id = "
                                 "r.occupation_id join worker_records w on w.id = o.worker_record_id join "
                                 f"natural_persons p on p.id = w.person_id where p.insz = '{people[0]}' and "
                                 "w.version_to is null order by r.id limit 1")[0][0]
    assert isinstance(amount_before, int) and amount_after == amount_before + 10000
    assert workspace.sql("select version, lines_added, lines_changed, lines_removed, accepted "
                         "from declaration_versions") == [(2, 1, 1, 1, 1)]


def test_a_modification_of_an_unknown_declaration_is_refused(workspace: Workspace) -> None:
    original = make_dmfa(workers=2, quarter="20253")
    noti = _run(workspace, make_dmfa_update(original, [LineEdit(_inszs(original)[0], 1, remun_delta=100)]),
                "DMWA", 1)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "0"
    assert [e.text for e in noti.iter("ErrorID")] == ["90219-151"]


def test_a_modification_of_a_refused_declaration_is_refused(workspace: Workspace) -> None:
    original = make_dmfa(workers=2, quarter="20253", faults=["net_owed_off"])
    _run(workspace, original, "DMFA", 1)
    noti = _run(workspace, make_dmfa_update(original, [LineEdit(_inszs(original)[0], 1, remun_delta=100)]),
                "DMWA", 2)
    assert [e.text for e in noti.iter("ErrorID")] == ["90219-181"]


def test_changing_a_line_twice_needs_its_latest_situation(workspace: Workspace) -> None:
    original = make_dmfa(workers=2, quarter="20253")
    people = _inszs(original)
    _run(workspace, original, "DMFA", 1)
    assert _run(workspace, make_dmfa_update(original, [LineEdit(people[0], 0)]), "DMWA", 2).findtext(
        "Form/HandlingResult/ResultCode") == "1"
    noti = _run(workspace, make_dmfa_update(original, [LineEdit(people[0], 1, remun_delta=5)]), "DMWA", 3)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "0"
    assert [e.text for e in noti.iter("ErrorID")] == ["00610-180"]
    assert workspace.sql("select current_version from declarations") == [(2,)]


def test_the_official_modification_example_is_answered(workspace: Workspace, official: Path) -> None:
    # The official original does not pass our rules (its declared net amount owed does not add up), so
    # the official modification of it is refused, and its second person's INSZ has bad check digits.
    _run(workspace, (official / "examples" / "DmfAOriginal_20223_1.xml").read_bytes(), "DMFA", 1)
    assert workspace.sql("select accepted from declarations") == [(0,)]
    noti = _run(workspace, (official / "examples" / "DmfAUpdate_20223_1.xml").read_bytes(), "DMWA", 2)
    assert etree.XMLSchema(etree.parse(str(official / "xsd" / "Dimona" / "NOTIFICATION_20223.xsd"))).validate(noti)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "0"
    assert [e.text for e in noti.iter("ErrorID")] == ["90219-181", "00024-004"]
    assert noti.find("Form/ApplicationData") is None
