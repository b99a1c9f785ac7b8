"""The catalogue format: parsing, formatting back, the XSD it writes, and zone-number lookups."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cbss_batch.schemas.catalogue import (
    Block,
    Catalogue,
    CatalogueError,
    Group,
    Particle,
    Ref,
    Wildcard,
    Zone,
    format_catalogue,
    load_catalogue,
    parse_catalogue,
    simplify,
    write_xsd,
)

ROOT = Path(__file__).resolve().parents[2]
ZONES = """
zone 00001 A integer digits=2
zone 00002 B integer digits=2
zone 00003 C string maxlen=3
zone 00004 D date
zone 00005 E string maxlen=3
"""


def model(text: str) -> Group:
    """Content model of block R in a catalogue holding zones A..E."""
    catalogue = parse_catalogue(f"root R\nblock 90000 R = {text}\n{ZONES}")
    return catalogue.blocks[0].content


def seq(*items: Particle, low: int = 1, high: int | None = 1) -> Group:
    return Group("sequence", items, low, high)


def choice(*items: Particle, low: int = 1, high: int | None = 1) -> Group:
    return Group("choice", items, low, high)


# --- content models ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", Ref("A")),
        ("A?", Ref("A", 0, 1)),
        ("A*", Ref("A", 0, None)),
        ("A+", Ref("A", 1, None)),
        ("A{3}", Ref("A", 3, 3)),
        ("A{0}", Ref("A", 0, 0)),
        ("A{2,}", Ref("A", 2, None)),
        ("A{0,99}", Ref("A", 0, 99)),
        ("<any>", Wildcard()),
        ("<any>*", Wildcard(0, None)),
    ],
    ids=[
        "once",
        "optional",
        "any-number",
        "at-least-one",
        "exactly-3",
        "forbidden",
        "at-least-2",
        "up-to-99",
        "wildcard",
        "wildcards",
    ],
)
def test_reads_occurrences(text: str, expected: Particle) -> None:
    assert model(text) == seq(expected)


def test_reads_a_sequence_in_order() -> None:
    assert model("A B? C*") == seq(Ref("A"), Ref("B", 0, 1), Ref("C", 0, None))


def test_reads_groups_with_occurrences() -> None:
    assert model("A (B C)? (D E){1,2}") == seq(
        Ref("A"), seq(Ref("B"), Ref("C"), low=0), seq(Ref("D"), Ref("E"), low=1, high=2)
    )


def test_reads_a_choice_whose_alternatives_are_sequences() -> None:
    assert model("A B | C") == choice(seq(Ref("A"), Ref("B")), Ref("C"))


def test_reads_a_nested_choice_in_a_sequence() -> None:
    assert model("A (B | C D)* E") == seq(
        Ref("A"), choice(Ref("B"), seq(Ref("C"), Ref("D")), low=0, high=None), Ref("E")
    )


def test_reads_the_dmfa_employer_declaration_shape() -> None:
    assert model("A B? ( C+ (D* E*)? | D* E+ )") == seq(
        Ref("A"),
        Ref("B", 0, 1),
        choice(
            seq(Ref("C", 1, None), seq(Ref("D", 0, None), Ref("E", 0, None), low=0)),
            seq(Ref("D", 0, None), Ref("E", 1, None)),
        ),
    )


def test_drops_groups_that_change_nothing() -> None:
    assert model("((A B)) (C)") == seq(Ref("A"), Ref("B"), Ref("C"))
    assert model("A | (B | C)") == choice(Ref("A"), Ref("B"), Ref("C"))
    assert model("(A | B)") == choice(Ref("A"), Ref("B"))


def test_continuation_lines_extend_the_entry_above() -> None:
    catalogue = parse_catalogue(f"root R\nblock 90000 R =\n    A\n    ( B\n    | C\n    )*\n{ZONES}")
    assert catalogue.blocks[0].content == seq(Ref("A"), choice(Ref("B"), Ref("C"), low=0, high=None))


# --- zones -------------------------------------------------------------------------------------------


def test_reads_a_zone_with_facets_in_canonical_order() -> None:
    catalogue = parse_catalogue(
        "root R\nblock 90000 R = Q\nzone 00013 Q integer digits=5 min=20031 "
        r"pattern=\d{4}(1|2|3|4)"
    )
    assert catalogue.zones == (
        Zone("00013", "Q", "integer", (("min", "20031"), ("digits", "5"), ("pattern", r"\d{4}(1|2|3|4)"))),
    )


def test_reads_enumerations_and_quoted_values() -> None:
    catalogue = parse_catalogue(
        "root R\nblock 90000 R = T\nzone 00297 T string maxlen=9 enum=SU|FA "
        'enum="a b|say ""hi""" pattern="x y"'
    )
    assert catalogue.zones[0].facets == (
        ("maxlen", "9"),
        ("pattern", "x y"),
        ("enum", "SU"),
        ("enum", "FA"),
        ("enum", "a b"),
        ("enum", 'say "hi"'),
    )


