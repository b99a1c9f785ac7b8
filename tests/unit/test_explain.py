"""Plain-words explanations of anomaly codes: own entries, the annex-30 fallback, the element in the text."""

from __future__ import annotations

import csv
import string
from pathlib import Path

import pytest

from cbss_batch.explain import EXPLANATIONS, FIXES, Explanation, annex30_description, explain
from cbss_batch.records import Finding

ANNEX_30 = Path(__file__).resolve().parents[2] / "config" / "codelists" / "error_codes.csv"


def _annex_30_labels() -> dict[str, tuple[str, str]]:
    """Code → (Dutch, French) label, read straight from the CSV (newest row of a code wins)."""
    with ANNEX_30.open(encoding="utf-8", newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["valid_from"])
    return {row["code"]: (row["label_nl"], row["label_fr"]) for row in rows}


def test_a_code_with_its_own_entry_gets_its_rule_and_fix() -> None:
    explanation = explain("00024-004", Finding(code="00024-004", tag="INSS", value="850730-***-**"))
    assert explanation == Explanation(*EXPLANATIONS["00024-004"])
    assert "97 minus the first nine modulo 97" in explanation.rule
    assert "national register" in explanation.fix


@pytest.mark.parametrize(
    "code",
    ["ACRF-102", "ACRF-088", "ACRF-090", "ACRF-091", "ACRF-092", "ACRF-093", "90017-006", "00015-007"],
    ids=["well-formed", "schema", "cardinality", "order", "unknown-element", "length", "duplicate-insz", "net-owed"],
)
def test_the_official_validators_four_checks_have_their_own_explanation(code: str) -> None:
    assert code in EXPLANATIONS


def test_the_element_of_the_finding_is_named_in_the_fix() -> None:
    explanation = explain("ACRF-091", Finding(code="ACRF-091", tag="ContractType"))
    assert explanation.fix.startswith("Move ContractType to its place")


def test_without_an_element_the_text_still_reads_as_a_sentence() -> None:
    assert explain("ACRF-002", Finding(code="ACRF-002")).rule == (
        "The element is a numeric zone: the schema allows digits only."
    )
    assert explain("ACRF-002").fix.startswith("Write the element with digits only")


def test_a_code_without_an_entry_falls_back_to_the_annex_30_description() -> None:
    nl, fr = _annex_30_labels()["001"]
    explanation = explain("01135-001", Finding(code="01135-001", tag="StartingDate"))
    assert "01135-001" not in EXPLANATIONS
    assert explanation.rule == f"Zone 01135 (StartingDate): annex-30 error 001, {nl} / {fr}"
    assert explanation.fix == FIXES["001"].format(element="StartingDate")


def test_a_file_level_code_without_an_entry_falls_back_to_the_annex_30_description() -> None:
    nl, fr = _annex_30_labels()["120"]
    explanation = explain("ACRF-120", Finding(code="ACRF-120"))
    assert explanation.rule == f"The file: annex-30 error 120, {nl} / {fr}"
    assert explanation.fix == "Correct what the message names, then validate again."


def test_a_code_annex_30_does_not_know_is_still_explained() -> None:
    explanation = explain("12345-999")
    assert explanation.rule == "Zone 12345: error 999, not described in annex 30"
    assert explanation.fix


def test_file_name_codes_explain_the_protocol_name() -> None:
    explanation = explain("ACRF-110", Finding(code="ACRF-110", anomaly_class="W"))
    assert "FI.<type>.<sender>.<YYYYMMDD>" in explanation.rule


def test_every_annex_30_code_has_a_description() -> None:
    labels = _annex_30_labels()
    for code, (nl, fr) in labels.items():
        description = annex30_description(code)
        assert description.startswith(f"annex-30 error {code}")
        assert nl in description and fr in description


@pytest.mark.parametrize("code", sorted(EXPLANATIONS))
def test_every_entry_is_two_full_sentences_with_only_known_placeholders(code: str) -> None:
    rule, fix = EXPLANATIONS[code]
    for text in (rule, fix):
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        assert names <= {"element"}, f"{code}: unknown placeholder in {text!r}"
        filled = text.format(element="Quarter")
        assert filled[0].isupper() and filled.rstrip().endswith("."), f"{code}: {filled!r}"
