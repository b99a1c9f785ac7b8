"""`cbss-batch stats`: quarterly figures of what the pipeline accepted, checked against figures computed
here from the XML that was sent (persons, FTE, wages, contributions, risks), as CSV, Parquet and PNG."""

from __future__ import annotations

import copy
import csv
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from lxml import etree

from cbss_batch.dmfa_update_builder import LineEdit, make_dmfa_update
from cbss_batch.drs_builder import make_risk_declaration
from cbss_batch.stats import OccupationRow, rounded_fte, tally_employment
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, Workspace, write_config

NAME_DAY = TODAY.replace(day=20)
MAN = "85073003328"  # sequence 033: odd → a man
WOMAN = "85073003427"  # sequence 034: even → a woman
CENT = Decimal("0.01")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TABLES = ("quarters", "employment", "wages", "contributions", "risks")


# --- building the data through the pipeline ----------------------------------------------------------

class Sender:
    """Drops sets into a workspace's inbox, one sequence number each, and runs the cycle."""

    def __init__(self, ws: Workspace) -> None:
        self.ws, self.seq = ws, 0

    def send(self, content: bytes, file_type: str = "DMFA") -> None:
        self.seq += 1
        drop_set(self.ws.inbox, "006400", content, day=NAME_DAY, seq=self.seq, file_type=file_type)
        result = self.ws.cli("run")
        assert result.exit_code == 0, result.output


def _doc(content: bytes) -> etree._Element:
    return etree.fromstring(content)


def _bytes(doc: etree._Element) -> bytes:
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")


def _records(doc: etree._Element) -> list[tuple[str, etree._Element]]:
    """(INSZ, worker line) of every person of a DmfA original."""
    return [(str(p.findtext("INSS")), r) for p in doc.iter("NaturalPerson") for r in p.findall("WorkerRecord")]


def _record_of(doc: etree._Element, insz: str) -> etree._Element:
    return next(r for i, r in _records(doc) if i == insz)


def _with_two_occupations(content: bytes) -> bytes:
    """The first worker line split into two occupations of 25/38 h a week each (so 1.32 jobs: capped at 1),
    the second under joint committee 302, without services or wages."""
    doc = _doc(content)
    occupation = next(doc.iter("Occupation"))
    occupation.find("MeanWorkingHours").text = "2500"
    second = copy.deepcopy(occupation)
    second.find("OccupationSequenceNbr").text = "02"
    second.find("JointCommissionNbr").text = "302"
    for child in second.findall("Service") + second.findall("Remun"):
        second.remove(child)
    occupation.addnext(second)
    return _bytes(doc)


def _overdeclared(content: bytes, cents: int) -> bytes:
    """The first worker line's own contribution declared ``cents`` too high (the net amount owed along with it):
    accepted with class P anomalies, our amount replaces it (contribution_corrections)."""
    doc = _doc(content)
    record = next(doc.iter("WorkerRecord"))
    own = next(c for c in record.iter("WorkerContribution")
               if c.findtext("ContributionWorkerCode") == record.findtext("WorkerCode"))
    amount = own.find("ContributionAmount")
    assert amount is not None
    amount.text = f"{int(amount.text or 0) + cents:011d}"
    net = doc.find(".//NetOwedAmount")
    assert net is not None
    net.text = f"{int(net.text or 0) + cents:011d}"
    return _bytes(doc)


def _zima001(insz: str, risk: str, start: str, last_day: str) -> bytes:
    """An incapacity (001) or maternity (002) declaration with a monthly wage of 4 000.00 EUR."""
    return make_risk_declaration("ZIMA001", {
        "INSS": insz, "IdentificationOfRisk": risk, "RiskStartingDate": start, "LastWorkingDayDate": last_day,
        "RemunerationTimeUnit": "4", "RemunerationBasisAmount": "400000"})


# --- the figures, computed here from the XML ---------------------------------------------------------

def _fte(value: Fraction) -> str:
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def _eur(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(CENT))


def _amount(element: etree._Element, tag: str) -> int:
    return sum(int(e.text or 0) for e in element.iter(tag))


def _contribution_cents(record: etree._Element) -> dict[str, int]:
    return {"worker": _amount(record, "ContributionAmount"), "student": _amount(record, "StudentContributionAmount")}