# --- errors name the line ----------------------------------------------------------------------------


R = "root R\nblock 90000 R = "  # line 2 holds the block
A, B = "\nzone 00001 A integer", "\nzone 00002 B integer"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (R + "A" + A + "\nfield 00002 B", 4, "unknown entry 'field'"),
        (R + "(A B" + A + B, 2, "missing ')'"),
        (R + "A B)" + A + B, 2, "unexpected ')'"),
        (R + "A | | B" + A + B, 2, "expected a label"),
        (R + "A{3,1}" + A, 2, "min above max"),
        (R + "A & B" + A, 2, "cannot read content model at '& B'"),
        (R + A, 2, "expected a label"),
        (R + "A\nzone 00001 A int", 3, "unknown base type 'int'"),
        (R + "A\nzone 00001 A string digits=3", 3, "'digits' does not apply to base string"),
        (R + "A\nzone 00001 A string size=3", 3, "unknown facet 'size'"),
        (R + "A\nzone 00001 A string maxlen=3 maxlen=4", 3, "'maxlen' given twice"),
        (R + 'A\nzone 00001 A string pattern="open', 3, "cannot read"),
        (R + "A\nzone 0001 A integer", 3, "'0001' is not 5 digits"),
        (R + "A\nzone 00001 1A integer", 3, "'1A' is not an XML element name"),
        ("root R\nblock 90000 R A", 2, "a block reads"),
        (R + "A\n" + A + "\nzone 00002 A date", 5, "already defined on line 4"),
        (R + "A B" + A, 2, "uses B, which is not defined"),
        ("  A\nroot R", 1, "continuation line"),
        ("root R\n" + R + "A" + A, 2, "second 'root' line"),
        ("# header\nroot A\nblock 90000 R = A" + A, 2, "root A is not a block"),
    ],
    ids=[
        "unknown-entry",
        "unclosed-group",
        "stray-paren",
        "empty-alternative",
        "min-above-max",
        "unknown-symbol",
        "empty-model",
        "unknown-base",
        "facet-for-other-base",
        "unknown-facet",
        "facet-twice",
        "unclosed-quote",
        "short-number",
        "bad-label",
        "block-without-equals",
        "label-twice",
        "undefined-label",
        "continuation-first",
        "two-roots",
        "root-not-a-block",
    ],
)
def test_bad_syntax_raises_an_error_naming_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, where="x.cat")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"x.cat:{line}: ")
    assert words in str(caught.value)


def test_a_catalogue_without_a_root_block_is_refused() -> None:
    with pytest.raises(CatalogueError, match="root .missing. is not a block"):
        parse_catalogue("block 90000 R = A\nzone 00001 A integer")


