"""The DmfA generator: official-schema validity, amounts, identifiers, faults, determinism, memory, sets."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cbss_batch.generator import FAULTS, GeneratedInfo, write_dmfa, write_set
from tests.builders import drop_set, make_dmfa

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = ROOT.parent / "shared" / "official"
DMFA_XSD = OFFICIAL / "xsd" / "DmfA" / "DmfAOriginal_20223.xsd"
BUSINESS_FAULTS = ("bad_insz", "duplicate_insz", "net_owed_off", "bad_kbo", "future_quarter")

FI_NAME = re.compile(r"^FI\.DMFA\.(\d{6})\.(\d{8})\.(\d{5})\.([RTS])\.([1-9])\.([1-9])$")
GO_NAME = re.compile(r"^GO\.DMFA\.(\d{6})\.(\d{8})\.(\d{5})\.([RTS])\.([1-9])$")

# CALCULATIONS.md §1.3–1.4, written independently of the generator as fractions.
RATES = {
    "495": Decimal("0.3807"),
    "015": Decimal("0.3807"),
    "810": Decimal("0.0017"),
    "831": Decimal("0.0023"),
    "855": Decimal("0.0169"),
    "859": Decimal("0.0010"),
    "255": Decimal("0.0002"),
    "256": Decimal("0.0001"),
}
BASIS_CODES = {"001", "002", "003", "004", "005", "006", "007"}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    if not DMFA_XSD.is_file():
        pytest.skip(f"official DmfA schema not found: expected {DMFA_XSD.name} under {OFFICIAL}")
    return etree.XMLSchema(etree.parse(str(DMFA_XSD)))


def generate(**kwargs: object) -> tuple[bytes, GeneratedInfo]:
    buffer = io.BytesIO()
    info = write_dmfa(buffer, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue(), info


def insz_is_valid(insz: str) -> bool:
    base = int(insz[:9])
    return int(insz[9:]) in (97 - base % 97, 97 - (2_000_000_000 + base) % 97)


def kbo_is_valid(number: str) -> bool:
    return len(number) == 10 and int(number[8:]) == 97 - int(number[:8]) % 97


def amounts(node: etree._Element, path: str) -> int:
    return sum(int(text) for text in node.xpath(path + "/text()"))


def recompute_net_owed(form: etree._Element) -> int:
    """CALCULATIONS.md §1.6, from the amounts in the XML."""
    total = (
        amounts(form, ".//WorkerContribution/ContributionAmount")
        + amounts(form, ".//StudentContribution/StudentContributionAmount")
        + amounts(form, ".//ContributionUnrelatedToNP/UnrelatedAmount")
        - amounts(form, ".//WorkerDeduction/DeductionAmount")
        - amounts(form, ".//OccupationDeduction/DeductionAmount")
    )
    return max(0, total)


def half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_valid_file_passes_the_official_schema(schema: etree.XMLSchema) -> None:
    doc = etree.fromstring(make_dmfa(workers=40, declarations=3, seed=7))
    assert schema.validate(doc), schema.error_log
    assert len(doc.findall("Form")) == 3
    assert len(doc.findall(".//NaturalPerson")) == 40


@pytest.mark.parametrize("fault", BUSINESS_FAULTS)
def test_business_faults_stay_schema_valid(schema: etree.XMLSchema, fault: str) -> None:
    data, info = generate(workers=12, declarations=2, seed=3, faults=[fault])
    assert schema.validate(etree.fromstring(data)), schema.error_log
    assert [f.name for f in info.faults] == [fault]


def test_schema_fault_is_well_formed_but_invalid(schema: etree.XMLSchema) -> None:
    data, info = generate(workers=5, seed=2, faults=["schema"])
    doc = etree.fromstring(data)
    assert not schema.validate(doc)
    assert "ContractType" in str(schema.error_log.last_error)
    fault = info.fault("schema")
    person = doc.xpath(f"//NaturalPerson[number(NaturalPersonSequenceNbr)={fault.worker}]")[0]
    names = [child.tag for child in person.find("WorkerRecord/Occupation")]
    assert names.index("ContractType") < names.index("WorkingDaysSystem")


def test_not_well_formed_fault_truncates_the_document() -> None:
    data, info = generate(workers=6, declarations=2, seed=4, faults=["not_well_formed"])
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(data)
    assert info.is_truncated
    assert not data.rstrip().endswith(b"</DmfAOriginal>")
    assert info.bytes_written == len(data)
    assert make_dmfa(workers=6, declarations=2, seed=4).startswith(data)


@pytest.mark.parametrize("faults", [(), ("net_owed_off",), BUSINESS_FAULTS], ids=["valid", "off", "all"])
def test_declared_net_owed_matches_recomputation(faults: tuple[str, ...]) -> None:
    data, info = generate(workers=45, declarations=3, seed=11, faults=faults)
    forms = etree.fromstring(data).findall("Form")
    off = {f.declaration for f in info.faults if f.name == "net_owed_off"}
    for form, decl in zip(forms, info.declarations, strict=True):
        declared = int(form.findtext("EmployerDeclaration/NetOwedAmount"))
        recomputed = recompute_net_owed(form)
        assert decl.net_owed_amount == recomputed
        assert declared == decl.declared_net_owed_amount
        assert declared - recomputed == (1 if decl.index in off else 0)


def test_contribution_lines_follow_the_rates_rounded_half_up() -> None:
    for workers in (9, 15, 25):  # no 855 / 855 / 855 and 809 at 0.23 %
        doc = etree.fromstring(make_dmfa(workers=workers, seed=workers))
        for record in doc.iter("WorkerRecord"):
            code = record.findtext("WorkerCode")
            wages = sum(
                int(r.findtext("RemunAmount"))
                for r in record.iter("Remun")
                if r.findtext("RemunCode") in BASIS_CODES
            )
            basis = half_up(Decimal(wages) * Decimal("1.08")) if code == "015" else wages
            lines = {c.findtext("ContributionWorkerCode"): c for c in record.iter("WorkerContribution")}
            rates = dict(RATES, **{"809": Decimal("0.0018") if workers < 20 else Decimal("0.0023")})
            expected = {"809", "810", "859", "255", "256", code} | ({"831"} if code == "495" else set())
            expected |= {"855"} if workers >= 10 else set()
            assert expected <= set(lines) <= expected | {"856"}
            for contribution_code, line in lines.items():
                amount = int(line.findtext("ContributionAmount"))
                if contribution_code == "856":
                    assert line.find("ContributionCalculationBasis") is None and amount > 0
                    continue
                assert int(line.findtext("ContributionCalculationBasis")) == basis
                assert amount == half_up(basis * rates[contribution_code]), contribution_code
            assert lines[code].findtext("ContributionType") == ("1" if code == "015" else "0")


def test_content_is_a_realistic_mix() -> None:
    doc = etree.fromstring(make_dmfa(workers=400, quarter="20254", seed=1))
    worker_codes = Counter(doc.xpath("//WorkerCode/text()"))
    assert set(worker_codes) == {"015", "495"} and min(worker_codes.values()) > 100
    assert set(doc.xpath("//ServiceCode/text()")) == {"001", "050"}
    assert set(doc.xpath("//RemunCode/text()")) == {"001", "002", "010"}
    for remun in doc.iter("Remun"):
        assert (remun.find("BonusPaymentFrequency") is not None) == (remun.findtext("RemunCode") == "002")
        assert len(remun.findtext("RemunAmount")) == 11
    occupations = list(doc.iter("Occupation"))
    part_time = [o for o in occupations if o.findtext("ContractType") == "1"]
    assert 50 < len(part_time) < 200
    for occupation in occupations:
        mean, ref = (
            int(occupation.findtext("MeanWorkingHours")),
            int(occupation.findtext("RefMeanWorkingHours")),
        )
        has_hours = all(s.find("ServiceNbrHours") is not None for s in occupation.iter("Service"))
        if occupation.findtext("ContractType") == "1":
            assert mean < ref and has_hours
        else:
            assert mean == ref
        committee = occupation.findtext("JointCommissionNbr")
        codes = occupation.getparent().xpath("WorkerContribution/ContributionWorkerCode/text()")
        assert ("831" in codes) == (committee == "200")
    assert doc.xpath("//WorkerDeduction/DeductionCode/text()")
    assert set(doc.xpath("//WorkerDeduction/DeductionCode/text()")) == {"0001"}
    for form in doc.iter("Form"):
        assert form.xpath("EmployerDeclaration/ContributionUnrelatedToNP/UnrelatedWorkerCode/text()") == [
            "862"
        ]
    sequence = doc.xpath("//NaturalPersonSequenceNbr/text()")
    assert sequence == [f"{n:07d}" for n in range(1, 401)]


def test_identifiers_carry_valid_check_digits() -> None:
    doc = etree.fromstring(make_dmfa(workers=300, declarations=4, seed=5))
    for form in doc.iter("Form"):
        insz = form.xpath(".//INSS/text()")
        assert all(insz_is_valid(n) for n in insz)
        assert len(set(insz)) == len(insz)
        noss = form.findtext("EmployerDeclaration/NOSSRegistrationNbr")
        assert len(noss) == 9 and int(noss) % 97 == 96 and 100_006 <= int(noss) <= 199_999_934
        kbo = form.findtext("EmployerDeclaration/CompanyID")
        assert kbo.startswith("0") and kbo_is_valid(kbo)
        for unit in form.xpath(".//LocalUnitID/text()"):
            assert unit[0] in "2345678" and kbo_is_valid(unit)
    all_insz = doc.xpath("//INSS/text()")
    centuries = {int(n[:2]) < 30 for n in all_insz}
    assert centuries == {True, False}  # born before and after 2000
    assert len({f.findtext("EmployerDeclaration/NOSSRegistrationNbr") for f in doc.iter("Form")}) == 4


def test_given_employer_numbers_are_used_for_the_first_declaration() -> None:
    data, info = generate(workers=4, declarations=2, noss="175110801", company_id="0403170701")
    assert (info.declarations[0].noss, info.declarations[0].company_id) == ("175110801", "0403170701")
    assert info.declarations[1].noss != "175110801"
    assert b"<NOSSRegistrationNbr>175110801<" in data and b"<CompanyID>0403170701<" in data


def test_bad_insz_spoils_exactly_the_reported_worker() -> None:
    data, info = generate(workers=30, declarations=2, seed=8, faults=["bad_insz"])
    fault = info.fault("bad_insz")
    form = etree.fromstring(data).findall("Form")[fault.declaration - 1]
    invalid = [
        (int(p.findtext("NaturalPersonSequenceNbr")), p.findtext("INSS"))
        for p in form.iter("NaturalPerson")
        if not insz_is_valid(p.findtext("INSS"))
    ]
    assert invalid == [(fault.worker, fault.insz)]


def test_duplicate_insz_repeats_an_earlier_worker() -> None:
    data, info = generate(workers=30, declarations=2, seed=8, faults=["duplicate_insz", "bad_insz"])
    fault = info.fault("duplicate_insz")
    form = etree.fromstring(data).findall("Form")[fault.declaration - 1]
    counts = Counter(form.xpath(".//INSS/text()"))
    assert [n for n, c in counts.items() if c > 1] == [fault.insz]
    assert insz_is_valid(fault.insz)
    owners = form.xpath(f".//NaturalPerson[INSS='{fault.insz}']/NaturalPersonSequenceNbr/text()")
    assert int(owners[1]) == fault.worker and int(owners[0]) < fault.worker
    assert info.fault("bad_insz").worker != fault.worker


def test_bad_kbo_and_future_quarter_hit_the_reported_declaration() -> None:
    data, info = generate(workers=8, declarations=3, seed=9, faults=["bad_kbo", "future_quarter"])
    forms = etree.fromstring(data).findall("Form")
    bad = info.fault("bad_kbo").declaration
    for index, form in enumerate(forms, start=1):
        assert kbo_is_valid(form.findtext("EmployerDeclaration/CompanyID")) == (index != bad)
    future = info.fault("future_quarter").declaration
    today = date.today()
    current = f"{today.year}{(today.month - 1) // 3 + 1}"
    for index, form in enumerate(forms, start=1):
        quarter = form.findtext("EmployerDeclaration/Quarter")
        assert (quarter > current) == (index == future)
        starts = set(form.xpath(".//NOSSQuarterStartingDate/text()"))
        assert starts == {f"{quarter[:4]}-{3 * int(quarter[4]) - 2:02d}-01"}
        assert form.findtext("FormCreationDate") == "2025-07-10"


@pytest.mark.parametrize(("quarter", "created"), [("20252", "2025-07-10"), ("20254", "2026-01-10")])
def test_form_creation_date_is_ten_days_after_the_quarter(quarter: str, created: str) -> None:
    doc = etree.fromstring(make_dmfa(workers=2, quarter=quarter))
    assert doc.xpath("//FormCreationDate/text()") == [created]


def test_same_arguments_give_the_same_bytes() -> None:
    args = {"workers": 50, "declarations": 2, "seed": 42, "faults": ["bad_insz", "net_owed_off"]}
    first, first_info = generate(**args)
    second, second_info = generate(**dict(args, faults=["net_owed_off", "bad_insz"]))
    assert first == second and first_info == second_info
    assert generate(**dict(args, seed=43))[0] != first


def test_rejects_unknown_faults_and_impossible_placements() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        make_dmfa(workers=2, faults=["typo"])
    with pytest.raises(ValueError, match="duplicate_insz"):
        make_dmfa(workers=1, faults=["duplicate_insz"])
    with pytest.raises(ValueError, match="declarations"):
        make_dmfa(workers=1, declarations=2)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    workers=st.integers(1, 30),
    declarations=st.integers(1, 3),
    quarter=st.sampled_from(["20241", "20252", "20253", "20254"]),
)
def test_any_seed_gives_a_valid_consistent_file(
    schema: etree.XMLSchema, seed: int, workers: int, declarations: int, quarter: str
) -> None:
    declarations = min(declarations, workers)
    data, info = generate(workers=workers, declarations=declarations, quarter=quarter, seed=seed)
    doc = etree.fromstring(data)
    assert schema.validate(doc), schema.error_log
    for form, decl in zip(doc.findall("Form"), info.declarations, strict=True):
        assert recompute_net_owed(form) == decl.net_owed_amount
        insz = form.xpath(".//INSS/text()")
        assert all(insz_is_valid(n) for n in insz) and len(set(insz)) == len(insz)


@pytest.mark.slow
def test_memory_stays_flat_for_200_000_workers() -> None:
    code = textwrap.dedent(
        """
        import os, resource
        from cbss_batch.generator import write_dmfa
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with open(os.devnull, "wb") as out:
            info = write_dmfa(out, workers=200_000, seed=1)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(after - before, info.bytes_written)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    growth_kb, size = map(int, result.stdout.split())
    assert size > 200_000 * 1000
    assert growth_kb < 50 * 1024, f"max RSS grew by {growth_kb} KB"