def expected_tables(lines: list[tuple[str, str, etree._Element]], due: dict[tuple[str, str], int],
                    risks: list[tuple[str, str, list[str]]]) -> dict[str, list[dict[str, str]]]:
    """Every table from (quarter, INSZ, worker line as sent) of the current lines, the contributions due per
    (quarter, worker code) and the accepted risks as (quarter, scenario, daily amounts)."""
    employment: dict[tuple[str, str, str], list] = defaultdict(lambda: [set(), 0, Fraction(0)])
    wages: dict[tuple[str, str, str], int] = defaultdict(int)
    declared: dict[tuple[str, str, str], int] = defaultdict(int)
    quarters: dict[str, dict] = defaultdict(lambda: {"persons": set(), "lines": 0, "fte": Fraction(0), "wages": 0,
                                                     "risks": 0, "benefits": 0, "amounts": Decimal("0.00")})
    for quarter, insz, record in lines:
        code = str(record.findtext("WorkerCode"))
        shares: dict[str, Fraction] = defaultdict(Fraction)
        for occupation in record.iter("Occupation", "OccupationUpdate"):
            committee = str(occupation.findtext("JointCommissionNbr"))
            ref = int(occupation.findtext("RefMeanWorkingHours") or 0)
            shares[committee] += Fraction(int(occupation.findtext("MeanWorkingHours") or 0), ref) if ref else 0
            if occupation.find("Remun") is not None:
                wages[(quarter, committee, code)] += _amount(occupation, "RemunAmount")
        line_fte = min(sum(shares.values(), Fraction(0)), Fraction(1))
        for committee, share in shares.items():
            group = employment[(quarter, committee, code)]
            group[0].add(insz)
            group[1] += 1
            group[2] += line_fte * share / sum(shares.values())
        for kind, cents in _contribution_cents(record).items():
            if kind == "worker" or cents:
                declared[(quarter, code, kind)] += cents
        summary = quarters[quarter]
        summary["persons"].add(insz)
        summary["lines"] += 1
        summary["fte"] += line_fte
        summary["wages"] += _amount(record, "RemunAmount")
    tables: dict[str, list[dict[str, str]]] = {name: [] for name in TABLES}
    for (quarter, committee, code), (persons, count, fte) in sorted(employment.items()):
        tables["employment"].append({"quarter": quarter, "joint_committee": committee, "worker_code": code,
                                     "persons": str(len(persons)), "worker_lines": str(count), "fte": _fte(fte)})
    for (quarter, committee, code), cents in sorted(wages.items()):
        tables["wages"].append({"quarter": quarter, "joint_committee": committee, "worker_code": code,
                                "wages_eur": _eur(cents)})
    due_by_quarter: dict[str, int] = defaultdict(int)
    for (quarter, code, kind), cents in sorted(declared.items()):
        owed = due[(quarter, code)] if kind == "worker" else cents
        due_by_quarter[quarter] += owed
        tables["contributions"].append({
            "quarter": quarter, "worker_code": code, "kind": kind, "contributions_declared_eur": _eur(cents),
            "corrections_eur": _eur(owed - cents), "contributions_due_eur": _eur(owed)})
    for quarter, scenario, amounts in sorted(risks, key=lambda r: (r[0] == "", r)):
        total = sum((Decimal(a) for a in amounts), Decimal("0.00"))
        tables["risks"].append({"quarter": quarter, "scenario": scenario, "risk_declarations": "1",
                                "benefits_computed": str(len(amounts)), "benefit_daily_amounts_eur": str(total)})
        quarters[quarter]["risks"] += 1
        quarters[quarter]["benefits"] += len(amounts)
        quarters[quarter]["amounts"] += total
    for quarter, s in sorted(quarters.items(), key=lambda item: (item[0] == "", item[0])):
        tables["quarters"].append({
            "quarter": quarter, "persons": str(len(s["persons"])), "worker_lines": str(s["lines"]),
            "fte": _fte(s["fte"]), "wages_eur": _eur(s["wages"]),
            "contributions_due_eur": _eur(due_by_quarter[quarter]),
            "risk_declarations": str(s["risks"]), "benefits_computed": str(s["benefits"]),
            "benefit_daily_amounts_eur": str(s["amounts"])})
    return tables


def _benefit(percent: str) -> str:
    """A daily benefit on a monthly wage of 4 000.00 EUR (CALCULATIONS.md §3.6): daily wage = monthly × 3 / 13 / 6
    to 4 decimals, times the rate, half-up to the cent."""
    daily_wage = (Decimal(4000) * 3 / 13 / 6).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return str((daily_wage * Decimal(percent) / 100).quantize(CENT, ROUND_HALF_UP))


# --- reading what the command wrote -------------------------------------------------------------------

