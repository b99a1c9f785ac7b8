"""Our code lists (config/codelists): loading, validity by date, labels, refused files, official parity."""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree

from cbss_batch.codelists import (
    DEFAULT_FOLDER,
    NAMES,
    QUALIFIERS,
    CodeEntry,
    format_codelist,
    load_codelist,
    parse_codelist,
)
from cbss_batch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
IN_2025 = date(2025, 6, 30)
HEADER = "code,valid_from,valid_to,label_nl,label_fr"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.csv"
    path.write_text(text, encoding="utf-8")
    return path


# --- the committed lists ---------------------------------------------------------------------------


def test_default_folder_is_config_codelists_beside_the_package() -> None:
    assert DEFAULT_FOLDER == ROOT / "config" / "codelists"


@pytest.mark.parametrize("name", NAMES)
def test_each_list_loads_with_rows_and_its_qualifier_columns(name: str) -> None:
    codelist = load_codelist(name)
    assert codelist.name == name
    assert len(codelist) > 0
    assert set(QUALIFIERS.get(name, ())) <= set(codelist.columns)
    assert codelist.codes(IN_2025)


def test_load_reads_a_list_once() -> None:
    assert load_codelist("error_codes") is load_codelist("error_codes", DEFAULT_FOLDER)


@pytest.mark.parametrize(
    ("name", "code", "on", "where", "expected"),
    [
        ("worker_codes", "015", IN_2025, {}, True),
        ("worker_codes", "495", IN_2025, {}, True),
        ("worker_codes", "015", date(2025, 1, 1), {"contribution_kind": "ordinary"}, True),
        ("worker_codes", "495", date(2025, 12, 31), {"contribution_kind": "fedris"}, True),
        ("worker_codes", "015", date(2002, 12, 31), {}, False),
        ("worker_codes", "020", date(2007, 6, 30), {}, True),
        ("worker_codes", "020", date(2007, 7, 1), {}, False),
        ("worker_codes", "020", date(2013, 9, 30), {}, False),
        ("worker_codes", "020", date(2013, 10, 1), {}, True),
        ("worker_codes", "999", IN_2025, {}, False),
        ("employer_categories", "004", date(1986, 12, 31), {}, False),
        ("employer_categories", "004", date(1987, 1, 1), {}, True),
        ("employer_categories", "004", date(1988, 12, 31), {}, True),
        ("employer_categories", "004", date(1989, 1, 1), {}, False),
        ("reduction_codes", "0501", date(2014, 6, 30), {}, True),
        ("reduction_codes", "0501", date(2014, 7, 1), {}, False),
        ("remuneration_codes", "21", date(2021, 12, 31), {}, True),
        ("remuneration_codes", "21", date(2022, 1, 1), {}, True),
        ("working_time_codes", "1", date(2002, 12, 31), {}, False),
        ("working_time_codes", "1", IN_2025, {}, True),
        ("form_identifications", "DMFA", IN_2025, {}, True),
        ("risk_identifications", "002", date(2010, 3, 31), {"form": "WECH008"}, True),
        ("risk_identifications", "002", date(2010, 4, 1), {"form": "WECH008"}, False),
        ("risk_identifications", "011", IN_2025, {"form": "WECH005"}, True),
        ("risk_identifications", "011", IN_2025, {"form": "ZIMA001"}, False),
        ("joint_committees", "100", IN_2025, {}, True),
        ("error_codes", "102", IN_2025, {}, True),
        ("signature_error_codes", "0", IN_2025, {"code_type": "main"}, True),
        ("contribution_types", "270", date(2016, 12, 31), {"contribution_type": "5"}, False),
        ("contribution_types", "270", date(2017, 1, 1), {"contribution_type": "5"}, True),
    ],
)
def test_code_is_valid_only_within_its_periods(
    name: str, code: str, on: date, where: dict[str, str], expected: bool
) -> None:
    assert load_codelist(name).is_valid(code, on, **where) is expected


def test_error_102_has_its_official_labels() -> None:
    errors = load_codelist("error_codes")
    assert errors.label("102", IN_2025, "fr") == "Syntaxe XML incorrecte"
    assert errors.label("102", IN_2025) == "XML-syntax niet correct"


def test_label_follows_the_period_of_the_date() -> None:
    types = load_codelist("contribution_types")
    assert types.label("270", date(2016, 12, 31), contribution_type="4") == "Leeftijd werknemer in SWT >= 60 jaar"
    assert types.label("270", date(2017, 1, 1), contribution_type="4") == "Leeftijd werknemer in SWT < 62 jaar"


def test_label_is_none_when_not_valid_or_empty() -> None:
    assert load_codelist("employer_categories").label("004", IN_2025) is None
    types = load_codelist("contribution_types")
    assert types.label("809", IN_2025, contribution_type="6", employer_categories="014") is None


