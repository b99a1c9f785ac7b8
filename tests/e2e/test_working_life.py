"""One worker's life through every message type: Dimona IN → two quarterly DmfA → ZIMA001 sickness →
ZIMA006 resumption → DmfA modification → Dimona OUT → WECH001, with the personnel file and every answer."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from lxml import etree

from cbss_batch.dimona_builder import DimonaForm, make_dimona
from cbss_batch.dmfa_update_builder import LineEdit, make_dmfa_update
from cbss_batch.drs_builder import make_risk_declaration
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, Workspace

NAME_DAY = TODAY.replace(day=20)
NOSS = "175110801"


class Mailbox:
    """Sends one set at a time and returns its answers."""

    def __init__(self, ws: Workspace, schema: etree.XMLSchema) -> None:
        self.ws, self.schema, self.seq = ws, schema, 0

    def send(self, content: bytes, file_type: str) -> etree._Element:
        self.seq += 1
        before = set(self.ws.answers())
        drop_set(self.ws.inbox, "006400", content, day=NAME_DAY, seq=self.seq, file_type=file_type)
        assert self.ws.cli("run").exit_code == 0
        new = sorted(set(self.ws.answers()) - before)
        assert [n.split(".")[1] for n in new if n.startswith("FO.")] == ["ACRF", "NOTI"], new
        acrf = etree.parse(str(self.ws.out() / new[0])).getroot()
        assert acrf.findtext("Form/ReceptionResult/ResultCode") == "1"
        noti = etree.parse(str(self.ws.out() / new[1])).getroot()
        assert self.schema.validate(noti), self.schema.error_log
        return noti


def _accepted_clean(noti: etree._Element) -> None:
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"
    assert [e.text for e in noti.iter("ErrorID")] == []


def test_a_working_life(workspace: Workspace, official: Path) -> None:
    mailbox = Mailbox(workspace, etree.XMLSchema(etree.parse(
        str(official / "xsd" / "Dimona" / "NOTIFICATION_20223.xsd"))))
    q2 = make_dmfa(workers=1, quarter="20252", seed=1, noss=NOSS)
    q3 = make_dmfa(workers=1, quarter="20253", seed=1, noss=NOSS)
    insz = str(next(etree.fromstring(q2).iter("INSS")).text)

    # Start of employment.
    noti = mailbox.send(make_dimona([DimonaForm(action="IN", noss=NOSS, insz=insz, starting_date=date(2025, 4, 1))]),
                        "DIMN")
    _accepted_clean(noti)
    period = noti.findtext("Form/HandlingResult/ImpactReport/DimonaImpactReport/DimonaPeriodId")
    assert period is not None

    # Two quarters: the personnel file covers both, so no relation warning.
    _accepted_clean(mailbox.send(q2, "DMFA"))
    _accepted_clean(mailbox.send(q3, "DMFA"))

    # Sickness from 6 October, back to work on 3 November.
    person = {"INSS": insz, "NOSSRegistrationNbr": NOSS, "CompanyID": "0"}
    _accepted_clean(mailbox.send(make_risk_declaration("ZIMA001", {
        **person, "IdentificationOfRisk": "001", "RiskStartingDate": "2025-10-06",
        "LastWorkingDayDate": "2025-10-03", "RemunerationTimeUnit": "4", "RemunerationBasisAmount": "350000"}),
        "ZIMA"))
    _accepted_clean(mailbox.send(make_risk_declaration("ZIMA006", {**person, "WorkRecoveryDate": "2025-11-03"}),
                                 "ZIMA"))

    # The third quarter's wages are corrected.
    noti = mailbox.send(make_dmfa_update(q3, [LineEdit(insz, 1, remun_delta=25000)]), "DMWA")
    _accepted_clean(noti)
    assert noti.find("Form/ApplicationData/DeclarationChanges").get("changed") == "1"

    # End of employment, then the C4: both agree on the last day.
    _accepted_clean(mailbox.send(make_dimona([DimonaForm(action="OUT", noss=NOSS, insz=insz, period_id=period,
                                                         ending_date=date(2025, 12, 31))]), "DIMN"))
    c4 = {**person, "IdentificationOfRisk": "001", "OccupationStartingDate": "2025-04-01",
          "OccupationEndingDate": "2025-12-31"}
    _accepted_clean(mailbox.send(make_risk_declaration("WECH001", c4), "WECH"))
    # A C4 that disagrees with the Dimona OUT is refused.
    noti = mailbox.send(make_risk_declaration("WECH001", {**c4, "OccupationEndingDate": "2025-12-15"}), "WECH")
    assert [e.text for e in noti.iter("ErrorID")] == ["00045-008"]

    # The personnel file and the person's history across all message types.
    assert workspace.sql("select period_id, starting_date, ending_date, version from employment_periods") == [
        (period, "2025-04-01", "2025-12-31", 2)]
    assert workspace.sql("select quarter, current_version, accepted from declarations order by quarter") == [
        ("20252", 1, 1), ("20253", 2, 1)]
    result = workspace.cli("--json", "show", insz)
    history = json.loads(result.output)
    assert [d["action"] for d in history["dimona_declarations"]] == ["IN", "OUT"]
    assert [(w["quarter"], w["versions"]) for w in history["dmfa_worker_lines"]] == [
        ("20252", [1, None]), ("20253", [1, 2]), ("20253", [2, None])]
    assert [(r["scenario"], r["accepted"]) for r in history["risk_declarations"]] == [
        ("ZIMA001", True), ("ZIMA006", True), ("WECH001", True), ("WECH001", False)]
