"""Reprocessing with today's rules and parameters: a dry run shows the deltas, applying writes new answers once."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from lxml import etree

from cbss_batch import loading
from cbss_batch.config import BUNDLED_PARAMETERS
from cbss_batch.errors import ConfigError, NotFound
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, Workspace, write_config
from tests.e2e.test_drs import MAN, zima001

DAY = TODAY.replace(day=20)
OLD_RATE, NEW_RATE = "0.1307", "0.1310"


def _workspace(tmp_path: Path, new_db_url: NewDbUrl) -> Workspace:
    root = tmp_path / "ws"
    write_config(root)
    shutil.copytree(BUNDLED_PARAMETERS, root / "config" / "parameters")  # this workspace's own rates
    (root / "config" / "institutions").mkdir()
    (root / "config" / "institutions" / "pensions.toml").write_text(
        'name = "pensions"\n[[subscriptions]]\nkind = "dmfa"\n[[subscriptions]]\nkind = "risk"\n')
    ws = Workspace(root, new_db_url(root))
    assert ws.cli("init").exit_code == 0
    return ws


def _set_worker_rate(ws: Workspace, value: str) -> None:
    path = ws.root / "config" / "parameters" / "contributions.toml"
    text = path.read_text(encoding="utf-8")
    assert f'value = "{OLD_RATE}"' in text
    path.write_text(text.replace(f'value = "{OLD_RATE}"', f'value = "{value}"', 1), encoding="utf-8")


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _bases(content: bytes) -> dict[tuple[str, str], int]:
    """Independently of the program: (INSZ, worker code) → declared basis in cents of its worker contribution."""
    found = {}
    for person in etree.fromstring(content).iter("NaturalPerson"):
        for record in person.iter("WorkerRecord"):
            for contribution in record.iter("WorkerContribution"):
                basis = contribution.findtext("ContributionCalculationBasis")
                if basis:
                    found[(person.findtext("INSS") or "", record.findtext("WorkerCode") or "")] = int(basis)
    return found


def test_a_changed_rate_is_shown_by_the_dry_run_then_applied_once(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url)
    content = make_dmfa(workers=6, quarter="20253", seed=2)
    drop_set(ws.inbox, "006400", content, day=DAY)
    assert ws.cli("run").exit_code == 0
    assert ws.cli("extract").exit_code == 0
    before = _hashes(ws.out())
    _set_worker_rate(ws, NEW_RATE)

    dry = ws.cli("--json", "reprocess", "--type", "DMFA", "--dry-run")
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["dry_run"] is True
    [declaration] = report["sets"][0]["declarations"]
    bases = _bases(content)
    assert len(declaration["lines"]) == len(bases)  # every worker line pays the worker rate
    for line in declaration["lines"]:
        basis = bases[(line["insz"], line["worker_code"])]
        expected = (Decimal(basis) * (Decimal(NEW_RATE) - Decimal(OLD_RATE))).quantize(Decimal(1), ROUND_HALF_UP)
        assert abs(line["delta_cents"] - int(expected)) <= 1  # two roundings to the cent, one each side
        assert line["delta_cents"] == line["new_cents"] - line["old_cents"] > 0
    owed = declaration["net_owed_cents"]
    assert owed["delta"] == sum(line["delta_cents"] for line in declaration["lines"])
    assert "00085-044/P" in declaration["anomalies"]["added"]
    assert _hashes(ws.out()) == before  # a dry run writes nothing
    assert ws.sql("select net_owed_computed from declarations")[0][0] == owed["old"]

    applied = ws.cli("--json", "reprocess", "--type", "DMFA")
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output)["sets"][0]["declarations"] == report["sets"][0]["declarations"]
    after = _hashes(ws.out())
    assert {name: after[name] for name in before} == before  # old answers untouched
    new = sorted(set(after) - set(before))
    assert sorted(n.split(".")[1] for n in new if n.startswith("FO.")) == ["DMNO", "NOTI"]
    dmno = etree.parse(str(ws.out() / next(n for n in new if n.startswith("FO.DMNO")))).getroot()
    assert len(list(dmno.iter("WorkerRecordUpdateNotif"))) == len(bases)
    assert ws.sql("select net_owed_computed from declarations")[0][0] == owed["new"]

    # the institution receives the corrected contributions
    assert ws.cli("extract").exit_code == 0
    extracts = sorted((ws.outbox / "institutions" / "pensions").glob("FO.*"))
    assert len(extracts) == 2
    corrected = etree.parse(str(extracts[1])).getroot()
    assert {r.findtext("Mutation") for r in corrected.iter("ExtractRecord")} == {"changed"}
    new_amounts = {(line["insz"], line["worker_code"]): line["new_cents"] for line in declaration["lines"]}
    for line in corrected.iter("DmfAWorkerLine"):
        amounts = [int(c.findtext("ContributionAmount") or 0) for c in line.iter("WorkerContribution")
                   if c.findtext("ContributionCorrected") == "true"]
        assert amounts == [new_amounts[(line.findtext("INSS"), line.findtext("WorkerCode"))]]

    again = ws.cli("--json", "reprocess", "--type", "DMFA")
    assert json.loads(again.output)["sets"][0]["declarations"] == []
    assert _hashes(ws.out()) == after  # the second application is a no-op


def test_benefits_are_recomputed_for_social_risks(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url)
    # CALCULATIONS.md §3.6: monthly gross 4 000.00 → daily wage 153.8462; sickness 60 % = 92.31 a day
    drop_set(ws.inbox, "006400", zima001(insz=MAN, risk="001", start=date(2025, 1, 15), last_day=date(2025, 1, 14),
                                         amount=400000), day=DAY, file_type="ZIMA")
    assert ws.cli("run").exit_code == 0
    unchanged = ws.cli("--json", "reprocess", "--type", "ZIMA", "--dry-run")
    assert json.loads(unchanged.output)["sets"][0]["declarations"] == []
    path = ws.root / "config" / "parameters" / "benefits.toml"
    text = path.read_text(encoding="utf-8")
    head = "[benefits.sickness.primary.rate]"
    before, after = text.split(head, 1)
    path.write_text(before + head + after.replace('value = "0.60"', 'value = "0.65"', 1), encoding="utf-8")
    dry = json.loads(ws.cli("--json", "reprocess", "--type", "ZIMA", "--dry-run").output)
    [declaration] = dry["sets"][0]["declarations"]
    assert declaration["benefits"] == {  # 153.8462 × 65 % = 100.00
        "old": ["sickness.primary_incapacity/days 31-365: 92.31 EUR a day"],
        "new": ["sickness.primary_incapacity/days 31-365: 100.00 EUR a day"]}
    ws.cli("reprocess", "--type", "ZIMA")
    assert ws.sql("select daily_amount from benefit_calculations") == [("100.00",)]
    assert json.loads(ws.cli("--json", "reprocess", "--type", "ZIMA").output)["sets"][0]["declarations"] == []


def test_a_failed_set_is_processed_again(tmp_path: Path, new_db_url: NewDbUrl, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _workspace(tmp_path, new_db_url)
    drop_set(ws.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY)
    real = loading.load_dmfa

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("a defect")

    monkeypatch.setattr(loading, "load_dmfa", broken)
    assert ws.cli("run").exit_code == 0
    assert ws.sql("select state from file_sets") == [("failed",)]
    monkeypatch.setattr(loading, "load_dmfa", real)
    dry = json.loads(ws.cli("--json", "reprocess", "--failed", "--dry-run").output)
    assert dry["sets"][0]["action"] == "processed-again" and dry["sets"][0]["applied"] is False
    result = ws.cli("--json", "reprocess", "--failed")
    assert json.loads(result.output)["sets"][0]["applied"] is True
    assert ws.sql("select state from file_sets") == [("accepted",)]
    assert any(n.startswith("FO.NOTI") for n in ws.answers())
    with pytest.raises(NotFound):
        ws.cli("reprocess", "--failed")  # nothing failed any more


def test_reprocess_needs_a_criterion(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url)
    with pytest.raises(ConfigError, match="say what to reprocess"):
        ws.cli("reprocess")


def test_selection_by_declaration_ticket_and_sender(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _workspace(tmp_path, new_db_url)
    drop_set(ws.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY)
    drop_set(ws.inbox, "007700", make_dmfa(workers=2, quarter="20253", seed=8), day=DAY)
    ws.cli("run")
    [(ticket,)] = ws.sql("select d.ticket from declarations d join file_sets s on s.id = d.set_id "
                         "where s.mailbox = '007700'")
    by_ticket = json.loads(ws.cli("--json", "reprocess", "--ticket", ticket, "--dry-run").output)
    by_sender = json.loads(ws.cli("--json", "reprocess", "--sender", "007700", "--dry-run").output)
    assert [s["ticket"] for s in by_ticket["sets"]] == [s["ticket"] for s in by_sender["sets"]]
    assert len(by_ticket["sets"]) == 1