def test_label_refuses_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="'de'"):
        load_codelist("error_codes").label("102", IN_2025, "de")  # type: ignore[arg-type]


def test_entry_carries_the_extra_columns_as_a_read_only_mapping() -> None:
    workers = load_codelist("worker_codes")
    ordinary = workers.entry("015", IN_2025, contribution_kind="ordinary")
    assert ordinary is not None
    assert (ordinary.valid_from, ordinary.valid_to) == (date(2003, 1, 1), None)
    assert ordinary.extra["worker_class"] == "blue_collar"
    assert ordinary.extra["employee_type_fr"] == "Ouvriers ordinaires"
    with pytest.raises(TypeError):
        ordinary.extra["worker_class"] = "white_collar"  # type: ignore[index]
    white = workers.entry("495", IN_2025, contribution_kind="ordinary")
    student = workers.entry("840", IN_2025)
    assert white is not None and white.extra["worker_class"] == "white_collar"
    assert student is not None and student.extra["worker_class"] == "student"


def test_entry_refuses_to_choose_between_tables() -> None:
    with pytest.raises(LookupError, match="contribution_kind"):
        load_codelist("worker_codes").entry("015", IN_2025)


def test_entry_is_none_outside_every_period() -> None:
    assert load_codelist("worker_codes").entry("015", date(2002, 12, 31)) is None


def test_lookup_refuses_an_unknown_column() -> None:
    with pytest.raises(ValueError, match="no column colour"):
        load_codelist("worker_codes").is_valid("015", IN_2025, colour="blue")


def test_codes_on_a_date() -> None:
    forms = load_codelist("form_identifications").codes(IN_2025)
    assert {"DMFA", "DIMONA", "ACRF001", "NOTI001", "WECH005"} <= forms
    risks = load_codelist("risk_identifications").codes(IN_2025, form="WECH005")
    assert risks == {f"{n:03d}" for n in range(1, 12)}
    assert "004" not in load_codelist("employer_categories").codes(IN_2025)


def test_signature_codes_keep_both_tables() -> None:
    signature = load_codelist("signature_error_codes")
    main = signature.label("0", IN_2025, code_type="main")
    explanatory = signature.label("0", IN_2025, code_type="explanatory")
    assert main is not None and main.startswith("Alles is OK")
    assert explanatory == "Algemene fout, of geen fout (als foutcode = 00)"


