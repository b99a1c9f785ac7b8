"""Our code-list data (config/codelists/<name>.csv) from the official annexes in XML.

    python scripts/build_codelists.py                     # every list, from ../shared/official/codelists
    python scripts/build_codelists.py --official DIR --out DIR worker_codes error_codes

Each official entry becomes one row: ``code,valid_from,valid_to,label_nl,label_fr`` and the list's extra
columns. A validity quarter becomes dates: ``valid_from`` the first day of the begin quarter,
``valid_to`` the last day of the end quarter, empty for the open end (year 9999). Texts are kept as the
annex words them, with runs of white space collapsed to one space; the few derived columns (slugs such
as ``contribution_kind`` or ``worker_class``) come from explicit tables below, and an official value
that no table knows stops the build rather than be guessed. Entries identical but for overlapping
validity are merged into one row (the union); any other overlap stops the build. Every file written
is read back with ``cbss_batch.codelists`` before the script reports success.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TypeAlias

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script, without the package installed
    sys.path.insert(0, str(ROOT))

from cbss_batch.codelists import QUALIFIERS, CodeEntry, format_codelist, parse_codelist  # noqa: E402
from cbss_batch.errors import ConfigError  # noqa: E402
from cbss_batch.xmlsafe import hardened_parser  # noqa: E402

OFFICIAL = ROOT.parent / "shared" / "official" / "codelists"
OUT = ROOT / "config" / "codelists"
OPEN_YEAR = 9999  # the annexes' "no end"

Element: TypeAlias = etree._Element
Reader = Callable[[Element], CodeEntry]


@dataclass(frozen=True, slots=True)
class Source:
    """One official annex: where it is, what its entries are called, how an entry becomes our row."""

    name: str
    annex: int
    file: str
    entry_tag: str
    columns: tuple[str, ...]
    read: Reader


# --- reading an entry ---------------------------------------------------------------------------------


def text(entry: Element, path: str) -> str:
    """The text at ``path`` with white space collapsed; "" when absent or empty."""
    found = entry.find(path)
    return " ".join("".join(found.itertext()).split()) if found is not None else ""


def lang(entry: Element, path: str, language: str) -> str:
    """The ``nl``/``fr`` child of ``path``; the element's own text when it has no language children."""
    found = entry.find(path)
    if found is not None and found.find("nl") is None and found.find("fr") is None:
        return text(entry, path)
    return text(entry, f"{path}/{language}")


def quarter_bound(entry: Element, which: str) -> tuple[int, int]:
    """Year and quarter of ``begin-validity`` or ``end-validity``; SystemExit naming the line otherwise."""
    year, quarter = text(entry, f"{which}/year"), text(entry, f"{which}/quarter")
    if not (re.fullmatch(r"\d{4}", year) and quarter in ("1", "2", "3", "4")):
        raise SystemExit(f"line {entry.sourceline}: {which} is not a year and quarter 1-4: {year!r} {quarter!r}")
    return int(year), int(quarter)


def validity(entry: Element) -> tuple[date, date | None]:
    """First day of the begin quarter; last day of the end quarter, None for the open end (9999)."""
    begin_year, begin_quarter = quarter_bound(entry, "begin-validity")
    end_year, end_quarter = quarter_bound(entry, "end-validity")
    start = date(begin_year, 3 * begin_quarter - 2, 1)
    if end_year == OPEN_YEAR:
        return start, None
    next_start = date(end_year + 1, 1, 1) if end_quarter == 4 else date(end_year, 3 * end_quarter + 1, 1)
    return start, next_start - timedelta(days=1)


def row(entry: Element, code: str, label: str = "description", **extra: str) -> CodeEntry:
    """Our row for an official entry: its code, validity, labels at ``label`` and the extra columns."""
    if not code:
        raise SystemExit(f"line {entry.sourceline}: <{entry.tag}> has no code")
    start, end = validity(entry)
    return CodeEntry(
        code=code,
        valid_from=start,
        valid_to=end,
        label_nl=lang(entry, label, "nl"),
        label_fr=lang(entry, label, "fr"),
        extra=MappingProxyType(extra),
    )


