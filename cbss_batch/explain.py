"""Plain-words explanations of anomaly codes: the rule behind a code and how to fix what it found.

Codes are annex-30 style: ``<zone or block>-<generic code>`` (``00024-004``: INSS, invalid check
digit) or ``ACRF-<generic code>`` for file-level problems. A code with an entry in ``EXPLANATIONS``
gets that text; any other code falls back to the annex-30 description of its generic part (our code
list ``config/codelists/error_codes.csv``, Dutch and French as the annex gives them) with a fix hint
per generic code (``FIXES``). ``{element}`` in a text becomes the element the finding names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from cbss_batch.codelists import load_codelist
from cbss_batch.errors import ConfigError
from cbss_batch.records import Finding


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the rule behind an anomaly says, and what the sender should do about it."""

    rule: str
    fix: str


CLASS_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "B": "blocking",
        "P": "percentage",
        "NP": "non-percentage",
        "D": "reduction right",
        "W": "warning",
        "I": "investigation",
    }
)  # anomaly classes (glossary zone 00497); only B refuses a declaration

_NAME_RULE = (
    "A file sent to the transfer point is named FI.<type>.<sender>.<YYYYMMDD>.<sequence>.<R|T|S>.<parts>.<part>; "
    "this matters only when the file is sent under this name.",
    "Give the file a protocol name when you send it; the message names the part of the name that is wrong.",
)
_NAME_CODES = (
    "107",
    "109",
    "110",
    "111",
    "112",
    "113",
    "114",
    "115",
    "116",
    "117",
    "123",
    "124",
    "126",
    "127",
    "128",
    "129",
    "131",
    "132",
)

