"""The intake's fast paths give exactly what the full rules and calculation give (issue "DmfA intake speed").

Each quick test only decides whether the full rule can be skipped; these tests pin that whenever it is
skipped, the full rule would have found nothing and counted the same amounts.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cbss_batch.calculate import Employer, load_parameters
from cbss_batch.calculate.kernel import RateSnapshot, compute_line
from cbss_batch.generator import make_dmfa
from cbss_batch.ids import insz_number, is_valid_insz
from cbss_batch.records import (
    Contribution,
    Deduction,
    DmfaHeader,
    NaturalPerson,
    Occupation,
    Quarter,
    Remuneration,
    Service,
    WorkerRecord,
)
from cbss_batch.rules.amounts import compare_line
from cbss_batch.rules.dmfa import DeclarationChecks, check_codes, check_person
from cbss_batch.rules.runner import DeclarationReview, known_codes
from cbss_batch.validation import review_dmfa

PARAMS = load_parameters()
QUARTER = Quarter(2025, 3)
TODAY = date(2026, 1, 15)
HEADER = DmfaHeader(form_index=1, identification="DMFA", created_on=date(2025, 10, 10), created_at="08:00:00.000",
                    sender_reference=None, quarter=QUARTER, noss_number="032775426", trusteeship=0,
                    company_id="0551609997", net_owed_amount=0, line=3, employer_line=14)

# --- INSZ -----------------------------------------------------------------------------------------------

insz_texts = st.one_of(
    st.integers(min_value=0, max_value=10**11 - 1).map(lambda n: f"{n:011d}"),
    st.integers(min_value=0, max_value=10**9 - 1).map(
        lambda b: f"{b:09d}{97 - b % 97:02d}"),  # born before 2000: valid
    st.integers(min_value=0, max_value=10**9 - 1).map(
        lambda b: f"{b:09d}{97 - (2_000_000_000 + b) % 97:02d}"),  # born in 2000 or later: valid
    st.text(alphabet="0123456789 ²٣-", max_size=13),
)


@settings(max_examples=2000)
@given(insz_texts)
def test_insz_number_is_the_full_check(text: str) -> None:
    number = insz_number(text)
    assert (number is not None) == is_valid_insz(text)
    if number is not None:
        assert number == int(text)


# --- the rules of a person ------------------------------------------------------------------------------


def _reference_review(review: DeclarationReview, persons: list[NaturalPerson]) -> tuple[Any, ...]:
    """The rules as DeclarationReview.add_person ran them before its fast path."""
    findings = list(review.findings)
    checks = DeclarationChecks(review.header)
    totals = [0, 0, 0, 0, 0]  # contributions, students, deductions, persons, worker records
    for person in persons:
        findings += check_person(review.header, person)
        findings += check_codes(review.header, person, known_codes(review.header.quarter.start))
        findings += checks.add_person(person)
        totals[3] += 1
        for record in person.worker_records:
            totals[4] += 1
            for occupation in record.occupations:
                for deduction in occupation.deductions:
                    totals[2] += deduction.amount or 0
            for contribution in record.contributions:
                if contribution.kind == "student":
                    totals[1] += contribution.amount
                else:
                    totals[0] += contribution.amount
            for deduction in record.deductions:
                totals[2] += deduction.amount or 0
    return findings, totals


codes = st.sampled_from(["001", "1", "002", "010", "998", "0001", "999", "", " 1"])
persons = st.builds(
    lambda sequence, insz, line, worker_codes, remuns, services, contributions, deductions: NaturalPerson(
        sequence, insz, None, None, line, tuple(
            WorkerRecord("010", worker_code, QUARTER.start, QUARTER.end, 0, None, None, line + 1, (Occupation(
                1, None, None, "200", 500, 0, 3800, 3800, None, line + 2,
                tuple(Service(1, code, 100, None, line + 3) for code in services),
                tuple(Remuneration(1, code, 1000, None, None, line + 4) for code in remuns),
                tuple(Deduction("0001", None, amount, line + 5) for amount in deductions)),),
                tuple(Contribution(code, "0", None, amount, line + 6, kind) for code, amount, kind in contributions),
                tuple(Deduction("3000", None, amount, line + 7) for amount in deductions))
            for worker_code in worker_codes)),
    st.integers(min_value=0, max_value=9_999_999),
    st.one_of(insz_texts, st.sampled_from(["85073003328", "01041012343", "00010100108"])),
    st.integers(min_value=1, max_value=10**6),
    st.lists(st.sampled_from(["495", "015", "999", "0495", "", "840"]), min_size=1, max_size=2),
    st.lists(codes, max_size=3),
    st.lists(codes, max_size=2),
    st.lists(st.tuples(st.sampled_from(["495", "809", "840"]), st.integers(min_value=0, max_value=10**6),
                       st.sampled_from(["worker", "worker", "student"])), max_size=4),
    st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=10**5)), max_size=2),
)


@settings(max_examples=300)
@given(st.lists(persons, max_size=6))
def test_review_of_persons_is_the_full_rules(people: list[NaturalPerson]) -> None:
    review = DeclarationReview(HEADER, TODAY)
    expected_findings, expected_totals = _reference_review(DeclarationReview(HEADER, TODAY), people)
    for person in people:
        review.add_person(person)
    assert review.findings == expected_findings
    assert [review.contributions, review.students, review.deductions, review.persons,
            review.worker_records] == expected_totals


# --- contributions as declared ---------------------------------------------------------------------------

remun_codes = st.sampled_from(["001", "002", "1", " 2", "010", "022"])
occupations = st.builds(
    lambda remuns, committee: Occupation(1, None, None, committee, 500, 0, 3800, 3800, None, 1, (),
                                         tuple(Remuneration(1, c, a, None, None, 1) for c, a in remuns)),
    st.lists(st.tuples(remun_codes, st.integers(min_value=-10**4, max_value=10**9)), max_size=3),
    st.sampled_from(["200", "200.00", "100", "124.01"]),
)
lines = st.builds(
    lambda worker_code, occs: WorkerRecord("010", worker_code, QUARTER.start, QUARTER.end, 0, None, None, 1,
                                           tuple(occs)),
    st.sampled_from(["495", "015", "024", "439", "840", "809"]),
    st.lists(occupations, max_size=2),
)
employers = st.builds(Employer, workers=st.sampled_from([5, 10, 19, 20, 60]), is_commercial=st.booleans(),
                      is_profit=st.booleans(), is_subject_to_unemployment=st.booleans())


def _declare(record: WorkerRecord, snapshot: RateSnapshot, extra: list[Contribution], drop: int | None,
             change: int | None) -> WorkerRecord:
    """The line declaring what we compute (as the generator does), then perturbed."""
    declared = [Contribution(line.code, line.contribution_type or "0", line.basis_cents, line.amount_cents, 1)
                for line in compute_line(record, snapshot)]
    if drop is not None and declared:
        del declared[drop % len(declared)]
    if change is not None and declared:
        i = change % len(declared)
        declared[i] = declared[i]._replace(amount=declared[i].amount + change)
    return record._replace(contributions=tuple(declared + extra))


extras = st.lists(st.builds(Contribution, st.sampled_from(["856", "869", "809", "495"]), st.just("0"), st.none(),
                            st.integers(min_value=-5, max_value=10**5), st.just(1),
                            st.sampled_from(["worker", "worker", "student"])), max_size=2)


@settings(max_examples=1000)
@given(record=lines, employer=employers, extra=extras, drop=st.one_of(st.none(), st.integers(0, 9)),
       change=st.one_of(st.none(), st.integers(-3, 3)))
def test_declared_as_computed_is_the_common_case_of_compare_line(
        record: WorkerRecord, employer: Employer, extra: list[Contribution], drop: int | None,
        change: int | None) -> None:
    snapshot = RateSnapshot.build(QUARTER, employer, PARAMS)
    record = _declare(record, snapshot, extra, drop, change)
    person = NaturalPerson(1, "85073003328", None, None, 1, (record,))
    review = compare_line(HEADER, person, record, compute_line(record, snapshot))
    agreed = snapshot.declared_as_computed(record)
    if agreed is not None:
        assert review.findings == () and review.corrections == () and review.student_cents == 0
        assert review.contributions_cents == agreed
    declared = {c.worker_code: c.amount for c in record.contributions}
    common = all(c.kind == "worker" for c in record.contributions) and all(
        declared.get(line.code) == line.amount_cents for line in compute_line(record, snapshot))
    if common and record.worker_code not in snapshot.student_codes:  # students always take the full path
        assert agreed is not None


# --- validate: persons reviewed from their summary --------------------------------------------------------

XSD = Path(__file__).resolve().parents[2] / "xsd" / "DmfAOriginal_20223.xsd"
_XS = "{http://www.w3.org/2001/XMLSchema}"


def _parents_in_person() -> dict[str, set[str]]:
    """Element name → names of the elements it can be a child of, under NaturalPerson."""
    root = etree.parse(str(XSD)).getroot()
    types = {t.get("name"): t for t in root.iter(f"{_XS}complexType") if t.get("name")}
    parents: dict[str, set[str]] = {}

    def walk(type_name: str, parent: str) -> None:
        for element in types[type_name].iter(f"{_XS}element"):
            name, child_type = element.get("name"), element.get("type")
            assert name and element.find(f"{_XS}complexType") is None  # named elements, named types
            if parent not in parents.setdefault(name, set()):
                parents[name].add(parent)
                if child_type in types:
                    walk(child_type, name)

    walk("NaturalPersonType", "NaturalPerson")
    return parents


def test_summarised_zones_sit_where_the_reader_takes_them() -> None:
    parents = _parents_in_person()
    assert parents["INSS"] == parents["NaturalPersonSequenceNbr"] == parents["WorkerRecord"] == {"NaturalPerson"}
    assert parents["WorkerCode"] == {"WorkerRecord"}
    assert parents["RemunCode"] == {"Remun"} and parents["Remun"] == {"Occupation"}
    assert parents["ServiceCode"] == {"Service"} and parents["Service"] == {"Occupation"}
    assert parents["Occupation"] == {"WorkerRecord"}
    assert parents["ContributionAmount"] == {"WorkerContribution", "ComplIndemnityContribution"}  # the latter: read()
    assert parents["WorkerContribution"] == {"WorkerRecord"}
    assert parents["StudentContributionAmount"] == {"StudentContribution"}
    assert parents["StudentContribution"] == {"WorkerRecord"}
    assert parents["DeductionAmount"] == {"WorkerDeduction", "OccupationDeduction"}
    assert parents["WorkerDeduction"] == {"WorkerRecord"} and parents["OccupationDeduction"] == {"Occupation"}
    for zone in ("NOSSQuarterStartingDate", "NOSSQuarterEndingDate"):
        assert parents[zone] == {"WorkerRecord"}
    for zone in ("OccupationStartingDate", "OccupationEndingDate"):
        assert parents[zone] == {"Occupation"}


def _reviews(data: bytes, lazy: bool) -> list[tuple[Any, ...]]:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    summarised = 0
    add_summary = DeclarationReview.add_summary

    def counted(review: DeclarationReview, summary: Any) -> bool:
        nonlocal summarised
        added = add_summary(review, summary)
        summarised += added
        return added

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DeclarationReview, "add_summary", counted)
        reviews = review_dmfa(io.BytesIO(data), schema, TODAY, lazy=lazy)
    assert summarised or not lazy
    return [(r.findings, r.totals()) for r in reviews]


def _spoil(data: bytes) -> bytes:
    """Unknown worker, remuneration and working-time codes, a student line, deductions."""
    text = data.decode()
    text = text.replace("<WorkerCode>495</WorkerCode>", "<WorkerCode>999</WorkerCode>", 3)
    text = text.replace("<RemunCode>010</RemunCode>", "<RemunCode>998</RemunCode>", 2)
    text = text.replace("<ServiceCode>050</ServiceCode>", "<ServiceCode>997</ServiceCode>", 2)
    return text.encode()


@pytest.mark.parametrize("faults", [(), ("bad_insz", "duplicate_insz"), ("net_owed_off", "bad_kbo")])
def test_summaries_review_as_the_records_do(faults: tuple[str, ...]) -> None:
    data = _spoil(make_dmfa(workers=400, declarations=2, quarter="20253", seed=3, faults=faults))
    assert _reviews(data, lazy=True) == _reviews(data, lazy=False)


# --- whitespace between elements ------------------------------------------------------------------------

_XSD = Path(__file__).resolve().parents[2] / "xsd"
_WHITESPACE_CASES = {  # a mutation of a valid document → is it still schema-valid?
    "as generated": (lambda d: d, True),
    "blank Quarter": (lambda d: _first(d, "Quarter", "   "), False),
    "INSS a newline": (lambda d: _first(d, "INSS", "\n"), False),
    "text between elements": (lambda d: d.replace("</INSS>", "</INSS>x", 1), False),
    "blanks between elements": (lambda d: d.replace("</INSS>", "</INSS>  \n\t ", 1), True),
    "blank CDATA between elements": (lambda d: d.replace("</INSS>", "</INSS><![CDATA[ ]]>", 1), True),
    "blank NaturalPersonUserReference": (lambda d: _first(d, "NaturalPersonUserReference", " \t"), True),
}


def _first(document: str, tag: str, text: str) -> str:
    start = document.index(f"<{tag}>") + len(tag) + 2
    return document[:start] + text + document[document.index(f"</{tag}>", start):]


@pytest.mark.parametrize("case", sorted(_WHITESPACE_CASES))
def test_the_stream_drops_blank_text_between_elements_but_judges_and_reads_as_written(case: str) -> None:
    """read_dmfa leaves the whitespace between elements out of the tree (remove_blank_text): the schema
    in the stream judges the document as plain streaming validation does, and a leaf's text is kept."""
    from cbss_batch.parse.dmfa import InvalidDocument, PersonElement, read_dmfa
    from cbss_batch.xmlsafe import load_schema

    mutate, valid = _WHITESPACE_CASES[case]
    document = mutate(make_dmfa(workers=3, quarter="20253").decode()).encode()
    schema = load_schema(_XSD / "DmfAOriginal_20223.xsd")
    assert schema.validate(etree.parse(io.BytesIO(document))) is valid
    references = []
    try:
        for event in read_dmfa(io.BytesIO(document), schema, lazy=True):
            if isinstance(event, PersonElement):
                references.append(event.element.findtext("NaturalPersonUserReference"))
                assert event.element[0].tail is None  # no blank text node kept between elements
    except InvalidDocument:
        assert not valid
        return
    assert valid
    assert len(references) == 3
    if case == "blank NaturalPersonUserReference":
        assert references[0] == " \t"