def pick(table: dict[str, str], value: str, what: str, entry: Element) -> str:
    """``table[value]``; SystemExit naming the line when the annex has a value the table does not know."""
    if value not in table:
        raise SystemExit(f"line {entry.sourceline}: unknown {what} {value!r}; add it to the table in {__file__}")
    return table[value]


def yes_no(entry: Element, path: str) -> str:
    """ "yes"/"no" from the annex's Yes/No (any case); "" when absent or "-" (not stated)."""
    value = text(entry, path).lower()
    return pick({"yes": "yes", "no": "no", "": "", "-": ""}, value, path, entry)


# --- annex 2: worker codes ----------------------------------------------------------------------------

CONTRIBUTION_KINDS = {  # annex 2 <type>, Dutch wording → our slug
    "Gewone bijdrage": "ordinary",
    "Fedris bijdrage": "fedris",
    "Supplementaire bijdrage": "supplementary",
    "Bijdrage niet gebonden aan een natuurlijke persoon": "not_person_linked",
    "Bijzondere bijdrage werkloze met bedrijfstoeslag (SWT)": "swt_special",
    "Werknemersbijdrage werkloze met bedrijfstoeslag (SWT) of aanvullende vergoedingen oudere werknemers (SWAV)": (
        "swt_personal"
    ),
    "Bijzondere bijdrage aanvullende vergoedingen": "complementary_indemnity",
    "Bijzondere bijdrage ontslagen statutaire werknemer": "dismissed_statutory",
    "Bijzondere bijdrage voor studenten": "student",
    "Bijdrage statutair personeelslid uitsluitend onderworpen aan overheidspensioenbijdrage": "statutory_pension_only",
    "Stagiairs": "trainee",
}


def worker_class(kind: str, employee_type_nl: str) -> str:
    """student for the student contribution; else blue_collar/white_collar by the annex's employee type."""
    if kind == "student":
        return "student"
    wording = employee_type_nl.lower()
    if "handarbeider" in wording:  # "Gewone handarbeiders", "Mijnwerkers (handarbeiders)", ...
        return "blue_collar"
    if "hoofdarbeider" in wording:  # "Gewone hoofdarbeiders", "Hoofdarbeiders flexijob", ...
        return "white_collar"
    return "other"


def worker_code(entry: Element) -> CodeEntry:
    """Annex 2 entry → row with contribution kind, worker class, employee type and presence."""
    kind = pick(CONTRIBUTION_KINDS, lang(entry, "type", "nl"), "contribution kind", entry)
    employee_type_nl = text(entry, "employee-type/nl")
    return row(
        entry,
        text(entry, "code"),
        contribution_kind=kind,
        worker_class=worker_class(kind, employee_type_nl),
        employee_type_nl=employee_type_nl,
        employee_type_fr=text(entry, "employee-type/fr"),
        presence=text(entry, "presence"),
    )


# --- annex 3: contribution types ----------------------------------------------------------------------

ALL_WORKER_CODES = "xxx"  # "Alle werknemerskengetallen": x stands for any digit, as in 0xx and 4xx


def contribution_type(entry: Element) -> CodeEntry:
    """Annex 3 entry → row keyed by worker code (or group 0xx/4xx/6xx/xxx) with type and conditions."""
    official_nl, official_fr = text(entry, "code/nl"), text(entry, "code/fr")
    found = re.match(r"(\d{3}|\dxx)\b\s*(.*)", official_nl)
    if found and official_fr.startswith(found.group(1)):
        code, note_nl = found.group(1), found.group(2).strip("() ")
        note_fr = official_fr.removeprefix(code).strip("() ")
    elif official_nl.startswith("Alle ") and official_fr.startswith("Tous "):
        code, note_nl, note_fr = ALL_WORKER_CODES, official_nl, official_fr
    else:
        raise SystemExit(
            f"line {entry.sourceline}: worker code {official_nl!r} / {official_fr!r} is not NNN, Nxx or 'Alle ...'"
        )
    categories = text(entry, "employer-category")
    listed = sorted(part for part in re.split(r"[,\s]+", categories) if part)
    if not all(re.fullmatch(r"\d{3}|Andere", part) for part in listed):
        raise SystemExit(f"line {entry.sourceline}: employer categories {categories!r} are not NNN, NNN, ...")
    employees = re.sub(r">\s*=", ">=", text(entry, "number-of-employees"))  # "> = 50" is ">= 50"
    return row(
        entry,
        code,
        contribution_type=text(entry, "type"),
        employer_categories=" ".join("other" if part == "Andere" else part for part in listed),
        number_of_employees=employees,
        code_note_nl=note_nl,
        code_note_fr=note_fr,
    )


