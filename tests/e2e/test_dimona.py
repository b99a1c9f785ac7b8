"""Dimona through the pipeline: IN creates a period in the personnel file, OUT/UPDATE/CANCEL change it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from lxml import etree

from cbss_batch.dimona_builder import DimonaForm, make_dimona
from cbss_batch.rules.dimona import is_valid_period_id
from tests.builders import drop_set
from tests.conftest import TODAY, Workspace

NAME_DAY = TODAY.replace(day=20)
INSZ = "85073003328"


def _send(ws: Workspace, forms: list[DimonaForm], seq: int) -> etree._Element:
    """Drop a DIMN set, run, and return its NOTI."""
    before = set(ws.answers())
    drop_set(ws.inbox, "006400", make_dimona(forms), day=NAME_DAY, seq=seq, file_type="DIMN")
    result = ws.cli("run")
    assert result.exit_code == 0, result.output
    new = sorted(set(ws.answers()) - before)
    notis = [n for n in new if n.startswith("FO.NOTI")]
    assert len(notis) == 1, new
    return etree.parse(str(ws.out() / notis[0])).getroot()


def _period_of(noti: etree._Element, form: int = 1) -> str:
    period = noti.findtext(f"Form[{form}]/HandlingResult/ImpactReport/DimonaImpactReport/DimonaPeriodId")
    assert period is not None
    return period


def test_in_then_out_builds_and_closes_a_period(workspace: Workspace, official: Path) -> None:
    noti = _send(workspace, [DimonaForm(action="IN", starting_date=date(2026, 9, 1), joint_committee="XXX")], 1)
    assert etree.XMLSchema(etree.parse(str(official / "xsd" / "Dimona" / "NOTIFICATION_20223.xsd"))).validate(noti)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"
    assert noti.findtext("Form/HandledOriginalForm/Identification") == "DIMONA"
    period = _period_of(noti)
    assert is_valid_period_id(period)
    assert workspace.sql("select period_id, insz, worker_type, starting_date, ending_date, version "
                         "from employment_periods") == [(period, INSZ, "OTH", "2026-09-01", None, 1)]
    noti = _send(workspace, [DimonaForm(action="OUT", period_id=period, ending_date=date(2026, 10, 31))], 2)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"
    assert noti.findtext("Form/HandlingResult/ImpactReport/DimonaImpactReport/DimonaPeriodAfter/EndingDate") == \
        "2026-10-31"
    assert workspace.sql("select ending_date, version from employment_periods") == [("2026-10-31", 2)]
    assert workspace.sql("select version, action, ending_date from employment_period_versions order by version") \
        == [(1, "IN", None), (2, "OUT", "2026-10-31")]


def test_out_of_an_unknown_period_is_refused(workspace: Workspace) -> None:
    noti = _send(workspace, [DimonaForm(action="OUT", period_id="000000000101", ending_date=date(2026, 10, 31))], 1)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "0"
    assert [e.text for e in noti.iter("ErrorID")] == ["00913-354"]
    assert workspace.sql("select count(*) from employment_periods") == [(0,)]
    assert workspace.sql("select action, accepted from dimona_declarations") == [("OUT", 0)]


def test_cancel_then_update_of_the_cancelled_period_is_refused(workspace: Workspace) -> None:
    noti = _send(workspace, [DimonaForm(action="IN", starting_date=date(2026, 9, 1))], 1)
    period = _period_of(noti)
    noti = _send(workspace, [DimonaForm(action="CANCEL", period_id=period),
                             DimonaForm(action="UPDATE", period_id=period, ending_date=date(2026, 12, 31))], 2)
    results = [f.findtext("HandlingResult/ResultCode") for f in noti.findall("Form")]
    assert results == ["1", "0"]
    assert [e.text for e in noti.find("Form[2]").iter("ErrorID")] == ["00913-355"]
    assert workspace.sql("select is_cancelled, version from employment_periods") == [(1, 2)]


def test_out_before_the_start_is_refused(workspace: Workspace) -> None:
    period = _period_of(_send(workspace, [DimonaForm(action="IN", starting_date=date(2026, 9, 1))], 1))
    noti = _send(workspace, [DimonaForm(action="OUT", period_id=period, ending_date=date(2026, 8, 31))], 2)
    assert [e.text for e in noti.iter("ErrorID")] == ["00911-014"]
    assert workspace.sql("select ending_date from employment_periods") == [(None,)]


def test_a_student_without_planned_hours_is_refused_and_others_in_the_file_pass(workspace: Workspace) -> None:
    noti = _send(workspace, [
        DimonaForm(action="IN", worker_type="STU", starting_date=date(2026, 10, 1), ending_date=date(2026, 10, 31)),
        DimonaForm(action="IN", insz="91111111192", starting_date=date(2026, 10, 1)),
    ], 1)
    assert [f.findtext("HandlingResult/ResultCode") for f in noti.findall("Form")] == ["0", "1"]
    assert [e.text for e in noti.find("Form[1]").iter("ErrorID")] == ["01135-001"]
    assert workspace.sql("select insz from employment_periods") == [("91111111192",)]


def test_official_dimona_example_is_processed(workspace: Workspace, official: Path) -> None:
    content = (official / "examples" / "Dimona_20231_1.xml").read_bytes()
    drop_set(workspace.inbox, "006400", content, day=NAME_DAY, file_type="DIMN")
    assert workspace.cli("run").exit_code == 0
    acrf = etree.parse(str(workspace.out() / "FO.ACRF.999999.20261128.00001.T"))
    assert acrf.findtext("Form/ReceptionResult/ResultCode") == "1"
    noti = etree.parse(str(workspace.out() / "FO.NOTI.999999.20261128.00002.T"))
    assert etree.XMLSchema(etree.parse(str(official / "xsd" / "Dimona" / "NOTIFICATION_20223.xsd"))).validate(noti)
    assert workspace.sql("select action from dimona_declarations") == [("IN",)]


def test_dmfa_worker_without_a_dimona_period_gets_a_warning(workspace: Workspace) -> None:
    from tests.builders import make_dmfa

    noss = "175110801"
    content = make_dmfa(workers=3, quarter="20253", noss=noss)
    inszs = [e.text for e in etree.fromstring(content).iter("INSS")]
    assert len(inszs) == 3
    # Periods for the first two workers: one open since before the quarter, one ending inside it.
    _send(workspace, [DimonaForm(action="IN", noss=noss, insz=inszs[0], starting_date=date(2024, 1, 1)),
                      DimonaForm(action="IN", noss=noss, insz=inszs[1], starting_date=date(2025, 7, 1),
                                 reference="REF-2")], 1)
    out_of_quarter = _send(workspace, [DimonaForm(action="IN", noss=noss, insz=inszs[2],
                                                  starting_date=date(2025, 10, 1))], 2)
    assert out_of_quarter.findtext("Form/HandlingResult/ResultCode") == "1"
    drop_set(workspace.inbox, "006400", content, day=NAME_DAY, seq=3)
    assert workspace.cli("run").exit_code == 0
    noti = etree.parse(str(sorted(workspace.out().glob("FO.NOTI.*"))[-1])).getroot()
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"  # a warning does not refuse
    reports = noti.findall("Form/HandlingResult/AnomalyReport")
    assert [(r.findtext("ErrorID"), r.findtext("AnomalyClass"), r.findtext("Path/INSS")) for r in reports] == [
        ("90017-152", "W", inszs[2])]


def test_the_relation_check_class_is_configurable_and_can_be_off(workspace: Workspace) -> None:
    from tests.builders import make_dmfa
    from tests.conftest import write_config

    noss = "175110801"
    _send(workspace, [DimonaForm(action="IN", noss=noss, starting_date=date(2024, 1, 1))], 1)
    write_config(workspace.root, '[crosschecks]\nmissing_employment_relation = "B"\n')
    drop_set(workspace.inbox, "006400", make_dmfa(workers=1, quarter="20253", noss=noss), day=NAME_DAY, seq=2)
    assert workspace.cli("run").exit_code == 0
    noti = etree.parse(str(sorted(workspace.out().glob("FO.NOTI.*"))[-1])).getroot()
    assert noti.findtext("Form/HandlingResult/ResultCode") == "0"
    assert [e.text for e in noti.iter("ErrorID")] == ["90017-152"]
    write_config(workspace.root, '[crosschecks]\nmissing_employment_relation = "off"\n')
    drop_set(workspace.inbox, "006400", make_dmfa(workers=1, quarter="20253", noss=noss, seed=4), day=NAME_DAY,
             seq=3)
    assert workspace.cli("run").exit_code == 0
    noti = etree.parse(str(sorted(workspace.out().glob("FO.NOTI.*"))[-1])).getroot()
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"
    assert list(noti.iter("ErrorID")) == []


def test_show_by_insz_follows_a_person_across_message_types(workspace: Workspace) -> None:
    import json

    from tests.builders import make_dmfa

    noss = "175110801"
    content = make_dmfa(workers=1, quarter="20253", noss=noss)
    insz = next(etree.fromstring(content).iter("INSS")).text
    assert insz is not None
    period = _period_of(_send(workspace, [DimonaForm(action="IN", noss=noss, insz=insz,
                                                     starting_date=date(2025, 1, 1))], 1))
    _send(workspace, [DimonaForm(action="OUT", noss=noss, insz=insz, period_id=period,
                                 ending_date=date(2025, 12, 31))], 2)
    drop_set(workspace.inbox, "006400", content, day=NAME_DAY, seq=3)
    assert workspace.cli("run").exit_code == 0
    result = workspace.cli("--json", "show", insz)
    assert result.exit_code == 0, result.output
    person = json.loads(result.output)
    assert person["kind"] == "person"
    assert [(p["period_id"], p["starting_date"], p["ending_date"]) for p in person["employment_periods"]] == [
        (period, "2025-01-01", "2025-12-31")]
    assert [v["action"] for v in person["employment_periods"][0]["versions"]] == ["IN", "OUT"]
    assert [d["action"] for d in person["dimona_declarations"]] == ["IN", "OUT"]
    assert [(w["quarter"], w["accepted"]) for w in person["dmfa_worker_lines"]] == [("20253", True)]
    text = workspace.cli("show", insz)
    assert text.exit_code == 0 and f"period {period}" in text.output