# (rule, fix) per full code. Sources: the rule modules that raise each code (their docstrings cite
# the glossary and annex 30), DECLARATIONS.md §1–2 and CALCULATIONS.md §1.6.
EXPLANATIONS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        # --- file level (ACRF): well-formedness, schema, file name and content ---
        "ACRF-002": (
            "{element} is a numeric zone: the schema allows digits only.",
            "Write {element} with digits only: no spaces, dots, commas or signs; amounts are in cents.",
        ),
        "ACRF-003": (
            "The value of {element} does not have the form the schema requires (pattern, date or type).",
            "Write {element} in the required form: dates as YYYY-MM-DD, codes with their leading zeros; "
            "the message names the expected type.",
        ),
        "ACRF-008": (
            "The value of {element} is outside the values the schema allows (a list of codes or a range).",
            "Use one of the values the message lists for {element}, or a value within its range.",
        ),
        "ACRF-088": (
            "The document does not follow the schema of its message.",
            "Correct the structure at the place the message names, then validate again against the schema.",
        ),
        "ACRF-089": (
            "The root element must be a message this version handles: DmfAOriginal, Dimona or a DRS scenario.",
            "Send the declaration with the right root element and schema version; check that the file is a "
            "declaration and not another document.",
        ),
        "ACRF-090": (
            "An element occurs more or fewer times than the schema allows: a required element is missing, "
            "or an element is repeated.",
            "At {element}, add the missing element or remove the repeated one; the message lists what "
            "the schema expected at this point.",
        ),
        "ACRF-091": (
            "Elements must appear in the order the schema defines.",
            "Move {element} to its place: the message lists the element the schema expected here "
            "(write the zones of a block in schema order).",
        ),
        "ACRF-092": (
            "{element} is not an element (or attribute) of this message's schema at this place.",
            "Remove {element} or correct its name (names are case-sensitive); check that the file follows "
            "the schema version of the declared quarter.",
        ),
        "ACRF-093": (
            "The value of {element} is longer or shorter than the zone allows.",
            "Write {element} with the length the zone requires: numbers padded with leading zeros, text "
            "cut to the maximum length.",
        ),
        "ACRF-102": (
            "The file must be well-formed XML (and carry no DTD or entity); until it is, nothing else can be checked.",
            "Correct the XML at the line and column given: an unclosed or mismatched tag, a stray '<' or "
            "'&', a truncated file. Check that the file was written and sent completely.",
        ),
        "ACRF-134": (
            "The file holds no data.",
            "Send the file again with its content; check that the export did not fail.",
        ),
        "ACRF-138": (
            "The encoding named in the XML declaration is not supported.",
            'Save the file as UTF-8 and declare it: <?xml version="1.0" encoding="UTF-8"?>.',
        ),
        "ACRF-157": (
            "A declaration file must hold at least one declaration (Form).",
            "Add the declarations, or do not send an empty file.",
        ),
        "ACRF-158": (
            "The file type in the file name must match the document: DMFA for DmfAOriginal, DIMN for "
            "Dimona, the scenario's type for a DRS.",
            "Rename the file with the type that matches its content, or send the document the name announces.",
        ),
        **{f"ACRF-{code}": _NAME_RULE for code in _NAME_CODES},
        # --- DmfA employer zones ---
        "00011-004": (
            "NOSSRegistrationNbr is the employer's definitive NOSS number: its value modulo 97 is 96 (our "
            "derived check, reported as a warning until confirmed).",
            "Copy the NOSS number from the employer's registration at the NSSO; write 0 and give CompanyID "
            "when the employer has no NOSS number yet.",
        ),
        "00011-146": (
            "The employer must be identified: NOSSRegistrationNbr and CompanyID may not both be 0.",
            "Give the NOSS number in NOSSRegistrationNbr, or the enterprise number (KBO/BCE) in CompanyID.",
        ),
        "00013-008": (
            "Quarter is written YYYYQ and must lie between 20031 and the last quarter that has ended: a "
            "quarter is declared once it is over.",
            "Check the Quarter zone (year and quarter number 1-4); send a quarter that is not over yet "
            "only after its last day.",
        ),
        "00014-004": (
            "CompanyID is the 10-digit enterprise number (KBO/BCE): it starts with 0 or 1 and its last two "
            "digits are 97 minus the first eight modulo 97; 0 means unknown.",
            "Copy the enterprise number from the KBO/BCE register without dots or spaces, or write 0 when "
            "it is unknown.",
        ),
        "00015-007": (
            "NetOwedAmount, in cents, must equal all worker contributions plus student contributions plus "
            "contributions not linked to a person, minus all worker and occupation deductions, and is at "
            "least 0.",
            "Recompute NetOwedAmount from the amounts in this declaration, or correct the detail amount "
            "that is wrong; the message gives the declared and the computed total.",
        ),
        # --- DmfA persons and lines ---
        "00024-004": (
            "INSS is the person's 11-digit INSZ/NISS or BIS number: its last two digits are 97 minus the "
            "first nine modulo 97 (with a 2 put in front of the first nine for people born from 2000 on).",
            "Copy the INSZ from the identity document or the national register; look for swapped or missing digits.",
        ),
        "00024-146": (
            "INSS 0 is no longer accepted: every person is identified by an INSZ or BIS number.",
            "Give the person's INSZ, or a BIS number when the person has no INSZ.",
        ),
        "90017-006": (
            "A person (INSS) occurs once per declaration: all of that person's worker lines belong to one "
            "NaturalPerson.",
            "Merge the worker lines of the repeated NaturalPerson into its first occurrence (the message "
            "gives its line), or correct the INSS when it belongs to someone else.",
        ),
        "90017-152": (
            "Every worker of a DmfA needs a Dimona period with this employer that covers the quarter.",
            "Declare the employment with a Dimona IN, or check the INSS and the employer number.",
        ),
        "00037-008": (
            "WorkerCode must be a worker code of annex 2 that is valid in the declared quarter.",
            "Use a worker code of annex 2 valid in this quarter (codes are three digits, e.g. 015, 495).",
        ),
        "00062-008": (
            "ServiceCode must be a working-time code of annex 8 that the DmfA accepts in the declared quarter.",
            "Use a working-time code of annex 8 valid in this quarter (e.g. 001 for days worked).",
        ),
        "00067-008": (
            "RemunCode must be a remuneration code of annex 7 that the DmfA accepts in the declared quarter.",
            "Use a remuneration code of annex 7 valid in this quarter (e.g. 001 for the ordinary wage).",
        ),
        "00077-044": (
            "The declared student contribution differs from the one computed from the student's wage.",
            "Recompute StudentContributionAmount; the computed amount is used in the meantime.",
        ),
        "00085-044": (
            "A contribution amount is its rate times its calculation basis, rounded half-up to the cent; "
            "the declared amount differs.",
            "Recompute ContributionAmount with the rate of the quarter; the computed amount is used in the meantime.",
        ),
        "00089-044": (
            "The structural reduction (deduction 3000) follows the NSSO formula; the declared amount differs.",
            "Recompute the structural reduction; the computed amount is used in the meantime.",
        ),
        "90001-001": (
            "Every contribution due for a worker line must be declared in a WorkerContribution.",
            "Add the missing WorkerContribution (the value is its worker code); it is added for you in the meantime.",
        ),
    }
)