def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def _parquet(path: Path) -> list[dict[str, str]]:
    import pyarrow.parquet as pq

    return [{k: str(v) for k, v in row.items()} for row in pq.read_table(path).to_pylist()]


def _check_png(path: Path) -> None:
    from matplotlib import image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


def _workspace(root: Path, db_url: str) -> Workspace:
    write_config(root)
    ws = Workspace(root, db_url)
    result = ws.cli("init")
    assert result.exit_code == 0, result.output
    return ws


# --- tests ---------------------------------------------------------------------------------------------

def test_stats_count_the_current_lines_of_accepted_declarations_per_quarter(db_url: str, tmp_path: Path) -> None:
    ws = _workspace(tmp_path / "ws", db_url)
    sender = Sender(ws)
    spring = _doc(_with_two_occupations(make_dmfa(workers=3, quarter="20252", seed=1)))
    sender.send(_bytes(spring))
    summer_as_generated = make_dmfa(workers=4, quarter="20253", seed=2)
    summer = _doc(_overdeclared(summer_as_generated, 100))
    sender.send(_bytes(summer))
    sender.send(make_dmfa(workers=2, quarter="20253", seed=3, faults=["net_owed_off"]))  # refused: not counted
    people = [insz for insz, _ in _records(summer)]
    newcomer = make_dmfa(workers=1, quarter="20253", seed=9)
    new_person = _records(_doc(newcomer))[0][0]
    update = _doc(make_dmfa_update(_bytes(summer), [LineEdit(people[1], 1, remun_delta=10000),
                                                    LineEdit(people[2], 0), LineEdit(new_person, 3, source=newcomer)]))
    sender.send(_bytes(update), "DMWA")
    sender.send(_zima001(MAN, "001", "2025-05-12", "2025-05-09"), "ZIMA")
    sender.send(_zima001(WOMAN, "002", "2025-08-04", "2025-08-01"), "ZIMA")
    sender.send(_zima001(MAN, "002", "2025-08-04", "2025-08-01"), "ZIMA")  # maternity for a man: refused
    sender.send(make_risk_declaration("WECH005", {"INSS": MAN}), "WECH")  # accepted, declares no date

    result = ws.cli("stats")
    assert result.exit_code == 0, result.output

    def changed(insz: str) -> etree._Element:
        return next(e for p in update.iter("NaturalPersonUpdate") if p.findtext("INSS") == insz
                    for e in p.iter("WorkerRecordUpdateAction"))

    current = ([("20252", insz, record) for insz, record in _records(spring)]
               + [("20253", people[0], _record_of(summer, people[0])), ("20253", people[1], changed(people[1])),
                  ("20253", people[3], _record_of(summer, people[3])), ("20253", new_person, changed(new_person))])
    # Contributions due: as declared, except the overdeclared one, where ours (the generated amount) is used.
    due: dict[tuple[str, str], int] = defaultdict(int)
    for quarter, insz, record in current:
        source = _record_of(_doc(summer_as_generated), insz) if insz == people[0] else record
        due[(quarter, str(record.findtext("WorkerCode")))] += _amount(source, "ContributionAmount")
    expected = expected_tables(current, due, [
        ("20252", "ZIMA001", [_benefit("60")]), ("20253", "ZIMA001", [_benefit("82"), _benefit("75")]),
        ("", "WECH005", [])])
    out = ws.root / "var" / "stats"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{name}.{suffix}" for name in TABLES for suffix in ("csv", "parquet")]
        + ["employment.png", "risks.png", "wages.png"])
    for name in TABLES:
        assert _csv(out / f"{name}.csv") == expected[name], name
        assert _parquet(out / f"{name}.parquet") == expected[name], name
    for chart in ("employment.png", "wages.png", "risks.png"):
        _check_png(out / chart)
    # The line split over two joint committees counts in both, with half a job each (capped at 1 in all).
    split = [r for r in expected["employment"] if r["quarter"] == "20252" and r["joint_committee"] == "302"]
    assert split == [{"quarter": "20252", "joint_committee": "302", "worker_code": split[0]["worker_code"],
                      "persons": "1", "worker_lines": "1", "fte": "0.5000"}]
    assert [(r["quarter"], r["corrections_eur"]) for r in expected["contributions"]
            if r["corrections_eur"] != "0.00"] == [("20253", "-1.00")]
    assert [r["persons"] for r in expected["quarters"]] == ["3", "4", "0"]
    assert "quarterly figures" in result.output
    assert "13 files written to var/stats" in result.output