def test_load_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "Bad_20231.cat"
    path.write_text("# header\nroot R\nblock 90000 R = A?? \nzone 00001 A integer\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"^Bad_20231\.cat:3: "):
        load_catalogue(path)


# --- formatting back -----------------------------------------------------------------------------------

OCCURS = st.sampled_from([(1, 1), (0, 1), (0, None), (1, None), (0, 0), (2, 2), (2, None), (1, 3)])
LEAVES = st.one_of(
    st.builds(lambda label, occurs: Ref(label, *occurs), st.sampled_from("ABCDE"), OCCURS),
    st.builds(lambda occurs: Wildcard(*occurs), OCCURS),
)
PARTICLES = st.recursive(
    LEAVES,
    lambda inner: st.builds(
        lambda kind, items, occurs: Group(kind, tuple(items), *occurs),
        st.sampled_from(["sequence", "choice"]),
        st.lists(inner, min_size=1, max_size=4),
        OCCURS,
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(PARTICLES)
def test_formatting_then_parsing_gives_the_same_catalogue(particle: Particle) -> None:
    zones = parse_catalogue(f"root R\nblock 90000 R = A\n{ZONES}").zones
    catalogue = Catalogue(
        name="catalogue",
        root="R",
        zones=zones,
        blocks=(Block("90000", "R", simplify(Group("sequence", (particle,)))),),
        version="20231",
        title="a test",
    )
    assert parse_catalogue(format_catalogue(catalogue, header="# test")) == catalogue


@pytest.mark.parametrize("name", ["DmfAOriginal_20223", "ACRF_20231", "NOTIFICATION_20223"])
def test_committed_catalogues_format_back_to_equal_catalogues(name: str) -> None:
    catalogue = load_catalogue(ROOT / "xsd" / "catalogue" / f"{name}.cat")
    assert parse_catalogue(format_catalogue(catalogue), name=name) == catalogue


# --- the XSD written -----------------------------------------------------------------------------------

SMALL = r"""
title Small message
version 20231
root Message
block 90001 Message = Header Line+ Trailer?
block 90002 Header = Day Amount
block 90003 Line = Code Amount{0,2} (Day | Note) Day?
block 90004 Trailer = <any>
zone 00010 Day date pattern=\d{4}-\d{2}-\d{2}
zone 00011 Amount integer min=0 max=999 digits=3
zone 00012 Code integer min=0 max=999 digits=3
zone 00013 Note string maxlen=5
zone 00014 Unused string
"""


def small_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.fromstring(write_xsd(parse_catalogue(SMALL, name="Small_20231"))))


def test_writes_the_same_bytes_for_the_same_catalogue() -> None:
    catalogue = parse_catalogue(SMALL, name="Small_20231")
    assert write_xsd(catalogue) == write_xsd(parse_catalogue(SMALL, name="Small_20231"))


def test_only_the_root_element_is_global() -> None:
    schema = etree.fromstring(write_xsd(parse_catalogue(SMALL, name="Small_20231")))
    xs = "{http://www.w3.org/2001/XMLSchema}"
    assert [e.get("name") for e in schema.findall(f"{xs}element")] == ["Message"]
    assert [t.get("name") for t in schema.findall(f"{xs}complexType")] == [
        "MessageType",
        "HeaderType",
        "LineType",
        "TrailerType",
    ]


def test_shared_restrictions_get_one_named_type_and_unique_ones_stay_inline() -> None:
    schema = etree.fromstring(write_xsd(parse_catalogue(SMALL, name="Small_20231")))
    xs = "{http://www.w3.org/2001/XMLSchema}"
    # Amount and Code share a restriction; Day is repeated inside Line (one named type keeps the
    # declarations consistent); Note is used once with its own restriction; Unused is not reachable.
    assert [t.get("name") for t in schema.findall(f"{xs}simpleType")] == [
        "DatePattern",
        "IntegerFrom0To999Digits3",
    ]
    types = {e.get("name"): e.get("type") for e in schema.iter(f"{xs}element")}
    assert types["Amount"] == types["Code"] == "IntegerFrom0To999Digits3"
    assert types["Day"] == "DatePattern"
    assert types["Note"] is None
    assert "Unused" not in types


def test_each_element_documents_its_number() -> None:
    schema = etree.fromstring(write_xsd(parse_catalogue(SMALL, name="Small_20231")))
    xs = "{http://www.w3.org/2001/XMLSchema}"
    numbers = {
        e.get("name"): e.findtext(f"{xs}annotation/{xs}documentation") for e in schema.iter(f"{xs}element")
    }
    assert numbers == {
        "Message": "90001",
        "Header": "90002",
        "Day": "00010",
        "Amount": "00011",
        "Line": "90003",
        "Code": "00012",
        "Note": "00013",
        "Trailer": "90004",
    }


@pytest.mark.parametrize(
    ("document", "valid"),
    [
        (
            "<Message><Header><Day>2023-01-31</Day><Amount>5</Amount></Header>"
            "<Line><Code>1</Code><Note>x</Note></Line></Message>",
            True,
        ),
        (
            "<Message><Header><Day>2023-01-31</Day><Amount>5</Amount></Header>"
            "<Line><Code>1</Code><Amount>1</Amount><Amount>2</Amount><Day>2023-01-01</Day><Day>2023-01-02</Day></Line>"
            "<Trailer><Anything><Deep/></Anything></Trailer></Message>",
            True,
        ),
        (
            "<Message><Header><Day>2023-01-31</Day><Amount>5</Amount></Header>"
            "<Line><Code>1</Code><Amount>1</Amount><Amount>2</Amount><Amount>3</Amount><Note>x</Note></Line>"
            "</Message>",
            False,
        ),
        (
            "<Message><Header><Day>2023-01-31</Day><Amount>5</Amount></Header>"
            "<Line><Code>1</Code><Note>x</Note><Note>y</Note></Line></Message>",
            False,
        ),
        ("<Message><Header><Day>2023-01-31</Day><Amount>5</Amount></Header></Message>", False),
        (
            "<Message><Header><Day>2023-01-31</Day><Amount>1000</Amount></Header>"
            "<Line><Code>1</Code><Note>x</Note></Line></Message>",
            False,
        ),
        (
            "<Message><Header><Day>2023-01-31</Day><Amount>5</Amount></Header>"
            "<Line><Code>1</Code><Note>toolong</Note></Line></Message>",
            False,
        ),
        ("<Header><Day>2023-01-31</Day><Amount>5</Amount></Header>", False),
        ("<Other/>", False),
    ],
    ids=[
        "minimal",
        "repeats-choice-and-wildcard",
        "too-many-amounts",
        "choice-taken-twice",
        "missing-line",
        "out-of-range",
        "too-long",
        "inner-block-as-root",
        "unknown-root",
    ],
)
def test_the_written_schema_accepts_the_catalogue_language(document: str, valid: bool) -> None:
    assert small_schema().validate(etree.fromstring(document)) is valid


def test_the_written_schema_loads_in_xmlschema_too() -> None:
    schema = xmlschema.XMLSchema(write_xsd(parse_catalogue(SMALL, name="Small_20231")).decode())
    assert schema.is_valid(
        "<Message><Header><Day>2023-01-31</Day><Amount>5</Amount></Header>"
        "<Line><Code>1</Code><Day>2023-01-31</Day></Line></Message>"
    )


@pytest.mark.parametrize(
    ("document", "valid"),
    [
        ("<R><A>1</A></R>", True),
        ("<R><A>1</A><B>1</B></R>", False),
        ("<R><A>1</A><B>1</B><C>1</C></R>", False),
        ("<R><A>1</A><C>1</C></R>", True),
    ],
    ids=["without", "forbidden-last", "forbidden-before-optional", "optional-after"],
)
def test_a_forbidden_zone_is_rejected_wherever_it_stands(document: str, valid: bool) -> None:
    catalogue = parse_catalogue(R + "A B{0} C?" + A + B + "\nzone 00003 C integer")
    assert catalogue.zone_number("B") == "00002"
    schema = etree.XMLSchema(etree.fromstring(write_xsd(catalogue)))
    assert schema.validate(etree.fromstring(document)) is valid


# --- zone numbers --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dmfa() -> Catalogue:
    return load_catalogue(ROOT / "xsd" / "catalogue" / "DmfAOriginal_20223.cat")


@pytest.mark.parametrize(
    ("label", "number"),
    [
        ("INSS", "00024"),
        ("Quarter", "00013"),
        ("NetOwedAmount", "00015"),
        ("NaturalPerson", "90017"),  # block 90017 in official/glossary/functional-blocks/DmfAOriginal.xml
        ("DmfAOriginal", "90169"),
        ("SIS", "00167"),  # forbidden in a DmfA original ({0}), still reported against its own zone
    ],
)
def test_zone_number_of_an_element_name(dmfa: Catalogue, label: str, number: str) -> None:
    assert dmfa.zone_number(label) == number


def test_zone_number_of_an_unknown_element_is_none(dmfa: Catalogue) -> None:
    assert dmfa.zone_number("Unknown") is None
    assert dmfa.zone_number("inss") is None


def test_zone_number_takes_the_first_of_two_definitions() -> None:
    catalogue = Catalogue(
        name="twice",
        root="R",
        blocks=(Block("90000", "R", seq(Ref("A"))),),
        zones=(Zone("00001", "A", "integer"), Zone("00002", "A", "integer")),
    )
    assert catalogue.zone_number("A") == "00001"