# --- annex 4: reduction codes -------------------------------------------------------------------------

REGIONS = {"Federaal": "federal", "Regionaal": "regional"}
LINK_BLOCKS = {"Werknemerslijn": "worker_line", "Tewerkstelling van de werknemerslijn": "occupation"}
PRESENCE = {"obligatory": "obligatory", "optional": "optional", "forbidden": "forbidden"}
REDUCTION_PRESENCE_ZONES = (
    "calculation-base",
    "amount",
    "begin-date-right",
    "monthly-costs",
    "inss-nbr-replaced",
    "inss-nbr-authorized",
    "origins-certificate",
)


def reduction_code(entry: Element) -> CodeEntry:
    """Annex 4 entry → row with region, regions where it applies, linked block and zone presences."""
    presences = {
        zone.replace("-", "_"): pick(PRESENCE, text(entry, zone).lower(), zone, entry)
        for zone in REDUCTION_PRESENCE_ZONES
    }
    return row(
        entry,
        text(entry, "code-DMFA"),
        region=pick(REGIONS, text(entry, "region/nl"), "region", entry),
        flemish_region=yes_no(entry, "flemish-region"),
        brussels_region=yes_no(entry, "brussels-region"),
        walloon_region=yes_no(entry, "walloon-region"),
        walloon_german_region=yes_no(entry, "walloon-and-german-region"),
        link_block=pick(LINK_BLOCKS, text(entry, "link-block/nl"), "link block", entry),
        **presences,
        detail_block=yes_no(entry, "presence-block-detail"),
    )


# --- the other annexes --------------------------------------------------------------------------------


def plain(entry: Element) -> CodeEntry:
    """Annexes 11 and 30: a code and its description."""
    return row(entry, text(entry, "code"))


def remuneration_code(entry: Element) -> CodeEntry:
    """Annex 7 entry → row saying whether the code is allowed in the DmfA and in the DRS (ADRS)."""
    return row(entry, text(entry, "code"), dmfa=yes_no(entry, "DMFA"), adrs=yes_no(entry, "ADRS"))


def working_time_code(entry: Element) -> CodeEntry:
    """Annex 8 entry → row saying whether the code is allowed in the DmfA and in the DmfAPPL."""
    return row(entry, text(entry, "code"), dmfa=yes_no(entry, "DMFA"), dmfappl=yes_no(entry, "DMFAPPL"))


def risk_identification(entry: Element) -> CodeEntry:
    """Annex 12 entry → row: the risk (IdentificationOfRisk, "001") of one form (Identification)."""
    return row(
        entry,
        text(entry, "id/sub"),
        form=text(entry, "id/main"),
        title_nl=text(entry, "title/nl"),
        title_fr=text(entry, "title/fr"),
        scenario_nl=text(entry, "scenario/nl"),
        scenario_fr=text(entry, "scenario/fr"),
    )


JOINT_COMMITTEE_CLASSES = {  # annex 26 <category>, Dutch wording → the workers it is competent for
    "Paritaire organen bevoegd voor de werknemers die hoofdzakelijk handarbeid verrichten en hun werkgevers": (
        "blue_collar"
    ),
    "Paritaire organen bevoegd voor de werknemers die hoofdzakelijk hoofdarbeid verrichten en hun werkgevers": (
        "white_collar"
    ),
    "Paritaire organen bevoegd voor de werknemers in het algemeen en hun werkgevers": "general",
}


