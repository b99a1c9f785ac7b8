"""``cbss-batch validate`` against the official NSSO DmfA validator's four checks, and its three outputs.

The official validator checks that a DmfA is well-formed, follows the schema, declares each INSZ once
per declaration and states the right net amount owed. Every expectation here is computed from the
file itself with lxml, independently of cbss_batch: the syntax error lxml meets, the schema errors
lxml's validator lists, the INSZ repeated within a Form, NetOwedAmount recomputed as
CALCULATIONS.md §1.6 says (contributions + student contributions + unrelated contributions − worker
and occupation deductions, floored at 0). Files come from the generator's faults and from byte edits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from click.testing import CliRunner, Result
from lxml import etree

from cbss_batch.cli import cli
from tests.builders import make_dmfa
from tests.conftest import PROJECT, TODAY, write_config

SCHEMA = PROJECT / "xsd" / "DmfAOriginal_20223.xsd"
SAFE = {"resolve_entities": False, "no_network": True, "load_dtd": False}
Anomaly = tuple[str, int | None]  # (code, line)


# --- the independent expectation ---------------------------------------------------------------


def _insz_ok(insz: str) -> bool:
    """DECLARATIONS.md §1.1: the last two digits are 97 − (first nine mod 97), '2' prefixed from 2000 on."""
    if not re.fullmatch(r"\d{11}", insz) or int(insz) == 0:
        return False
    first9, check = int(insz[:9]), int(insz[9:])
    return check in (97 - first9 % 97, 97 - (2_000_000_000 + first9) % 97)


def _kbo_ok(company_id: str) -> bool:
    """DECLARATIONS.md §1.2: 0 (unknown), or 0/1 then eight digits and 97 − (first eight mod 97)."""
    text = company_id.zfill(10)
    return int(company_id) == 0 or (text[0] in "01" and int(text[8:]) == 97 - int(text[:8]) % 97)


def _last_ended_quarter(today: date) -> tuple[int, int]:
    number = (today.month - 1) // 3 + 1
    return (today.year - 1, 4) if number == 1 else (today.year, number - 1)


def _sum(element: Any, path: str) -> int:
    return sum(int(text) for text in element.xpath(f"{path}/text()"))


def _net_owed(employer: Any) -> int:
    """CALCULATIONS.md §1.6, over the whole EmployerDeclaration."""
    owed = (
        _sum(employer, "NaturalPerson/WorkerRecord/WorkerContribution/ContributionAmount")
        + _sum(employer, "NaturalPerson/WorkerRecord/StudentContribution/StudentContributionAmount")
        + _sum(employer, "ContributionUnrelatedToNP/UnrelatedAmount")
        - _sum(employer, "NaturalPerson/WorkerRecord/WorkerDeduction/DeductionAmount")
        - _sum(employer, "NaturalPerson/WorkerRecord/Occupation/OccupationDeduction/DeductionAmount")
    )
    return max(0, owed)


def _rule_anomalies(tree: Any, today: date) -> list[Anomaly]:
    """The declaration checks the generator's faults touch: quarter, CompanyID, INSZ, duplicate INSZ, net owed."""
    found: list[Anomaly] = []
    latest = _last_ended_quarter(today)
    for employer in tree.iterfind("Form/EmployerDeclaration"):
        quarter = employer.find("Quarter")
        if (int(quarter.text[:4]), int(quarter.text[4])) > latest:
            found.append(("00013-008", quarter.sourceline))
        company = employer.find("CompanyID")
        if not _kbo_ok(company.text):
            found.append(("00014-004", company.sourceline))
        seen: set[str] = set()
        for person in employer.iterfind("NaturalPerson"):
            inss = person.find("INSS")
            if not _insz_ok(inss.text):
                found.append(("00024-004", inss.sourceline))
            if inss.text in seen:
                found.append(("90017-006", person.sourceline))
            seen.add(inss.text)
        declared = employer.find("NetOwedAmount")
        if int(declared.text) != _net_owed(employer):
            found.append(("00015-007", declared.sourceline))
    return found