@pytest.mark.parametrize("parts", [1, 2, 3, 9])
@pytest.mark.parametrize("as_path", [False, True], ids=["bytes", "path"])
def test_parts_concatenate_back_to_the_original(tmp_path: Path, parts: int, as_path: bool) -> None:
    content = make_dmfa(workers=7, seed=parts)
    source = tmp_path / "source.xml"
    source.write_bytes(content)
    paths = write_set(
        tmp_path / "inbox",
        sender="006400",
        env="T",
        seq=12,
        day=date(2026, 11, 20),
        parts=parts,
        content=source if as_path else content,
    )
    assert [p.parent for p in paths] == [tmp_path / "inbox" / "006400" / "INTEST"] * (parts + 1)
    fi, go = paths[:-1], paths[-1]
    assert [FI_NAME.match(p.name).groups() for p in fi] == [  # type: ignore[union-attr]
        ("006400", "20261120", "00012", "T", str(parts), str(i)) for i in range(1, parts + 1)
    ]
    assert GO_NAME.match(go.name).groups() == ("006400", "20261120", "00012", "T", str(parts))  # type: ignore[union-attr]
    assert go.read_bytes() == b""
    assert b"".join(p.read_bytes() for p in fi) == content
    sizes = [p.stat().st_size for p in fi]
    assert max(sizes) - min(sizes) <= 1
    assert not list(paths[0].parent.glob("*.part"))