# Fix hints per annex-30 generic code, for codes without an entry of their own.
FIXES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "001": "Fill in {element}: it is required here.",
        "002": "Write {element} with digits only.",
        "003": "Correct the value of {element}: the message says what is wrong with it.",
        "004": "Check the number in {element}: its check digits do not match (a typing error?).",
        "005": "Remove {element}: it is not allowed in this situation.",
        "006": "Remove the repetition: these identifiers may occur only once.",
        "007": "Recompute the total in {element} from the detail lines it sums.",
        "008": "Use a value of {element} within its allowed domain (its code list or range).",
        "014": "Make the end date the same as or later than the start date.",
        "021": "Make {element} fit the declared period.",
        "044": "Recompute the amount in {element}: it differs from the computed amount.",
        "146": "Remove or replace {element}: this value is not allowed here.",
    }
)
DEFAULT_FIX: Final = "Correct {element} as the message says, then validate again."
UNNAMED_FIX: Final = "Correct what the message names, then validate again."


def explain(code: str, finding: Finding | None = None) -> Explanation:
    """The rule behind ``code`` and how to fix it, worded for the element ``finding`` names."""
    element = finding.tag if finding is not None and finding.tag else None
    fill = {"element": element or "the element"}
    known = EXPLANATIONS.get(code)
    if known is not None:
        rule, fix = known
        return Explanation(_sentence(rule.format_map(fill)), fix.format_map(fill))
    zone, _, generic = code.rpartition("-")
    fix = FIXES.get(generic, DEFAULT_FIX if element else UNNAMED_FIX).format_map(fill)
    return Explanation(f"{_subject(zone, element)}: {annex30_description(generic)}", fix)


def annex30_description(generic: str) -> str:
    """The annex-30 description of a generic error code, Dutch / French, from our code list."""
    try:
        rows = load_codelist("error_codes").by_code.get(generic, ())
    except ConfigError:
        rows = ()
    if not rows:
        return f"error {generic}, not described in annex 30"
    newest = rows[-1]  # rows are sorted by valid_from
    labels = " / ".join(label for label in (newest.label_nl, newest.label_fr) if label)
    return f"annex-30 error {generic}, {labels}" if labels else f"annex-30 error {generic}"


def _subject(zone: str, element: str | None) -> str:
    if zone == "ACRF" or not zone:
        return "The file"
    return f"Zone {zone}" + (f" ({element})" if element else "")


def _sentence(text: str) -> str:
    """``{element}`` may open a sentence: its stand-in "the element" then needs a capital."""
    return "The" + text[3:] if text.startswith("the element") else text
