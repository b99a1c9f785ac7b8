"""Mandates: a sender declares only for the employers it holds a mandate for; unregistered senders."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from cbss_batch.dimona_builder import DimonaForm, make_dimona
from cbss_batch.errors import ConfigError
from cbss_batch.senders import load_senders
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, Workspace, write_config

DAY = TODAY.replace(day=20)
MANDATED = "175110801"  # Form 1's employer in the generated file; Form 2's is 047745533


def _workspace(tmp_path: Path, new_db_url: NewDbUrl, mandates: str, extra: str = "") -> Workspace:
    root = tmp_path / "ws"
    write_config(root, extra)
    senders = root / "config" / "senders"
    senders.mkdir(parents=True)
    (senders / "006400.toml").write_text(f'number = "006400"\n[mandates]\n{mandates}', encoding="utf-8")
    ws = Workspace(root, new_db_url(root))
    assert ws.cli("init").exit_code == 0
    return ws


def _noti(ws: Workspace) -> etree._Element:
    return etree.parse(str(next(ws.out().glob("FO.NOTI.*")))).getroot()


def _results(noti: etree._Element) -> list[tuple[str, list[str]]]:
    return [(form.findtext("HandlingResult/ResultCode") or "", [e.text or "" for e in form.iter("ErrorID")
                                                                 if e.text and e.text.endswith(("101", "155"))])
            for form in noti.findall("Form")]


def test_declaration_for_an_employer_without_mandate_is_refused_alone(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url, f'noss = ["{MANDATED}"]\n')
    drop_set(ws.inbox, "006400", make_dmfa(workers=2, declarations=2, quarter="20253", noss=MANDATED), day=DAY)
    assert ws.cli("run").exit_code == 0
    assert _results(_noti(ws)) == [("1", []), ("0", ["00011-101"])]
    anomaly = _noti(ws).findall("Form")[1].find("HandlingResult/AnomalyReport[ErrorID='00011-101']")
    assert anomaly is not None
    assert anomaly.findtext("AnomalyClass") == "B"
    assert anomaly.findtext("Value") == "047745533"


def test_expired_mandate_gives_155(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    mandates = f'noss = [{{ number = "{MANDATED}", from = 2020-01-01, until = 2026-06-30 }}]\n'
    ws = _workspace(tmp_path, new_db_url, mandates)
    drop_set(ws.inbox, "006400", make_dmfa(workers=2, quarter="20253", noss=MANDATED), day=DAY)
    ws.cli("run")
    assert _results(_noti(ws)) == [("0", ["00011-155"])]


def test_mandate_by_enterprise_number_covers_a_dimona_without_noss_number(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url, 'kbo = ["0403170701"]\n')
    form = DimonaForm(action="IN", noss=None, starting_date=date(2026, 9, 1))
    xml = make_dimona([form]).replace(b"</StartingDate>", b"</StartingDate><EmployerId><CompanyID>0403170701"
                                                          b"</CompanyID></EmployerId>", 1)
    drop_set(ws.inbox, "006400", xml, day=DAY, file_type="DIMN")
    ws.cli("run")
    assert _results(_noti(ws)) == [("1", [])]


def test_dimona_for_an_unmandated_employer_creates_no_period(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url, 'kbo = ["0403170701"]\n')
    drop_set(ws.inbox, "006400", make_dimona([DimonaForm(action="IN", starting_date=date(2026, 9, 1))]), day=DAY,
             file_type="DIMN")
    ws.cli("run")
    assert _results(_noti(ws)) == [("0", ["00011-101"])]
    assert ws.sql("select count(*) from employment_periods") == [(0,)]


def test_all_employers_mandate_accepts_any_employer(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url, "all_employers = true\n")
    drop_set(ws.inbox, "006400", make_dmfa(workers=2, declarations=2, quarter="20253"), day=DAY)
    ws.cli("run")
    assert _results(_noti(ws)) == [("1", []), ("1", [])]


def test_unregistered_sender_is_refused_with_103_when_configured(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url, "all_employers = true\n", '[intake]\nunregistered_senders = "refuse"\n')
    drop_set(ws.inbox, "007700", make_dmfa(workers=1, quarter="20253"), day=DAY)
    drop_set(ws.inbox, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)
    ws.cli("run")
    refused = etree.parse(str(next(ws.out("007700").glob("FO.ACRF.*")))).getroot()
    assert [e.text for e in refused.iter("ErrorID")] == ["ACRF-103"]
    accepted = etree.parse(str(next(ws.out("006400").glob("FO.ACRF.*")))).getroot()
    assert accepted.findtext("Form/ReceptionResult/ResultCode") == "1"


def test_unregistered_sender_is_accepted_by_default(workspace: Workspace) -> None:
    ws = workspace
    drop_set(ws.inbox, "007700", make_dmfa(workers=1, quarter="20253"), day=DAY)
    ws.cli("run")
    acrf = etree.parse(str(next(ws.out("007700").glob("FO.ACRF.*")))).getroot()
    assert acrf.findtext("Form/ReceptionResult/ResultCode") == "1"


@pytest.mark.parametrize(("text", "message"), [
    ('number = "006400"\n', "[mandates] is missing"),
    ('number = "6400"\n[mandates]\n', "number must be the 6-digit"),
    ('number = "006400"\n[mandates]\nnoss = ["12"]\n', "mandates.noss must be 9-digit"),
    ('number = "006400"\n[mandates]\nall_employers = "yes"\n', "all_employers must be true or false"),
    ('number = "006400"\n[mandates]\nall_employers = true\n[mailbox]\nhost = "h"\nuser = "u"\n',
     "exactly one of key_file"),
    ('number = "006400"\n[mandates]\nall_employers = true\n[mailbox]\nhost = "h"\nuser = "u"\nkey_env = "K"\n'
     'after_pull = "shred"\n', "after_pull"),
])
def test_sender_file_errors_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "006400.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="006400.toml") as caught:
        load_senders(tmp_path)
    assert message in str(caught.value)


def test_sender_file_must_be_named_after_its_number(tmp_path: Path) -> None:
    (tmp_path / "payroll.toml").write_text('number = "006400"\n[mandates]\nall_employers = true\n')
    with pytest.raises(ConfigError, match="must be named 006400.toml"):
        load_senders(tmp_path)