def test_drop_set_routes_by_environment_and_can_hold_back_go(tmp_path: Path) -> None:
    content = make_dmfa()
    production = drop_set(tmp_path, "006400", content, env="R", seq=3, day=date(2026, 11, 20))
    assert [p.parent.name for p in production] == ["IN", "IN"]
    assert production[-1].name == "GO.DMFA.006400.20261120.00003.R.1"
    simulation = drop_set(tmp_path, "006400", content, env="S", parts=2, go=False)
    assert [p.name[:2] for p in simulation] == ["FI", "FI"] and simulation[0].parent.name == "INTEST"
    with pytest.raises(FileExistsError):
        drop_set(tmp_path, "006400", content, env="R", seq=3, day=date(2026, 11, 20))
    with pytest.raises(ValueError, match="sender"):
        drop_set(tmp_path, "6400", content)


def test_cli_writes_a_complete_set(tmp_path: Path, schema: etree.XMLSchema) -> None:
    script = ROOT / "scripts" / "gen_dmfa.py"
    args = [
        "--workers",
        "9",
        "--declarations",
        "2",
        "--quarter",
        "20253",
        "--seed",
        "5",
        "--fault",
        "bad_insz",
    ]
    args += ["--inbox", str(tmp_path), "--parts", "3", "--seq", "7", "--day", "20261120"]
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, check=True)
    folder = tmp_path / "006400" / "INTEST"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"FI.DMFA.006400.20261120.00007.T.3.{i}" for i in (1, 2, 3)] + [
        "GO.DMFA.006400.20261120.00007.T.3"
    ]
    assert result.stdout.split()[-1].endswith("GO.DMFA.006400.20261120.00007.T.3")
    assert "fault bad_insz" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["006400"]  # no temporary file left behind
    data = b"".join((folder / names[i]).read_bytes() for i in range(3))
    assert data == make_dmfa(workers=9, declarations=2, quarter="20253", seed=5, faults=["bad_insz"])
    assert schema.validate(etree.fromstring(data))


def test_fault_names_are_the_documented_ones() -> None:
    assert FAULTS == (
        "bad_insz",
        "duplicate_insz",
        "net_owed_off",
        "bad_kbo",
        "future_quarter",
        "schema",
        "not_well_formed",
    )