def joint_committee(entry: Element) -> CodeEntry:
    """Annex 26 entry → row with the class of workers the committee is competent for."""
    category = pick(JOINT_COMMITTEE_CLASSES, text(entry, "category/nl"), "committee category", entry)
    return row(entry, text(entry, "code"), worker_class=category)


def employer_category(entry: Element) -> CodeEntry:
    """Annex 27 entry → row with its sector, private or public."""
    return row(
        entry,
        text(entry, "code"),
        sector=pick({"Private": "private", "Public": "public"}, text(entry, "sector"), "sector", entry),
    )


SIGNATURE_CODE_TYPES = {"Foutcodes": "main", "Verklarende codes": "explanatory"}  # by the Dutch wording


def signature_error_code(entry: Element) -> CodeEntry:
    """Annex 25 entry → row with its table (main error code or explanatory code) and category."""
    return row(
        entry,
        text(entry, "code"),
        code_type=pick(SIGNATURE_CODE_TYPES, text(entry, "code-type/nl"), "code type", entry),
        category_nl=text(entry, "category/nl"),
        category_fr=text(entry, "category/fr"),
    )


REDUCTION_COLUMNS = (
    "region",
    "flemish_region",
    "brussels_region",
    "walloon_region",
    "walloon_german_region",
    "link_block",
    *(zone.replace("-", "_") for zone in REDUCTION_PRESENCE_ZONES),
    "detail_block",
)
SOURCES = (
    Source(
        "worker_codes",
        2,
        "EmployeeCodes2022-2_2.xml",
        "employee-code",
        ("contribution_kind", "worker_class", "employee_type_nl", "employee_type_fr", "presence"),
        worker_code,
    ),
    Source(
        "contribution_types",
        3,
        "ContributionTypes2022-3_3.xml",
        "contribution-type",
        ("contribution_type", "employer_categories", "number_of_employees", "code_note_nl", "code_note_fr"),
        contribution_type,
    ),
    Source("reduction_codes", 4, "ReductionCodes2022-2_4.xml", "reduction-code", REDUCTION_COLUMNS, reduction_code),
    Source("remuneration_codes", 7, "Renumerations_07.xml", "remuneration", ("dmfa", "adrs"), remuneration_code),
    Source(
        "working_time_codes",
        8,
        "WorkingTimeCodes2022-2_8.xml",
        "working-time-code",
        ("dmfa", "dmfappl"),
        working_time_code,
    ),
    Source("form_identifications", 11, "FormIdentifications_2020-1_11.xml", "form-identification", (), plain),
    Source(
        "risk_identifications",
        12,
        "RiskIdentification2020-2_12.xml",
        "risk-identification",
        ("form", "title_nl", "title_fr", "scenario_nl", "scenario_fr"),
        risk_identification,
    ),
    Source(
        "joint_committees", 26, "JointCommittee2019-1_26.xml", "joint-committee", ("worker_class",), joint_committee
    ),
    Source(
        "employer_categories",
        27,
        "EmployerCategories2022-1_27.xml",
        "employer-category",
        ("sector",),
        employer_category,
    ),
    Source("error_codes", 30, "ErrorCodes2022-1_30.xml", "error-code", (), plain),
    Source(
        "signature_error_codes",
        25,
        "ErrCodesDigitalSignature2001-3_25.xml",
        "error-code",
        ("code_type", "category_nl", "category_fr"),
        signature_error_code,
    ),
)


# --- from entries to a file ---------------------------------------------------------------------------