def test_stats_of_one_quarter_in_json(workspace: Workspace) -> None:
    sender = Sender(workspace)
    sender.send(make_dmfa(workers=2, quarter="20252", seed=4))
    summer = _doc(make_dmfa(workers=3, quarter="20253", seed=5))
    sender.send(_bytes(summer))
    sender.send(_zima001(MAN, "001", "2025-05-12", "2025-05-09"), "ZIMA")
    sender.send(_zima001(WOMAN, "002", "2025-08-04", "2025-08-01"), "ZIMA")

    result = workspace.cli("--json", "stats", "--quarter", "20253", "--out", "figures", "--format", "csv",
                           "--no-charts")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    lines = [("20253", insz, record) for insz, record in _records(summer)]
    due: dict[tuple[str, str], int] = defaultdict(int)
    for _, _, record in lines:
        due[("20253", str(record.findtext("WorkerCode")))] += _amount(record, "ContributionAmount")
    expected = expected_tables(lines, due, [("20253", "ZIMA001", [_benefit("82"), _benefit("75")])])
    assert data["quarters_asked"] == ["20253"]
    assert data["files"] == [f"figures/{name}.csv" for name in TABLES]
    assert data["message"] is None
    assert data["quarters"] == [{k: int(v) if k in ("persons", "worker_lines", "risk_declarations",
                                                    "benefits_computed") else v for k, v in row.items()}
                                for row in expected["quarters"]]
    assert data["totals"] == {k: v for k, v in data["quarters"][0].items() if k != "quarter"}
    assert data["totals"]["wages_eur"] == _eur(_amount(summer, "RemunAmount"))
    out = workspace.root / "figures"
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.csv" for name in TABLES)
    for name in TABLES:
        assert _csv(out / f"{name}.csv") == expected[name], name


def test_stats_of_an_empty_database_say_so_and_write_nothing(workspace: Workspace) -> None:
    result = workspace.cli("stats")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no accepted declaration for any quarter in the database: no file written"
    result = workspace.cli("--json", "stats", "--quarter", "20253")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["files"], data["quarters"], data["totals"]["persons"], data["totals"]["wages_eur"]) == (
        [], [], 0, "0.00")
    assert data["message"] == "no accepted declaration for quarter 20253 in the database: no file written"
    assert not (workspace.root / "var" / "stats").exists()


def test_stats_of_refused_declarations_only_write_nothing(workspace: Workspace) -> None:
    Sender(workspace).send(make_dmfa(workers=2, quarter="20253", faults=["net_owed_off"]))
    result = workspace.cli("stats")
    assert result.exit_code == 0, result.output
    assert "no accepted declaration" in result.output


def test_a_malformed_quarter_is_a_usage_error(workspace: Workspace) -> None:
    result = workspace.cli("stats", "--quarter", "2025Q3")
    assert result.exit_code == 2
    assert "quarter must be YYYYQ" in result.output


def test_a_worker_line_counts_at_most_one_job_split_over_its_joint_committees() -> None:
    rows = [OccupationRow("20253", 1, "A", "495", "200", 3000, 3800),
            OccupationRow("20253", 1, "A", "495", "218", 1800, 3800),  # 48/38 of a job: capped at 1
            OccupationRow("20253", 2, "A", "015", "100", 1900, 3800),  # same person, another worker line
            OccupationRow("20253", 3, "B", "495", "200", 1000, 0),  # no reference hours: no FTE
            OccupationRow("20253", 4, "C", "495", None, None, None)]  # a line without occupation
    employment = tally_employment(rows)
    assert {key: (len(t.persons), t.lines, t.fte) for key, t in employment.groups.items()} == {
        ("20253", "200", "495"): (2, 2, Fraction(30, 48)), ("20253", "218", "495"): (1, 1, Fraction(18, 48)),
        ("20253", "100", "015"): (1, 1, Fraction(1, 2)), ("20253", "", "495"): (1, 1, Fraction(0))}
    quarter = employment.quarters["20253"]
    assert (len(quarter.persons), quarter.lines, quarter.fte) == (3, 4, Fraction(3, 2))


@pytest.mark.parametrize(("fte", "expected"), [
    (Fraction(1, 3), "0.3333"), (Fraction(2, 3), "0.6667"), (Fraction(1, 8), "0.1250"),
    (Fraction(12345, 100000000), "0.0001"), (Fraction(5, 100000), "0.0001"), (Fraction(0), "0.0000")],
    ids=["third", "two-thirds", "exact", "down", "half-rounds-up", "zero"])
def test_fte_is_rounded_half_up_to_four_decimals(fte: Fraction, expected: str) -> None:
    assert str(rounded_fte(fte)) == expected
