"""The C DmfA person reader (``cbss_batch/parse/_dmfa_reader.c``) against the Python readers it replaces.

Every record, every field and every refusal must be the same: generated persons with zones in any
order, repeated, empty, padded, signed, too large for 64 bits, escaped or in another namespace, with
comments and processing instructions between them; and line numbers beyond 65 535, where libxml2
keeps them outside the node.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from cbss_batch import PURE_PYTHON_ENV
from cbss_batch.parse import dmfa
from cbss_batch.xmlsafe import PARSER_OPTIONS

if importlib.util.find_spec("cbss_batch.parse._dmfa_reader") is None:
    pytest.skip("the C reader is not built here (no C compiler when the package was installed)",
                allow_module_level=True)

from cbss_batch.parse import _dmfa_reader  # type: ignore[attr-defined]  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# Texts a zone may hold: what the schema allows, and what a reader must refuse or convert like int().
TEXTS = st.one_of(
    st.sampled_from(["0", "01", "00001014600", "495", "2025-07-01", "2025-09-30", "", " ", " 7 ", "+12", "-3",
                     "1_000", "x", "12345678901234567890", "999999999999999999", "1000000000000000000",
                     "\u0661\u0662", "2025-13-01", "A&amp;B", "\u00c9lodie", "\t\n"]),
    st.text(alphabet="0123456789-+ abc", max_size=12),
)
PERSON_ZONES = ["NaturalPersonSequenceNbr", "INSS", "WorkerName", "WorkerFirstName", "NaturalPersonUserReference"]
RECORD_ZONES = ["EmployerClass", "WorkerCode", "NOSSQuarterStartingDate", "NOSSQuarterEndingDate", "Border",
                "ActivityWithRisk", "LocalUnitID", "Unknown"]
OCCUPATION_ZONES = ["OccupationSequenceNbr", "OccupationStartingDate", "OccupationEndingDate", "JointCommissionNbr",
                    "WorkingDaysSystem", "ContractType", "RefMeanWorkingHours", "MeanWorkingHours", "LocalUnitID",
                    "Retired"]
LEAVES = {
    "Service": ["ServiceSequenceNbr", "ServiceCode", "ServiceNbrDays", "ServiceNbrHours"],
    "Remun": ["RemunSequenceNbr", "RemunCode", "RemunAmount", "BonusPaymentFrequency", "PercentagePaid"],
    "OccupationDeduction": ["DeductionCode", "DeductionCalculationBasis", "DeductionAmount"],
    "WorkerDeduction": ["DeductionCode", "DeductionCalculationBasis", "DeductionAmount"],
    "WorkerContribution": ["ContributionWorkerCode", "ContributionType", "ContributionCalculationBasis",
                           "ContributionAmount", "FirstHiringDate"],
    "StudentContribution": ["StudentRemunAmount", "StudentContributionAmount", "StudentNbrDays"],
}


@st.composite
def zone(draw: Any, names: list[str]) -> str:
    """One leaf: a known or unknown name, any text, sometimes empty, namespaced, or with a comment inside."""
    name = draw(st.sampled_from(names))
    text = draw(TEXTS)
    form = draw(st.sampled_from(["plain", "plain", "plain", "empty", "namespaced", "commented", "cdata"]))
    if form == "empty":
        return f"<{name}/>"
    if form == "namespaced":
        return f'<o:{name} xmlns:o="urn:other">{text}</o:{name}>'
    if form == "commented":
        return f"<{name}>{text}<!-- c -->{text}</{name}>"
    if form == "cdata":
        return f"<{name}><![CDATA[{text}]]>{text}</{name}>"
    return f"<{name}>{text}</{name}>"


def block(name: str, zones: list[str], extra: list[str] = ()) -> st.SearchStrategy[str]:  # type: ignore[assignment]
    return st.lists(st.one_of(zone(zones), *[st.just(e) for e in extra]), max_size=7).map(
        lambda children: f"<{name}>{''.join(children)}</{name}>")


def leaf_block(name: str) -> st.SearchStrategy[str]:
    return block(name, LEAVES[name])


OCCUPATION = st.lists(st.one_of(zone(OCCUPATION_ZONES), leaf_block("Service"), leaf_block("Remun"),
                                leaf_block("OccupationDeduction"), st.just("<?pi x?>")), max_size=8).map(
    lambda children: f"<Occupation>{''.join(children)}</Occupation>")
RECORD = st.lists(st.one_of(zone(RECORD_ZONES), OCCUPATION, leaf_block("WorkerContribution"),
                            leaf_block("StudentContribution"), leaf_block("WorkerDeduction"),
                            OCCUPATION.map(lambda o: o.replace("Occupation>", "OccupationUpdate>"))),
                  max_size=8).map(lambda children: f"<WorkerRecord>{''.join(children)}</WorkerRecord>")
PERSON = st.lists(st.one_of(zone(PERSON_ZONES), RECORD, st.just("<!-- note -->")), max_size=6).map(
    lambda children: f"<NaturalPerson>{''.join(children)}</NaturalPerson>")


def outcome(read: Any, element: Any) -> tuple[str, Any]:
    try:
        return "read", read(element)
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        return exc.__class__.__name__, str(exc)


def parse(document: str, *, blank_text: bool) -> Any:
    parser = etree.XMLParser(remove_blank_text=blank_text, remove_comments=blank_text, **PARSER_OPTIONS)
    return etree.fromstring(document.replace("><", ">\n  <").encode(), parser)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PERSON, st.booleans())
def test_generated_persons_read_the_same(person: str, blank_text: bool) -> None:
    element = parse(person, blank_text=blank_text)
    assert outcome(_dmfa_reader.read_person, element) == outcome(dmfa.read_person_python, element)


IN_OCCUPATION = ("Service", "Remun", "OccupationDeduction")


@pytest.mark.parametrize("name", [*LEAVES, "Occupation", "WorkerRecord", "NaturalPerson"])
def test_each_block_reads_the_same(name: str) -> None:
    # One kind of block at a time, inside the smallest person holding it: every zone of it gets tried.
    if name in LEAVES:
        strategy = st.lists(leaf_block(name), min_size=1, max_size=3).map("".join)
        wrap = "<Occupation>{}</Occupation>" if name in IN_OCCUPATION else "{}"
        strategy = strategy.map(
            lambda b: f"<NaturalPerson><WorkerRecord>{wrap.format(b)}</WorkerRecord></NaturalPerson>")
    elif name == "Occupation":
        strategy = OCCUPATION.map(lambda b: f"<NaturalPerson><WorkerRecord>{b}</WorkerRecord></NaturalPerson>")
    elif name == "WorkerRecord":
        strategy = block("WorkerRecord", RECORD_ZONES).map(lambda b: f"<NaturalPerson>{b}</NaturalPerson>")
    else:
        strategy = block("NaturalPerson", PERSON_ZONES)

    @settings(max_examples=150, deadline=None)
    @given(strategy, st.booleans())
    def same(person: str, blank_text: bool) -> None:
        element = parse(person, blank_text=blank_text)
        assert outcome(_dmfa_reader.read_person, element) == outcome(dmfa.read_person_python, element)

    same()


def test_the_stream_reads_persons_with_the_c_reader() -> None:
    assert dmfa.READER == "c"
    assert dmfa._read_person is _dmfa_reader.read_person


def test_a_readable_person_gives_exactly_the_python_records() -> None:
    element = etree.fromstring(dmfa._SAMPLE, etree.XMLParser(remove_blank_text=True, **PARSER_OPTIONS))
    person = _dmfa_reader.read_person(element)
    assert person == dmfa.read_person_python(element)
    assert person.insz == "85073003328" and person.name == "Dupont & fils" and person.first_name == "\u00c9lodie"
    record = person.worker_records[0]
    assert record.contributions[0].basis == 1014600 and record.contributions[0].amount == 386258
    assert record.contributions[1].amount == 7 and record.contributions[1].contribution_type is None
    assert record.occupations[0].services[0].hours == 12345678901234567890
    assert record.occupations[0].remunerations[0].amount == 12
    assert [type(r).__name__ for r in (person, record, record.occupations[0], record.contributions[2],
                                       record.deductions[0])] == ["NaturalPerson", "WorkerRecord", "Occupation",
                                                                  "Contribution", "Deduction"]


def test_line_numbers_beyond_65535_are_those_of_lxml() -> None:
    # libxml2 keeps a line above 65 534 in a text node (or finds it through the first child): every
    # element of persons far down a file, empty ones and ones whose first child is an element included.
    filler = "<NaturalPersonUserReference>x</NaturalPersonUserReference>\n" * 70_000
    person = ("<NaturalPerson>\n<NaturalPersonSequenceNbr>2</NaturalPersonSequenceNbr>\n<INSS>85073003328</INSS>\n"
              "<WorkerRecord><Occupation>\n<Service><ServiceSequenceNbr>01</ServiceSequenceNbr><ServiceCode/>"
              "<ServiceNbrDays>1</ServiceNbrDays></Service></Occupation>\n<Border/>\n<WorkerContribution>"
              "<ContributionWorkerCode>810</ContributionWorkerCode><ContributionType>0</ContributionType>"
              "<ContributionAmount>5</ContributionAmount></WorkerContribution></WorkerRecord></NaturalPerson>")
    document = f"<Persons>\n<NaturalPerson>{filler}</NaturalPerson>\n{person}\n{person}</Persons>"
    for blank_text in (True, False):
        root = etree.fromstring(document.encode(), etree.XMLParser(remove_blank_text=blank_text, huge_tree=True))
        elements = [e for e in root.iter() if e.tag != "NaturalPersonUserReference"]
        assert max(e.sourceline for e in elements) > 65_535
        assert [_dmfa_reader.line_number(e) for e in elements] == [e.sourceline or 0 for e in elements]
        for element in root.iterchildren("NaturalPerson"):
            assert _dmfa_reader.read_person(element) == dmfa.read_person_python(element)


def test_what_is_not_an_lxml_element_is_refused() -> None:
    with pytest.raises(TypeError, match="an lxml element is expected"):
        _dmfa_reader.read_person("<NaturalPerson/>")
    comment = etree.Comment("no element")
    with pytest.raises(RuntimeError, match="layout"):
        _dmfa_reader.read_person(comment)


def test_the_python_readers_are_used_when_asked_for() -> None:
    env = dict(os.environ, **{PURE_PYTHON_ENV: "1"})
    out = subprocess.run([sys.executable, "-c", "from cbss_batch.parse import dmfa; print(dmfa.READER)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "python"
