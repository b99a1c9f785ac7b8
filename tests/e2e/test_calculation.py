"""Declared versus computed contributions: class P anomalies, a DMNO with the declared and corrected
amounts (checked against an independent computation and the official schema), our figures kept."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from lxml import etree

from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, Workspace

NAME_DAY = TODAY.replace(day=20)
BASIS_CODES = {"001", "002", "003", "004", "005", "006", "007"}


def _own_amount(record: etree._Element) -> int:
    """Independent computation of the ordinary contribution (CALCULATIONS.md §1.1–1.3): 38.07 % of the
    basis, 108 % of the gross for a blue-collar worker (015), each rounded half-up to the cent."""
    gross = sum(int(r.findtext("RemunAmount") or 0) for r in record.iter("Remun")
                if r.findtext("RemunCode") in BASIS_CODES)
    basis = Decimal(gross)
    if record.findtext("WorkerCode") == "015":
        basis = (basis * Decimal("1.08")).quantize(Decimal(1), ROUND_HALF_UP)
    return int((basis * Decimal("0.3807")).quantize(Decimal(1), ROUND_HALF_UP))


def _contribution(record: etree._Element, code: str) -> etree._Element:
    return next(c for c in record.iter("WorkerContribution") if c.findtext("ContributionWorkerCode") == code)


def test_wrong_and_missing_contributions_are_corrected_with_a_dmno(workspace: Workspace, official: Path) -> None:
    document = etree.fromstring(make_dmfa(workers=2, quarter="20253", seed=11))
    records = list(document.iter("WorkerRecord"))
    first_code = records[0].findtext("WorkerCode") or ""
    own = _contribution(records[0], first_code)
    own.find("ContributionAmount").text = f"{int(own.findtext('ContributionAmount')) + 100:011d}"  # type: ignore[union-attr]
    missing = _contribution(records[1], "255")
    missing_amount = int(missing.findtext("ContributionAmount") or 0)
    missing.getparent().remove(missing)
    net = document.find(".//NetOwedAmount")
    assert net is not None
    declared_net = int(net.text or 0) + 100 - missing_amount  # the sender's own arithmetic stays right
    net.text = f"{declared_net:011d}"
    drop_set(workspace.inbox, "006400", etree.tostring(document, xml_declaration=True, encoding="UTF-8"),
             day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0

    answers = workspace.answers()
    assert answers == ["FO.ACRF.999999.20261128.00001.T", "FO.DMNO.999999.20261128.00003.T.1.1",
                       "FO.NOTI.999999.20261128.00002.T", "GO.ACRF.999999.20261128.00001.T",
                       "GO.DMNO.999999.20261128.00003.T.1.1", "GO.NOTI.999999.20261128.00002.T"]
    noti = etree.parse(str(workspace.out() / "FO.NOTI.999999.20261128.00002.T")).getroot()
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"  # class P: accepted, with our figures
    assert [(r.findtext("ErrorID"), r.findtext("AnomalyClass")) for r in noti.iter("AnomalyReport")] == [
        ("00085-044", "P"), ("90001-001", "P"), ("00015-007", "P")]

    dmno = etree.parse(str(workspace.out() / "FO.DMNO.999999.20261128.00003.T.1.1"))
    schema = etree.XMLSchema(etree.parse(str(official / "xsd" / "DmfA" / "DmfAUpdateNotification_20223.xsd")))
    assert schema.validate(dmno), schema.error_log
    first_person = "//NaturalPersonUpdateNotif[INSS=$i]"
    insz = next(records[0].getparent().iter("INSS")).text
    corrected = dmno.xpath(f"{first_person}//WRCorrectedPart/WorkerContributionAction[ContributionWorkerCode=$c]"
                           "/ContributionAmount", c=first_code, i=insz)
    declared = dmno.xpath(f"{first_person}//WRDclPart/WorkerContributionAction[ContributionWorkerCode=$c]"
                          "/ContributionAmount", c=first_code, i=insz)
    assert [int(e.text) for e in corrected] == [_own_amount(records[0])]
    assert [int(e.text) for e in declared] == [_own_amount(records[0]) + 100]
    added = dmno.xpath("//WRCorrectedPart/WorkerContributionAction[ContributionWorkerCode='255']/ContributionAmount")
    assert [int(e.text) for e in added] == [missing_amount]

    [(declared_db, computed_db, accepted)] = workspace.sql(
        "select net_owed_declared, net_owed_computed, accepted from declarations")
    corrections = workspace.sql("select contribution_code, declared_amount, corrected_amount "
                                "from contribution_corrections order by id")
    [(versions,)] = workspace.sql("select parameter_versions from declarations")
    assert (declared_db, accepted) == (declared_net, 1)
    assert computed_db == declared_net - 100 + missing_amount  # the figures used from now on are ours
    assert corrections == [(first_code, _own_amount(records[0]) + 100, _own_amount(records[0])),
                           ("255", None, missing_amount)]
    assert "worker_rate@" in versions and "special.255.rate@" in versions


def test_a_declaration_that_matches_our_calculation_gets_no_dmno(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=25, quarter="20253", seed=4), day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    assert not [n for n in workspace.answers() if ".DMNO." in n]
    noti = etree.parse(str(workspace.out() / "FO.NOTI.999999.20261128.00002.T")).getroot()
    assert list(noti.iter("AnomalyReport")) == []


def test_structural_reduction_is_off_by_default_and_applied_when_switched_on(workspace: Workspace) -> None:
    from tests.conftest import write_config

    content = make_dmfa(workers=12, quarter="20253", seed=21)
    drop_set(workspace.inbox, "006400", content, day=NAME_DAY, seq=1)
    assert workspace.cli("run").exit_code == 0
    noti = etree.parse(str(workspace.out() / "FO.NOTI.999999.20261128.00002.T")).getroot()
    assert [e.text for e in noti.iter("ErrorID")] == []

    write_config(workspace.root, "[calculation]\nstructural_reduction = true\n")
    drop_set(workspace.inbox, "006400", make_dmfa(workers=12, quarter="20253", seed=22), day=NAME_DAY, seq=2)
    assert workspace.cli("run").exit_code == 0
    noti = etree.parse(str(workspace.out() / "FO.NOTI.999999.20261128.00004.T")).getroot()
    reports = list(noti.iter("AnomalyReport"))
    reductions = [r for r in reports if r.findtext("ErrorID") == "00089-044"]
    assert reductions and all(r.findtext("AnomalyClass") == "NP" for r in reductions)
    assert noti.findtext("Form/HandlingResult/ResultCode") == "1"
    declared, computed = workspace.sql("select net_owed_declared, net_owed_computed from declarations "
                                       "order by id desc")[0]
    assert computed < declared  # the reduction lowers what is owed


def test_an_employer_level_contribution_is_recomputed_on_its_basis(workspace: Workspace) -> None:
    document = etree.fromstring(make_dmfa(workers=2, quarter="20253", seed=31))
    unrelated = next(document.iter("ContributionUnrelatedToNP"))
    employer = unrelated.getparent()
    extra = etree.SubElement(employer, "ContributionUnrelatedToNP")
    for tag, text in (("UnrelatedEmployerClass", unrelated.findtext("UnrelatedEmployerClass") or "010"),
                      ("UnrelatedWorkerCode", "870"), ("UnrelatedCalculationBasis", "00000100000"),
                      ("UnrelatedAmount", "00000013000")):
        etree.SubElement(extra, tag).text = text
    net = document.find(".//NetOwedAmount")
    assert net is not None
    net.text = f"{int(net.text or 0) + 13000:011d}"  # the sender's arithmetic stays right
    drop_set(workspace.inbox, "006400", etree.tostring(document, xml_declaration=True, encoding="UTF-8"),
             day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    noti = etree.parse(str(workspace.out() / "FO.NOTI.999999.20261128.00002.T")).getroot()
    # 13.07 % of 1 000.00 is 130.70 (CALCULATIONS.md §1.4), not the 130.00 declared.
    assert [(r.findtext("ErrorID"), r.findtext("AnomalyClass")) for r in noti.iter("AnomalyReport")] == [
        ("00022-044", "P"), ("00015-007", "P")]
    [(declared, computed)] = workspace.sql("select net_owed_declared, net_owed_computed from declarations")
    assert computed - declared == 70