def read_official(source: Source, folder: Path) -> tuple[list[CodeEntry], list[str]]:
    """Every entry of one official annex as our row, in file order; and a note per entry left out.

    An entry whose end quarter lies before its begin quarter covers no date: it is left out, not
    corrected, and the note says so (annex 4 has one: 3203, 2019/1 to 2013/4).
    """
    path = folder / source.file
    if not path.is_file():
        raise SystemExit(f"{path} is missing; pass --official with the folder of the official annexes")
    root = etree.parse(str(path), hardened_parser()).getroot()
    rows: list[CodeEntry] = []
    notes: list[str] = []
    for entry in root:
        if not isinstance(entry.tag, str):
            continue  # a comment
        if entry.tag != source.entry_tag:
            raise SystemExit(f"{path}:{entry.sourceline}: <{entry.tag}> found, expected <{source.entry_tag}>")
        try:
            found = source.read(entry)
        except SystemExit as exc:
            raise SystemExit(f"{path}, {exc}") from None
        if found.valid_to is not None and found.valid_to < found.valid_from:
            notes.append(
                f"code {found.code}: left out line {entry.sourceline}, it ends before it begins ({_span(found)})"
            )
            continue
        rows.append(found)
    return rows, notes


def merge_overlaps(rows: Iterable[CodeEntry]) -> tuple[list[CodeEntry], list[str]]:
    """Rows identical but for overlapping validity merged into their union; and a note per merge."""
    groups: dict[tuple[object, ...], list[CodeEntry]] = {}
    for entry in rows:
        key = (entry.code, entry.label_nl, entry.label_fr, tuple(entry.extra.items()))
        groups.setdefault(key, []).append(entry)
    merged: list[CodeEntry] = []
    notes: list[str] = []
    for group in groups.values():
        group.sort(key=lambda e: e.valid_from)
        current = group[0]
        for entry in group[1:]:
            if current.valid_to is None or entry.valid_from <= current.valid_to:
                later_end = (
                    None
                    if current.valid_to is None or entry.valid_to is None
                    else max(current.valid_to, entry.valid_to)
                )
                notes.append(
                    f"code {entry.code}: merged overlapping identical rows {_span(current)} and {_span(entry)}"
                )
                current = replace(current, valid_to=later_end)
            else:
                merged.append(current)
                current = entry
        merged.append(current)
    return merged, notes


def _span(entry: CodeEntry) -> str:
    return f"{entry.valid_from}..{entry.valid_to or 'open'}"


def sort_key(entry: CodeEntry, qualifiers: tuple[str, ...]) -> tuple[object, ...]:
    """Numeric codes in number order, then the others; then qualifiers and start date."""
    code = entry.code
    return (
        not code.isdigit(),
        int(code) if code.isdigit() else 0,
        code,
        tuple(entry.extra[q] for q in qualifiers),
        entry.valid_from,
    )


def build(source: Source, official: Path, out: Path) -> tuple[int, list[str]]:
    """Write ``<out>/<name>.csv`` from the official annex, checked by our reader; rows written and notes."""
    official_rows, left_out = read_official(source, official)
    rows, merged = merge_overlaps(official_rows)
    qualifiers = QUALIFIERS.get(source.name, ())
    rows.sort(key=lambda entry: sort_key(entry, qualifiers))
    csv_text = format_codelist(source.columns, rows)
    target = out / f"{source.name}.csv"
    try:
        parse_codelist(csv_text, name=source.name, source=f"{target} (as about to be written)")
    except ConfigError as exc:  # an overlap the merge could not resolve: the annex needs a decision
        raise SystemExit(f"{source.file}: {exc}") from exc
    out.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.write_text(csv_text, encoding="utf-8", newline="")
    os.replace(part, target)
    return len(rows), left_out + merged


def main(argv: list[str] | None = None) -> int:
    """Build the named lists (all by default); 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", type=Path, default=OFFICIAL, help=f"official annexes (default {OFFICIAL})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for our CSV files (default {OUT})")
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="lists to build: " + ", ".join(s.name for s in SOURCES)
    )
    args = parser.parse_args(argv)
    by_name = {source.name: source for source in SOURCES}
    unknown = sorted(set(args.names) - set(by_name))
    if unknown:
        parser.error(f"unknown list(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
    for name in args.names or list(by_name):
        source = by_name[name]
        count, notes = build(source, args.official, args.out)
        print(f"{source.file} (annex {source.annex}) -> {args.out / (name + '.csv')}: {count} rows")
        for note in notes:
            print(f"  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
