"""The hardened XML layer: prolog screening, parts read as one stream, libxml2 errors as annex-30 codes."""

from __future__ import annotations

import gc
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from cbss_batch.errors import RejectedFile
from cbss_batch.generator import make_dmfa
from cbss_batch.schemas.files import known_elements
from cbss_batch.xmlsafe import ChainedReader, XmlProblem, diagnose, load_schema, schema_problem, screen_prolog

PROJECT = Path(__file__).resolve().parents[2]
XSD = PROJECT / "xsd"
DMFA_XSD = XSD / "DmfAOriginal_20223.xsd"
VALID = make_dmfa(workers=1, quarter="20253")

DOCTYPE_XXE = '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r>&x;</r>'
LAUGHS = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>'


def utf16(text: str, codec: str = "utf-16") -> bytes:
    return text.replace('version="1.0"?>', 'version="1.0" encoding="UTF-16"?>').encode(codec)


# ---------------------------------------------------------------- prolog screening

ACCEPTED_PROLOGS = [
    ("declaration", b'<?xml version="1.0" encoding="UTF-8"?>\n<DmfAOriginal>', "DmfAOriginal", "UTF-8"),
    ("no-declaration", b"<ACRF/>", "ACRF", None),
    ("single-quoted-encoding", b"<?xml version='1.0' encoding='ISO-8859-1'?><NOTIFICATION>", "NOTIFICATION",
     "ISO-8859-1"),
    ("utf8-bom", b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><Dimona>', "Dimona", "utf-8"),
    ("comment-and-pi-first", b'<?xml version="1.0"?>\n<!-- made by x -->\n<?app y?>\n<DmfAOriginal>', "DmfAOriginal",
     None),
    ("leading-whitespace", b"\n\n  \t<DmfAOriginal>", "DmfAOriginal", None),
    ("attributes", b'<DmfAOriginal xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" a="1">', "DmfAOriginal",
     None),
    ("encoding-word-after-root", b"<Root note=\"encoding='X'\">", "Root", None),
    ("utf16-le-bom", utf16('<?xml version="1.0"?><DmfAOriginal/>'), "DmfAOriginal", "UTF-16"),
    ("utf16-be-bom", b"\xfe\xff" + utf16('<?xml version="1.0"?><DmfAOriginal/>', "utf-16-be"), "DmfAOriginal",
     "UTF-16"),
    ("utf16-le-no-bom", utf16('<?xml version="1.0"?><DmfAOriginal/>', "utf-16-le"), "DmfAOriginal", "UTF-16"),
    ("utf16-be-no-bom", utf16('<?xml version="1.0"?><DmfAOriginal/>', "utf-16-be"), "DmfAOriginal", "UTF-16"),
    ("truncated-head", VALID[:120], "DmfAOriginal", "UTF-8"),
    ("generated-dmfa", VALID, "DmfAOriginal", "UTF-8"),
]


@pytest.mark.parametrize(("head", "root", "encoding"), [r[1:] for r in ACCEPTED_PROLOGS],
                         ids=[r[0] for r in ACCEPTED_PROLOGS])
def test_screen_prolog_returns_root_and_declared_encoding(head: bytes, root: str, encoding: str | None) -> None:
    prolog = screen_prolog(head, "FI.DMFA.006400.20261128.00001.T.1.1")
    assert (prolog.root, prolog.encoding) == (root, encoding)


REFUSED_PROLOGS = [
    ("doctype-xxe", DOCTYPE_XXE.encode(), "102"),
    ("doctype-lower-case", b'<!doctype r SYSTEM "http://example.org/r.dtd"><r/>', "102"),
    ("entity-expansion", LAUGHS.encode(), "102"),
    ("doctype-after-comment", b"<!-- hello --><!DOCTYPE r><r/>", "102"),
    ("doctype-utf16-le-bom", utf16(DOCTYPE_XXE), "102"),
    ("doctype-utf16-be-bom", b"\xfe\xff" + utf16(DOCTYPE_XXE, "utf-16-be"), "102"),
    ("doctype-utf16-le-no-bom", utf16(DOCTYPE_XXE, "utf-16-le"), "102"),
    ("doctype-utf16-be-no-bom", utf16(DOCTYPE_XXE, "utf-16-be"), "102"),
    ("entity-utf16-no-declaration", "<!DOCTYPE r [<!ENTITY a 'b'>]><r/>".encode("utf-16-le"), "102"),
    ("doctype-utf32-le", DOCTYPE_XXE.encode("utf-32-le"), "102"),
    ("doctype-utf32-be", DOCTYPE_XXE.encode("utf-32-be"), "102"),
    ("empty", b"", "134"),
    ("whitespace-only", b" \r\n\t ", "134"),
    ("utf8-bom-only", b"\xef\xbb\xbf", "134"),
    ("utf16-bom-and-blanks", "\ufeff  \n".encode("utf-16-le"), "134"),
    ("declaration-only", b'<?xml version="1.0" encoding="UTF-8"?>\n', "102"),
    ("comment-only", b"<!-- nothing here -->", "102"),
    ("unterminated-comment", b"<!-- never closed <DmfAOriginal>", "102"),
    ("plain-text", b"NOSS;INSS;amount\n083812267;94092722730;12\n", "102"),
    ("pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "102"),
    ("prolog-beyond-64-kib", b"<!--" + b"x" * 70_000 + b"--><DmfAOriginal/>", "102"),
]


@pytest.mark.parametrize(("head", "code"), [r[1:] for r in REFUSED_PROLOGS], ids=[r[0] for r in REFUSED_PROLOGS])
def test_screen_prolog_refuses_with_acrf_code(head: bytes, code: str) -> None:
    with pytest.raises(RejectedFile) as caught:
        screen_prolog(head, "FI.DMFA.006400.20261128.00001.T.1.1")
    assert caught.value.codes == (code,)
    assert caught.value.name == "FI.DMFA.006400.20261128.00001.T.1.1"


@pytest.mark.parametrize(
    "head",
    [DOCTYPE_XXE.encode(), LAUGHS.encode(), utf16(DOCTYPE_XXE), utf16(DOCTYPE_XXE, "utf-16-le"),
     b"\xfe\xff" + utf16(LAUGHS, "utf-16-be"), b"\xef\xbb\xbf" + DOCTYPE_XXE.encode()],
    ids=["utf8", "entities-utf8", "utf16-le-bom", "utf16-le-no-bom", "entities-utf16-be-bom", "utf8-bom"],
)
def test_screen_prolog_names_the_doctype_as_the_reason(head: bytes) -> None:
    with pytest.raises(RejectedFile, match="DOCTYPE|ENTITY"):
        screen_prolog(head, "x")


# ---------------------------------------------------------------- chained parts


def _write_parts(folder: Path, chunks: list[bytes]) -> list[Path]:
    paths = []
    for number, chunk in enumerate(chunks, start=1):
        path = folder / f"FI.DMFA.006400.20261128.00001.T.{len(chunks)}.{number}"
        path.write_bytes(chunk)
        paths.append(path)
    return paths


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@st.composite
def split_documents(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """Some bytes and 1–5 consecutive slices of them (slices may be empty)."""
    data = draw(st.one_of(st.binary(max_size=3000), st.just(VALID)))
    cuts = draw(st.lists(st.integers(min_value=0, max_value=len(data)), max_size=4))
    return data, _split(data, cuts)


@settings(max_examples=60, deadline=None)
@given(document=split_documents(), buffer_size=st.integers(min_value=1, max_value=8192))
def test_chained_reader_gives_the_concatenated_bytes_for_any_split(document: tuple[bytes, list[bytes]],
                                                                  buffer_size: int) -> None:
    data, chunks = document
    with tempfile.TemporaryDirectory() as folder:
        paths = _write_parts(Path(folder), chunks)
        with ChainedReader(paths) as raw:
            assert raw.readall() == data
        with io.BufferedReader(ChainedReader(paths), buffer_size=buffer_size) as buffered:
            assert buffered.read() == data


@pytest.mark.parametrize(
    "chunks",
    [[b""], [b"", b""], [b"", b"", b"", b"", b""], [b"<a/>"], [b"", b"<a/>"], [b"<a/>", b""], [b"<a", b"", b"/>"],
     [b"<", b"a", b"/", b">", b""]],
    ids=["one-empty", "two-empty", "five-empty", "one-part", "empty-first", "empty-last", "empty-middle",
         "five-parts"],
)
def test_chained_reader_skips_empty_parts(tmp_path: Path, chunks: list[bytes]) -> None:
    with ChainedReader(_write_parts(tmp_path, chunks)) as reader:
        assert reader.read() == b"".join(chunks)
        assert reader.read() == b""


def test_chained_reader_over_no_parts_is_empty() -> None:
    with ChainedReader([]) as reader:
        assert reader.read() == b""


def test_chained_reader_keeps_part_order(tmp_path: Path) -> None:
    paths = _write_parts(tmp_path, [b"one,", b"two,", b"three"])
    with ChainedReader(iter(paths)) as reader:
        assert reader.read() == b"one,two,three"


def test_dmfa_split_in_three_parts_parses_as_one_document(tmp_path: Path) -> None:
    third = len(VALID) // 3
    paths = _write_parts(tmp_path, [VALID[:third], VALID[third:2 * third], VALID[2 * third:]])
    with ChainedReader(paths) as reader:
        tree = etree.parse(reader, etree.XMLParser(resolve_entities=False, no_network=True))
    assert etree.tostring(tree) == etree.tostring(etree.fromstring(VALID).getroottree())
    assert load_schema(DMFA_XSD).validate(tree)


def test_chained_reader_close_releases_the_open_part(tmp_path: Path) -> None:
    paths = _write_parts(tmp_path, [b"abc", b"def"])
    reader = ChainedReader(paths)
    assert reader.read(2) == b"ab"
    reader.close()
    assert reader.closed
    gc.collect()  # an unclosed part would surface here as a ResourceWarning (an error under filterwarnings)


# ---------------------------------------------------------------- diagnosis against xsd/


def _diagnose(document: bytes, *, stream: bool = False) -> list[XmlProblem]:
    return diagnose(lambda: io.BytesIO(document), load_schema(DMFA_XSD), known_elements(XSD), size=len(document),
                    max_tree_bytes=0 if stream else 10 * len(document) + 1000)


def _mutate(old: bytes, new: bytes) -> bytes:
    assert VALID.count(old) == 1, old
    return VALID.replace(old, new)


def _line_of(document: bytes, marker: bytes) -> int:
    return document[: document.index(marker)].count(b"\n") + 1


TRUSTEE_COMPANY = b"<Trusteeship>0</Trusteeship>\n\t\t\t<CompanyID>0569596767</CompanyID>"

SCHEMA_CASES: list[tuple[str, Callable[[], bytes], list[tuple[str, str | None]]]] = [
    ("unknown-element", lambda: _mutate(b"<System5>0</System5>", b"<System5>0</System5><Bogus>1</Bogus>"),
     [("092", "Bogus")]),
    ("missing-mandatory-element", lambda: _mutate(b"<Trusteeship>0</Trusteeship>", b""), [("090", "CompanyID")]),
    ("missing-mandatory-last-child",
     lambda: _mutate(b"<ContributionAmount>00000001236</ContributionAmount>", b""), [("090", "WorkerContribution")]),
    ("wrong-order", lambda: _mutate(TRUSTEE_COMPANY, b"<CompanyID>0569596767</CompanyID><Trusteeship>0</Trusteeship>"),
     [("091", "CompanyID")]),
    ("duplicated-singleton",
     lambda: _mutate(b"<Trusteeship>0</Trusteeship>", b"<Trusteeship>0</Trusteeship><Trusteeship>0</Trusteeship>"),
     [("090", "Trusteeship")]),
    ("too-long-string",
     lambda: _mutate(b"<NaturalPersonUserReference>P0000001<", b"<NaturalPersonUserReference>" + b"P" * 21 + b"<"),
     [("093", "NaturalPersonUserReference")]),
    ("too-many-digits", lambda: _mutate(b"<MeanWorkingHours>3800<", b"<MeanWorkingHours>12345<"),
     [("008", "MeanWorkingHours"), ("093", "MeanWorkingHours")]),
    ("not-numeric-named-type", lambda: _mutate(b"<RemunAmount>00001144651<", b"<RemunAmount>12a<"),
     [("002", "RemunAmount")]),
    ("not-numeric-local-type", lambda: _mutate(b"<MeanWorkingHours>3800<", b"<MeanWorkingHours>abc<"),
     [("002", "MeanWorkingHours")]),
    ("pattern", lambda: _mutate(b"<INSS>94092722730<", b"<INSS>9409272273<"), [("003", "INSS")]),
    ("invalid-date", lambda: _mutate(b"<OccupationStartingDate>2022-11-14<", b"<OccupationStartingDate>2022-13-14<"),
     [("003", "OccupationStartingDate")]),
    ("above-maximum", lambda: _mutate(b"<ContractType>0<", b"<ContractType>7<"), [("008", "ContractType")]),
    ("not-in-enumeration", lambda: _mutate(b"<TypeForm>SU<", b"<TypeForm>XX<"), [("008", "TypeForm")]),
    ("two-bad-values",
     lambda: _mutate(b"<INSS>94092722730<", b"<INSS>9409272273<").replace(b"<ContractType>0<", b"<ContractType>7<"),
     [("003", "INSS"), ("008", "ContractType")]),
    ("unknown-attribute", lambda: _mutate(b"<Trusteeship>0<", b'<Trusteeship foo="1">0<'), [("092", "Trusteeship")]),
    ("unknown-root", lambda: VALID.replace(b"DmfAOriginal>", b"DmfAOther>").replace(b"<DmfAOriginal ", b"<DmfAOther "),
     [("089", "DmfAOther")]),
]


def test_valid_generated_dmfa_has_no_problems() -> None:
    assert _diagnose(VALID) == []
    assert _diagnose(VALID, stream=True) == []


@pytest.mark.parametrize(("make", "expected"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES])
def test_diagnose_maps_schema_errors_to_annex_30_codes(make: Callable[[], bytes],
                                                      expected: list[tuple[str, str | None]]) -> None:
    problems = _diagnose(make())
    assert [(p.code, p.element) for p in problems] == expected
    assert all(p.line is not None and p.line > 1 for p in problems)


def test_diagnose_reports_the_line_of_the_faulty_element() -> None:
    document = _mutate(b"<INSS>94092722730<", b"<INSS>9409272273<")
    (problem,) = _diagnose(document)
    assert problem.line == _line_of(document, b"<INSS>")


STREAMABLE = {"unknown-element", "missing-mandatory-last-child", "wrong-order", "too-long-string", "too-many-digits",
              "not-numeric-named-type", "pattern", "invalid-date", "above-maximum", "not-in-enumeration",
              "two-bad-values", "unknown-root"}


@pytest.mark.parametrize(("make", "expected"), [c[1:] for c in SCHEMA_CASES if c[0] in STREAMABLE],
                         ids=[c[0] for c in SCHEMA_CASES if c[0] in STREAMABLE])
def test_diagnose_above_tree_limit_streams_and_gives_the_same_codes(make: Callable[[], bytes],
                                                                   expected: list[tuple[str, str | None]]) -> None:
    assert [p.code for p in _diagnose(make(), stream=True)] == [code for code, _ in expected]


@pytest.mark.parametrize("stream", [False, True], ids=["tree", "stream"])
def test_diagnose_reports_mismatched_tag_as_102_with_line_and_column(stream: bool) -> None:
    document = _mutate(b"<Trusteeship>0</Trusteeship>", b"<Trusteeship>0</Trustee>")
    (problem,) = _diagnose(document, stream=stream)
    assert problem.code == "102"
    assert problem.line == _line_of(document, b"<Trusteeship>")
    assert problem.column is not None and problem.column > 1
    assert "Trustee" in problem.message


@pytest.mark.parametrize(
    "document",
    [VALID[: len(VALID) // 2], VALID.replace(b"<Quarter>", b"<Quarter", 1), VALID + b"<Second/>",
     VALID.replace(b"GEN20253", b"GEN&20253", 1)],
    ids=["truncated", "broken-tag", "two-roots", "bare-ampersand"],
)
def test_diagnose_reports_not_well_formed_document_as_102_with_a_line(document: bytes) -> None:
    problems = _diagnose(document)
    assert [p.code for p in problems] == ["102"]
    assert problems[0].line is not None and problems[0].line >= 1


def test_diagnose_checks_well_formedness_before_the_schema() -> None:
    document = _mutate(b"<INSS>94092722730<", b"<INSS>9409272273<").replace(b"</Trusteeship>", b"</Trustee>")
    assert [p.code for p in _diagnose(document)] == ["102"]


def test_diagnose_reports_an_unexpanded_entity_as_a_problem_instead_of_raising() -> None:
    # screen_prolog refuses such documents first; diagnose must still answer, not crash, when called on one.
    document = VALID.replace(b"<DmfAOriginal ", b'<!DOCTYPE DmfAOriginal [<!ENTITY x "20253">]>\n<DmfAOriginal ', 1)
    document = document.replace(b"<Quarter>20253<", b"<Quarter>&x;<")
    problems = _diagnose(document)
    assert problems
    assert all(isinstance(p, XmlProblem) for p in problems)


@pytest.mark.parametrize(
    ("type_name", "message", "code"),
    [
        ("SCHEMAV_CVC_ELT_1", "Element 'X': No matching global declaration available for the validation root.",
         "089"),
        ("SCHEMAV_CVC_MAXLENGTH_VALID", "Element 'A': [facet 'maxLength'] too long", "093"),
        ("SCHEMAV_CVC_FRACTIONDIGITS_VALID", "Element 'A': [facet 'fractionDigits'] too many", "093"),
        ("SCHEMAV_CVC_ENUMERATION_VALID", "Element 'A': [facet 'enumeration'] not in set", "008"),
        ("SCHEMAV_CVC_MINEXCLUSIVE_VALID", "Element 'A': [facet 'minExclusive'] too small", "008"),
        ("SCHEMAV_CVC_PATTERN_VALID", "Element 'A': [facet 'pattern'] no match", "003"),
        ("SCHEMAV_CVC_DATATYPE_VALID_1_2_1", "Element 'A': 'x' is not a valid value of the atomic type 'xs:decimal'.",
         "002"),
        ("SCHEMAV_ELEMENT_CONTENT", "Element 'Form': Missing child element(s). Expected is ( Quarter ).", "090"),
        ("SCHEMAV_ELEMENT_CONTENT", "Element 'Nonsense': This element is not expected.", "092"),
        ("SCHEMAV_ELEMENT_CONTENT", "Element 'Quarter': This element is not expected.", "091"),
        ("SCHEMAV_CVC_COMPLEX_TYPE_3_2_2", "Element 'Form', attribute 'x': The attribute 'x' is not allowed.", "092"),
    ],
    ids=["unknown-root", "max-length", "fraction-digits", "enumeration", "min-exclusive", "pattern",
         "not-decimal", "missing-child", "unknown-element", "misplaced-known-element", "unknown-attribute"],
)
def test_schema_problem_translates_libxml2_error_types(type_name: str, message: str, code: str) -> None:
    entry = SimpleNamespace(type_name=type_name, message=message, line=12, column=0)
    problem = schema_problem(entry, {"Form": "", "Quarter": "integer", "A": "string"})
    assert problem.code == code
    assert (problem.line, problem.column) == (12, None)
    assert problem.element == message.split("'")[1]