# --- refused files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line", "fragment"),
    [
        ("x", "", 1, "empty"),
        ("x", "code,valid_from,valid_to,label_nl\n", 1, "header must start with"),
        ("x", "code,valid_to,valid_from,label_nl,label_fr\n", 1, "header must start with"),
        ("x", f"{HEADER},Kind\n", 1, "'Kind' is not allowed"),
        ("x", f"{HEADER},on\n", 1, "'on' is not allowed"),
        ("x", f"{HEADER},kind,kind\n", 1, "named twice"),
        ("worker_codes", f"{HEADER},presence\n", 1, "needs the column(s) contribution_kind"),
        ("x", f"{HEADER}\n001,2020-01-01,,a,b\n002,2020-01-01,,a\n", 3, "4 fields, expected 5"),
        ("x", f"{HEADER}\n001,2020-01-01,,a,b,c\n", 2, "6 fields, expected 5"),
        ("x", f"{HEADER}\n,2020-01-01,,a,b\n", 2, "code '' is empty"),
        ("x", f"{HEADER}\n 01,2020-01-01,,a,b\n", 2, "spaces around it"),
        ("x", f"{HEADER}\n001,01/01/2020,,a,b\n", 2, "valid_from '01/01/2020' is not a date"),
        ("x", f"{HEADER}\n001,20200101,,a,b\n", 2, "valid_from '20200101' is not a date"),
        ("x", f"{HEADER}\n001,2020-13-01,,a,b\n", 2, "valid_from '2020-13-01' is not a date"),
        ("x", f"{HEADER}\n001,,,a,b\n", 2, "valid_from '' is not a date"),
        ("x", f"{HEADER}\n001,2020-01-01,2020-02-30,a,b\n", 2, "valid_to '2020-02-30' is not a date"),
        ("x", f"{HEADER}\n001,2020-04-01,2020-03-31,a,b\n", 2, "valid_to 2020-03-31 is before valid_from"),
        ("x", f'{HEADER}\n001,2020-01-01,,"a,b\n', 2, "not valid CSV"),
        (
            "x",
            f"{HEADER}\n001,2020-01-01,2020-12-31,a,b\n002,2020-01-01,,a,b\n001,2020-12-31,,a,b\n",
            4,
            "code '001' valid 2020-12-31..open overlaps line 2 (2020-01-01..2020-12-31)",
        ),
        ("x", f"{HEADER}\n001,2020-01-01,,a,b\n001,1990-01-01,,a,b\n", 3, "overlaps line 2"),
        (
            "worker_codes",
            f"{HEADER},contribution_kind,presence\n015,2003-01-01,,a,b,ordinary,3\n015,2003-01-01,,a,b,fedris,3\n"
            "015,2025-01-01,,a,b,ordinary,3\n",
            4,
            "code '015', contribution_kind='ordinary' valid 2025-01-01..open overlaps line 2",
        ),
    ],
    ids=[
        "empty-file",
        "header-too-short",
        "header-wrong-order",
        "extra-column-upper-case",
        "extra-column-reserved",
        "extra-column-twice",
        "qualifier-column-missing",
        "too-few-fields",
        "too-many-fields",
        "empty-code",
        "code-with-space",
        "date-not-iso",
        "date-without-dashes",
        "month-13",
        "start-missing",
        "end-not-a-day",
        "end-before-start",
        "unterminated-quote",
        "overlap-at-one-day",
        "overlap-open-ended",
        "overlap-within-one-table",
    ],
)
def test_malformed_file_is_refused_naming_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, fragment: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        load_codelist(name, tmp_path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert fragment in str(caught.value)


def test_adjacent_periods_and_other_tables_are_accepted(tmp_path: Path) -> None:
    write(
        tmp_path,
        "worker_codes",
        f"{HEADER},contribution_kind\n"
        "015,2003-01-01,2024-12-31,old,ancien,ordinary\n"
        "015,2025-01-01,,new,nouveau,ordinary\n"
        "015,2003-01-01,,fedris,fedris,fedris\n"
        "\n",
    )
    workers = load_codelist("worker_codes", tmp_path)
    assert len(workers) == 3
    assert workers.label("015", date(2024, 12, 31), contribution_kind="ordinary") == "old"
    assert workers.label("015", date(2025, 1, 1), "fr", contribution_kind="ordinary") == "nouveau"
    assert len(workers.entries("015", date(2025, 1, 1))) == 2


def test_missing_list_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.csv is missing; .*build_codelists\.py"):
        load_codelist("nowhere", tmp_path)


def test_list_name_cannot_leave_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid"):
        load_codelist("../error_codes", tmp_path)


def test_file_not_in_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(f"{HEADER}\n001,2020-01-01,,caf\xe9,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: not UTF-8"):
        load_codelist("x", tmp_path)


def test_format_then_parse_gives_the_same_entries() -> None:
    entries = [
        CodeEntry(
            code="1", valid_from=date(2020, 1, 1), valid_to=None, label_nl='a, "b"', label_fr="é", extra={"kind": "x"}
        ),
        CodeEntry(
            code="2",
            valid_from=date(2020, 1, 1),
            valid_to=date(2020, 3, 31),
            label_nl="",
            label_fr="",
            extra={"kind": ""},
        ),
    ]
    text = format_codelist(("kind",), entries)
    assert text.splitlines()[0] == f"{HEADER},kind"
    parsed = parse_codelist(text, name="x")
    assert [parsed.by_code[code][0] for code in ("1", "2")] == entries


# --- the official annexes --------------------------------------------------------------------------


def _official_worker_code(entry: etree._Element) -> str:
    """Annex 3's worker code as our file writes it: NNN, or the group 0xx/4xx/6xx, or xxx for all."""
    official = entry.findtext("code/nl", "").strip()
    found = re.match(r"\d{3}|\dxx", official)
    return found.group(0) if found else "xxx"


# our list → (official file, entry tag, the entry's code)
OFFICIAL_LISTS = {
    "worker_codes": ("EmployeeCodes2022-2_2.xml", "employee-code", "code"),
    "contribution_types": ("ContributionTypes2022-3_3.xml", "contribution-type", _official_worker_code),
    "reduction_codes": ("ReductionCodes2022-2_4.xml", "reduction-code", "code-DMFA"),
    "remuneration_codes": ("Renumerations_07.xml", "remuneration", "code"),
    "working_time_codes": ("WorkingTimeCodes2022-2_8.xml", "working-time-code", "code"),
    "form_identifications": ("FormIdentifications_2020-1_11.xml", "form-identification", "code"),
    "risk_identifications": ("RiskIdentification2020-2_12.xml", "risk-identification", "id/sub"),
    "joint_committees": ("JointCommittee2019-1_26.xml", "joint-committee", "code"),
    "employer_categories": ("EmployerCategories2022-1_27.xml", "employer-category", "code"),
    "error_codes": ("ErrorCodes2022-1_30.xml", "error-code", "code"),
    "signature_error_codes": ("ErrCodesDigitalSignature2001-3_25.xml", "error-code", "code"),
}
Period = tuple[date, date]  # inclusive; date.max for an open end


def _quarter_period(entry: etree._Element) -> Period:
    begin_year, begin_quarter = (int(entry.findtext(f"begin-validity/{part}", "")) for part in ("year", "quarter"))
    end_year, end_quarter = (int(entry.findtext(f"end-validity/{part}", "")) for part in ("year", "quarter"))
    start = date(begin_year, 3 * begin_quarter - 2, 1)
    if end_year == 9999:
        return start, date.max
    after = date(end_year + 1, 1, 1) if end_quarter == 4 else date(end_year, 3 * end_quarter + 1, 1)
    return start, after - timedelta(days=1)


def _union(periods: list[Period]) -> list[Period]:
    """The days covered, as sorted disjoint periods (touching periods joined); empty periods dropped."""
    joined: list[Period] = []
    for start, end in sorted(p for p in periods if p[0] <= p[1]):
        if joined and (joined[-1][1] == date.max or start <= joined[-1][1] + timedelta(days=1)):
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


@pytest.fixture
def official_codelists(official: Path) -> Path:
    folder = official / "codelists"
    if not folder.is_dir():
        pytest.skip(f"official code lists not found at {folder}")
    return folder


@pytest.mark.parametrize("name", NAMES)
def test_every_official_code_is_ours_with_the_same_validity(official_codelists: Path, name: str) -> None:
    file, tag, code_of = OFFICIAL_LISTS[name]
    root = etree.parse(str(official_codelists / file), PARSER).getroot()
    official: dict[str, list[Period]] = {}
    labels: list[tuple[str, Period, str]] = []
    for entry in root.iter(tag):
        code = code_of(entry) if callable(code_of) else entry.findtext(code_of, "").strip()
        period = _quarter_period(entry)
        official.setdefault(code, []).append(period)
        description = entry.find("description/nl")
        label_nl = " ".join("".join(description.itertext()).split()) if description is not None else ""
        labels.append((code, period, label_nl))
    ours = load_codelist(name)
    assert set(ours.by_code) == set(official), f"{name}: codes differ from {file}"
    for code, periods in official.items():
        our_periods = [(e.valid_from, e.valid_to or date.max) for e in ours.by_code[code]]
        assert _union(our_periods) == _union(periods), f"{name}: validity of {code} differs from {file}"
    for code, (start, end), label_nl in labels:
        if start > end:
            continue  # an official entry that ends before it begins covers no date (README: deviations)
        assert any(
            e.label_nl == label_nl and e.valid_from <= start and end <= (e.valid_to or date.max)
            for e in ours.by_code[code]
        ), f"{name}: {code} {start}..{end} {label_nl[:40]!r} of {file} has no row of ours"


def build_codelists_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_codelists", ROOT / "scripts" / "build_codelists.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    return module


def test_build_script_writes_every_list_and_reports_its_deviations(
    official_codelists: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = build_codelists_script()
    assert script.main(["--official", str(official_codelists), "--out", str(tmp_path)]) == 0
    for name in NAMES:
        assert len(load_codelist(name, tmp_path)) > 0
    printed = capsys.readouterr().out
    assert "code 830: merged overlapping identical rows" in printed
    assert "code 3203: left out line" in printed


ANNEX_2_ENTRY = """
  <employee-code>
    <type><nl>{kind}</nl><fr>-</fr></type><code>015</code>
    <description><nl>{label}</nl><fr>x</fr></description>
    <employee-type><nl>Gewone handarbeiders</nl><fr>Ouvriers ordinaires</fr></employee-type>
    <presence>3</presence>
    <begin-validity><year>2003</year><quarter>1</quarter></begin-validity>
    <end-validity><year>9999</year><quarter>4</quarter></end-validity>
  </employee-code>"""


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("Nieuwe bijdrage", "a")], "unknown contribution kind 'Nieuwe bijdrage'"),
        ([("Gewone bijdrage", "a"), ("Gewone bijdrage", "b")], "overlaps line 2"),
    ],
    ids=["unknown-kind", "conflicting-overlap"],
)
def test_build_script_stops_on_what_it_cannot_decide(
    tmp_path: Path, entries: list[tuple[str, str]], message: str
) -> None:
    official = tmp_path / "official"
    official.mkdir()
    body = "".join(ANNEX_2_ENTRY.format(kind=kind, label=label) for kind, label in entries)
    (official / "EmployeeCodes2022-2_2.xml").write_text(f"<employee-codes>{body}\n</employee-codes>", "utf-8")
    script = build_codelists_script()
    with pytest.raises(SystemExit, match=re.escape(message)):
        script.main(["--official", str(official), "--out", str(tmp_path / "out"), "worker_codes"])
    assert not (tmp_path / "out" / "worker_codes.csv").exists()