def _expected(data: bytes, schema_codes: tuple[str, ...] = (), today: date = TODAY) -> list[Anomaly]:
    """Every anomaly the file should give: the syntax error, else each schema error and the rule findings.

    ``schema_codes`` are the annex-30 codes of lxml's schema errors, in document order, as the fault
    injected dictates (a misplaced element is 091, ...); lxml gives how many there are and where.
    """
    try:
        tree = etree.fromstring(data, etree.XMLParser(**SAFE)).getroottree()
    except etree.XMLSyntaxError as exc:
        return [("ACRF-102", exc.position[0])]
    validator = etree.XMLSchema(etree.parse(str(SCHEMA)))
    validator.validate(tree)
    errors = list(validator.error_log)
    assert len(errors) == len(schema_codes), f"the test expects {schema_codes}, lxml found {errors}"
    return sorted(
        [(code, e.line) for code, e in zip(schema_codes, errors, strict=True)] + _rule_anomalies(tree, today),
        key=_order,
    )


def _order(anomaly: Anomaly) -> tuple[int, str]:
    return (anomaly[1] or 0, anomaly[0])


# --- running the command -----------------------------------------------------------------------


@pytest.fixture
def validate(tmp_path: Path) -> Callable[..., Result]:
    """``cbss-batch validate ARGS`` in a workspace without database (today = TODAY)."""
    config = write_config(tmp_path / "ws")

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)

    return run


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _anomalies(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [*report["file_problems"], *(a for d in report["declarations"] for a in d["anomalies"])]


def _reported(validate: Callable[..., Result], path: Path) -> tuple[int, list[Anomaly], dict[str, Any]]:
    result = validate("--json", "validate", str(path))
    report = json.loads(result.output)["files"][0]
    return result.exit_code, sorted(((a["code"], a["line"]) for a in _anomalies(report)), key=_order), report


def _replace_nth(data: bytes, old: bytes, new: bytes, n: int) -> bytes:
    """``data`` with the ``n``-th (1-based) occurrence of ``old`` replaced by ``new``."""
    at = -1
    for _ in range(n):
        at = data.index(old, at + 1)
    return data[:at] + new + data[at + len(old) :]


BASE = make_dmfa(workers=4, quarter="20253", seed=7)


def _inss(data: bytes, n: int) -> bytes:
    return re.findall(rb"<INSS>(\d+)</INSS>", data)[n - 1]


def _contribution_plus_one_cent(data: bytes) -> bytes:
    match = re.search(rb"<ContributionAmount>(\d+)</ContributionAmount>", data)
    assert match is not None
    bumped = b"<ContributionAmount>%011d</ContributionAmount>" % (int(match.group(1)) + 1)
    return data[: match.start()] + bumped + data[match.end() :]


def _swap_first_order(data: bytes) -> bytes:
    days = re.search(rb"<WorkingDaysSystem>\d+</WorkingDaysSystem>", data)
    contract = re.search(rb"<ContractType>\d</ContractType>", data)
    assert days is not None and contract is not None and days.end() < contract.start()
    return (
        data[: days.start()]
        + contract.group()
        + data[days.end() : contract.start()]
        + days.group()
        + data[contract.end() :]
    )


# --- the four checks, fault by fault -------------------------------------------------------------

GENERATED = {  # fault(s) → the schema codes lxml's errors stand for
    "bad_insz": (),
    "duplicate_insz": (),
    "net_owed_off": (),
    "bad_kbo": (),
    "future_quarter": (),
    "schema": ("ACRF-091",),
    "not_well_formed": (),
}


@pytest.mark.parametrize("fault", list(GENERATED))
def test_flags_each_generator_fault_exactly(validate: Callable[..., Result], tmp_path: Path, fault: str) -> None:
    data = make_dmfa(workers=5, declarations=2, quarter="20253", seed=3, faults=[fault])
    expected = _expected(data, GENERATED[fault])
    assert expected, "every fault gives at least one anomaly"
    exit_code, reported, _ = _reported(validate, _file(tmp_path, f"{fault}.xml", data))
    assert exit_code == 1
    assert reported == expected


def test_reports_every_fault_of_a_file_with_several(validate: Callable[..., Result], tmp_path: Path) -> None:
    faults = ["bad_insz", "duplicate_insz", "net_owed_off", "bad_kbo", "future_quarter"]
    data = make_dmfa(workers=9, declarations=3, quarter="20253", seed=11, faults=faults)
    expected = _expected(data)
    assert sorted({code for code, _ in expected}) == ["00013-008", "00014-004", "00015-007", "00024-004", "90017-006"]
    exit_code, reported, _ = _reported(validate, _file(tmp_path, "several.xml", data))
    assert exit_code == 1
    assert reported == expected


def test_reports_schema_problems_and_the_declaration_checks_together(
    validate: Callable[..., Result], tmp_path: Path
) -> None:
    data = make_dmfa(
        workers=10,
        declarations=2,
        quarter="20253",
        seed=5,
        faults=["schema", "duplicate_insz", "net_owed_off", "bad_insz"],
    )
    expected = _expected(data, ("ACRF-091",))
    assert {code for code, _ in expected} == {"ACRF-091", "90017-006", "00015-007", "00024-004"}
    exit_code, reported, report = _reported(validate, _file(tmp_path, "mixed.xml", data))
    assert exit_code == 1
    assert reported == expected
    assert any("despite the schema problems" in note for note in report["notes"])
    assert all(not d["accepted"] and d["refused_with_file"] for d in report["declarations"])


# --- the four checks, by hand-made byte edits ----------------------------------------------------

EDITS: dict[str, tuple[Callable[[bytes], bytes], tuple[str, ...]]] = {
    # well-formed
    "stray-ampersand": (lambda d: d.replace(b"<ReferenceNbr>", b"<ReferenceNbr>a & b", 1), ()),
    "mismatched-end-tag": (lambda d: _replace_nth(d, b"</Border>", b"</Bordr>", 2), ()),
    "truncated": (lambda d: d[: len(d) * 2 // 3], ()),
    "not-utf8": (lambda d: d.replace(b"<ReferenceNbr>", b"<ReferenceNbr>\xff\xfe", 1), ()),
    # schema
    "unknown-element": (
        lambda d: d.replace(b"<Retired>0</Retired>", b"<Retired>0</Retired><Bonus>1</Bonus>", 1),
        ("ACRF-092",),
    ),
    "not-numeric": (lambda d: _replace_nth(d, b"<Border>0</Border>", b"<Border>X</Border>", 3), ("ACRF-002",)),
    "missing-element": (lambda d: d.replace(b"\t\t\t\t\t\t<Retired>0</Retired>\n", b"", 1), ("ACRF-090",)),
    "wrong-order": (_swap_first_order, ("ACRF-091",)),
    "not-in-list": (lambda d: d.replace(b"<TypeForm>SU</TypeForm>", b"<TypeForm>XX</TypeForm>", 1), ("ACRF-008",)),
    "too-long": (
        lambda d: d.replace(b"<JointCommissionNbr>200<", b"<JointCommissionNbr>2000000000000<", 1),
        ("ACRF-093", "ACRF-003"),
    ),
    "four-schema-problems": (  # in four different blocks: libxml2 stops checking a block at its first error
        lambda d: _swap_first_order(
            _replace_nth(
                _replace_nth(
                    d.replace(b"<TypeForm>SU</TypeForm>", b"<TypeForm>XX</TypeForm>", 1),
                    b"<Retired>0</Retired>",
                    b"<Retired>0</Retired><Bonus>1</Bonus>",
                    2,
                ),
                b"<Border>0</Border>",
                b"<Border>X</Border>",
                4,
            )
        ),
        ("ACRF-008", "ACRF-091", "ACRF-092", "ACRF-002"),
    ),
    # duplicate INSZ
    "copied-insz": (lambda d: d.replace(b"<INSS>" + _inss(d, 3) + b"<", b"<INSS>" + _inss(d, 1) + b"<", 1), ()),
    # net amount owed
    "net-owed-zeroed": (lambda d: re.sub(rb"<NetOwedAmount>\d+<", b"<NetOwedAmount>00000000000<", d), ()),
    "contribution-changed": (_contribution_plus_one_cent, ()),
    # several at once: a misplaced zone, a copied INSZ and a total that no longer adds up
    "schema-duplicate-and-net-owed": (
        lambda d: _contribution_plus_one_cent(
            _swap_first_order(d.replace(b"<INSS>" + _inss(d, 4) + b"<", b"<INSS>" + _inss(d, 2) + b"<", 1))
        ),
        ("ACRF-091",),
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_flags_each_hand_made_fault_exactly(validate: Callable[..., Result], tmp_path: Path, edit: str) -> None:
    mutate, schema_codes = EDITS[edit]
    data = mutate(BASE)
    assert data != BASE
    expected = _expected(data, schema_codes)
    assert expected, "every edit gives at least one anomaly"
    exit_code, reported, _ = _reported(validate, _file(tmp_path, f"{edit}.xml", data))
    assert exit_code == 1
    assert reported == expected


def test_the_expectation_of_the_edits_is_what_each_edit_breaks() -> None:
    """Guards the test itself: each edit breaks the check it is named for, and the base file breaks none."""
    assert _expected(BASE) == []
    assert [c for c, _ in _expected(EDITS["copied-insz"][0](BASE))] == ["90017-006"]
    assert [c for c, _ in _expected(EDITS["contribution-changed"][0](BASE))] == ["00015-007"]
    assert [c for c, _ in _expected(EDITS["truncated"][0](BASE))] == ["ACRF-102"]
    both = _expected(EDITS["schema-duplicate-and-net-owed"][0](BASE), ("ACRF-091",))
    assert sorted(c for c, _ in both) == ["00015-007", "90017-006", "ACRF-091"]


def test_a_doctype_is_refused_as_not_well_formed(validate: Callable[..., Result], tmp_path: Path) -> None:
    data = BASE.replace(b"<DmfAOriginal", b'<!DOCTYPE DmfAOriginal [<!ENTITY e "x">]>\n<DmfAOriginal', 1)
    exit_code, reported, _ = _reported(validate, _file(tmp_path, "doctype.xml", data))
    assert (exit_code, reported) == (1, [("ACRF-102", None)])


def test_lists_every_schema_problem_up_to_a_thousand_and_says_so(
    validate: Callable[..., Result], tmp_path: Path
) -> None:
    data = make_dmfa(workers=1005, quarter="20253").replace(b"<Border>0</Border>", b"<Border>X</Border>")
    assert len(_expected(data, ("ACRF-002",) * 1005)) == 1005
    exit_code, reported, report = _reported(validate, _file(tmp_path, "many.xml", data))
    assert exit_code == 1
    assert reported == _expected(data, ("ACRF-002",) * 1005)[:1000]
    assert any("only the first 1000 schema problems" in note for note in report["notes"])


# --- where, what and how to fix it ---------------------------------------------------------------


def test_json_gives_each_anomaly_its_place_value_rule_and_fix(validate: Callable[..., Result], tmp_path: Path) -> None:
    data = make_dmfa(
        workers=6,
        declarations=2,
        quarter="20253",
        seed=1,
        faults=["schema", "duplicate_insz", "bad_kbo", "net_owed_off"],
    )
    path = _file(tmp_path, "fields.xml", data)
    result = validate("--json", "validate", str(path))
    output = json.loads(result.output)
    assert output["valid"] is False
    report = output["files"][0]
    assert report["counts"] == {"B": len(_expected(data, ("ACRF-091",)))}
    tree = etree.parse(str(path), etree.XMLParser(**SAFE))
    for a in _anomalies(report):
        assert set(a) >= {
            "code",
            "class",
            "message",
            "element",
            "value",
            "line",
            "column",
            "path",
            "xpath",
            "rule",
            "fix",
        }
        assert a["line"] and a["column"] and a["rule"] and a["fix"]
        located = tree.xpath(a["xpath"])
        assert len(located) == 1 and located[0].sourceline == a["line"], a
        assert etree.QName(located[0]).localname == a["element"]
        line_text = data.decode().splitlines()[a["line"] - 1]
        assert line_text[a["column"] - 1 :].startswith(f"<{a['element']}"), (a, line_text)
    by_code = {a["code"]: a for a in _anomalies(report)}
    (company,) = tree.xpath(by_code["00014-004"]["xpath"])
    assert by_code["00014-004"]["value"] == company.text
    assert re.fullmatch(r"\d{6}-\*\*\*-\*\*", by_code["90017-006"]["value"]), "an INSZ is shown masked"
    assert by_code["ACRF-091"]["rule"] == "Elements must appear in the order the schema defines."
    assert by_code["ACRF-091"]["fix"].startswith("Move ContractType to its place")


def test_text_output_gives_line_and_column_rule_and_fix(validate: Callable[..., Result], tmp_path: Path) -> None:
    data = make_dmfa(workers=3, quarter="20253", seed=4, faults=["net_owed_off"])
    result = validate("validate", str(_file(tmp_path, "text.xml", data)))
    assert result.exit_code == 1
    ((code, line),) = _expected(data)
    assert code == "00015-007"
    column = data.decode().splitlines()[line - 1].index("<NetOwedAmount") + 1
    assert f"line {line}:{column} 00015-007 [B] NetOwedAmount = " in result.output
    assert "at /DmfAOriginal/Form/EmployerDeclaration/NetOwedAmount" in result.output
    assert "rule:  NetOwedAmount, in cents, must equal all worker contributions" in result.output
    assert "fix:   Recompute NetOwedAmount" in result.output
    assert "NOT valid (1 blocking (B))" in result.output
    assert "would be refused" in result.output


def test_html_report_is_self_contained_lists_every_anomaly_and_escapes_values(
    validate: Callable[..., Result], tmp_path: Path
) -> None:
    several = _file(
        tmp_path,
        "several.xml",
        make_dmfa(
            workers=6, declarations=2, quarter="20253", seed=2, faults=["bad_insz", "duplicate_insz", "net_owed_off"]
        ),
    )
    hostile = _file(
        tmp_path,
        "hostile.xml",
        _replace_nth(BASE, b"<Border>0</Border>", b"<Border>&lt;script&gt;alert(1)&lt;/script&gt;</Border>", 1),
    )
    truncated = _file(tmp_path, "truncated.xml", BASE[:2000])
    good = _file(tmp_path, "good.xml", BASE)
    html_path = tmp_path / "report.html"
    files = [str(p) for p in (several, hostile, truncated, good)]
    result = validate("validate", "--html", str(html_path), *files)
    assert result.exit_code == 1
    assert f"HTML report written to {html_path}" in result.output
    data = json.loads(validate("--json", "validate", *files).output)
    text = html_path.read_text(encoding="utf-8")
    page = lxml.html.document_fromstring(text)
    assert page.xpath("//script|//link|//img|//iframe|//object|//@src|//@style") == []
    assert all(href.startswith("#") for href in page.xpath("//@href"))
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    content = page.text_content()
    assert "<script>alert(1)</script>" in content  # shown as text, not run
    sections = page.xpath("//section")
    assert len(sections) == 4
    for section, report in zip(sections, data["files"], strict=True):
        shown = section.text_content()
        assert report["file"] in shown
        assert ("NOT valid" in shown) is (not report["valid"])
        codes = [a["code"] for a in _anomalies(report)]
        cells = section.xpath(".//tr/td[2]/code/text()")
        assert sorted(cells) == sorted(codes)
        for a in _anomalies(report):
            assert a["fix"] in shown and a["rule"] in shown
            if a["line"]:
                assert f"{a['line']}:{a['column']}" in shown
        for cls, n in report["counts"].items():
            assert f"{n} " in shown and f"({cls})" in shown
    assert sorted(data["files"][0]["counts"].items()) == [("B", 3)]


def test_html_report_into_a_missing_folder_is_a_clear_error(validate: Callable[..., Result], tmp_path: Path) -> None:
    good = _file(tmp_path, "good.xml", BASE)
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(write_config(tmp_path / "ws2")),
            "validate",
            "--html",
            str(tmp_path / "no" / "such" / "report.html"),
            str(good),
        ],
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, Exception) and "cannot write the HTML report" in str(result.exception)


# --- exit codes ----------------------------------------------------------------------------------


def test_exit_0_for_a_valid_file_and_for_warnings_only(validate: Callable[..., Result], tmp_path: Path) -> None:
    assert validate("validate", str(_file(tmp_path, "good.xml", BASE))).exit_code == 0
    badly_named = _file(tmp_path, "FI.DMFA.006400.20261399.00001.T.1.1", BASE)  # no such date: a W
    result = validate("--json", "validate", str(badly_named))
    report = json.loads(result.output)["files"][0]
    assert [(a["code"], a["class"]) for a in _anomalies(report)] == [("ACRF-110", "W")]
    assert (result.exit_code, report["valid"]) == (0, True)
