"""DmfA business rules for the employer header, each natural person and the whole declaration."""

# Codes and classes are read from the official glossary (shared/official/glossary/zones/DmfAOriginal.xml,
# functional-blocks/DmfAOriginal.xml, version 2023/3) and annex 30 (ErrorCodes2022-1_30.xml):
#   00013-008 B  Quarter "not in the allowed domain": [20031; last *ended* quarter (current YYYYQ − 1)],
#                so a quarter not ended yet is outside the domain too (00013 lists no 021 "period" code).
#   00011-146 B  NOSSRegistrationNbr "not allowed": 0 is allowed only when CompanyID is not 0.
#   00011-004 W  NOSS check digits; the glossary says B, we report W because the mod-97 rule is our own
#                derivation (DECLARATIONS.md §1.3) until it is confirmed.
#   00014-004 B  CompanyID invalid check digit (0 = unknown is allowed).
#   00024-004 B  INSS invalid check digit; 00024-146 B "not allowed" for 0 ("value 0 is no longer allowed").
#   90017-006 B  NaturalPerson "too many identical occurrences": a person occurs once per declaration.
#   00015-007 B  NetOwedAmount "calculated total differs from declared total" (CALCULATIONS.md §1.6).

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from cbss_batch.ids import is_valid_insz, is_valid_kbo, is_valid_noss, mask_insz
from cbss_batch.records import (
    BLOCKING,
    DeclarationTotals,
    DmfaHeader,
    Finding,
    NaturalPerson,
    Quarter,
    WorkerRecord,
)

WARNING = "W"
FIRST_QUARTER = Quarter(2003, 1)  # glossary 00013: "tussen het eerste kwartaal 2003 (20031) en ..."

Path = tuple[tuple[str, str], ...]
HeaderRule = Callable[[DmfaHeader, date], list[Finding]]
PersonRule = Callable[[DmfaHeader, NaturalPerson], list[Finding]]
TotalsRule = Callable[[DmfaHeader, DeclarationTotals], list[Finding]]


def finding_path(
    header: DmfaHeader, person: NaturalPerson | None = None, worker: WorkerRecord | None = None
) -> Path:
    """The NOTI ``Path`` keys of a branch: NOSS number, then INSS, then EmployerClass and WorkerCode."""
    path = [("NOSSRegistrationNbr", header.noss_number)]
    if person is not None:
        path.append(("INSS", person.insz))
    if worker is not None:
        path += [("EmployerClass", worker.employer_class), ("WorkerCode", worker.worker_code)]
    return tuple(path)


def last_ended_quarter(today: date) -> Quarter:
    """The latest quarter that has fully ended before ``today``."""
    return Quarter.containing(today).previous()


def _is_zero(text: str) -> bool:
    return text.isascii() and text.isdigit() and int(text) == 0


def _euros(cents: int) -> str:
    """Cents as ``"4 305.42"``: space-grouped euros, two decimals."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{rest:02d}".replace(",", " ")


def _header_finding(
    header: DmfaHeader, code: str, anomaly_class: str, tag: str, value: str, message: str
) -> Finding:
    # Header zones are children of EmployerDeclaration: its line is the closest one the records keep.
    return Finding(
        code=code,
        anomaly_class=anomaly_class,
        message=message,
        tag=tag,
        value=value,
        line=header.employer_line,
        path=finding_path(header),
    )


def check_quarter(header: DmfaHeader, today: date) -> list[Finding]:
    """00013-008 (B, glossary 00013): the quarter is before 20031 or has not ended on ``today``."""
    quarter, latest = header.quarter, last_ended_quarter(today)
    if quarter < FIRST_QUARTER:
        message = f"quarter {quarter} is before {FIRST_QUARTER}, the first quarter a DmfA may declare"
    elif quarter > latest:
        state = "starts after" if quarter.start > today else "has not ended on"
        message = (
            f"quarter {quarter} {state} {today:%Y-%m-%d}: declare it from {quarter.next().start:%Y-%m-%d};"
            f" the latest quarter accepted today is {latest}"
        )
    else:
        return []
    return [_header_finding(header, "00013-008", BLOCKING, "Quarter", str(quarter), message)]


def check_noss_number(header: DmfaHeader, today: date) -> list[Finding]:
    """00011-146 (B) when NOSS number and CompanyID are both 0; 00011-004 as W on a failed derived check."""
    noss = header.noss_number
    if _is_zero(noss):
        if not _is_zero(header.company_id):
            return []
        message = (
            "NOSSRegistrationNbr and CompanyID are both 0: give the NOSS number,"
            " or the enterprise number in CompanyID to leave NOSSRegistrationNbr at 0"
        )
        return [_header_finding(header, "00011-146", BLOCKING, "NOSSRegistrationNbr", noss, message)]
    if is_valid_noss(noss):
        return []
    message = (
        f"NOSSRegistrationNbr {noss} is not a definitive NOSS number (expected a number in"
        " [100006; 199999934] with N mod 97 = 96); warning only: this check rule is derived, not published"
    )
    return [_header_finding(header, "00011-004", WARNING, "NOSSRegistrationNbr", noss, message)]


def check_company_id(header: DmfaHeader, today: date) -> list[Finding]:
    """00014-004 (B, glossary 00014): CompanyID is neither 0 (unknown) nor a valid KBO/BCE number."""
    company_id = header.company_id
    if _is_zero(company_id) or is_valid_kbo(company_id):
        return []
    message = (
        f"CompanyID {company_id} is not a valid enterprise number (10 digits, first 0 or 1, last two"
        " = 97 − first eight mod 97): give the KBO/BCE number, or 0 when it is unknown"
    )
    return [_header_finding(header, "00014-004", BLOCKING, "CompanyID", company_id, message)]


def insz_key(insz: str, number: int | None = None) -> int | str:
    """The key a person is filed under to find repeats: the INSZ as a number (``number`` when the
    caller has it), or as text when it is not all ASCII digits or starts with 0 (a number would lose it)."""
    if insz[:1] == "0" or not (insz.isascii() and insz.isdigit()):
        return insz
    return int(insz) if number is None else number


def check_insz(header: DmfaHeader, person: NaturalPerson) -> list[Finding]:
    """00024-004 (B, glossary 00024): INSS check digits wrong; 00024-146 (B) when the INSS is 0."""
    if is_valid_insz(person.insz):
        return []
    masked = mask_insz(person.insz)
    if _is_zero(person.insz):
        code, message = "00024-146", "INSS 0 is no longer allowed: give the person's INSZ or BIS number"
    else:
        code = "00024-004"
        message = f"INSS {masked} has invalid check digits (97 − first nine mod 97, for either century)"
    return [
        Finding(
            code=code,
            anomaly_class=BLOCKING,
            message=message,
            tag="INSS",
            value=masked,
            line=person.line,
            path=finding_path(header, person),
        )
    ]


def check_net_owed(header: DmfaHeader, totals: DeclarationTotals) -> list[Finding]:
    """00015-007 (B, glossary 00015): declared NetOwedAmount differs from CALCULATIONS.md §1.6."""
    declared, computed = header.net_owed_amount, totals.net_owed
    if declared == computed:
        return []
    message = (
        f"declared {_euros(declared)} EUR, computed {_euros(computed)} EUR: NetOwedAmount must be the"
        " worker, student and unrelated contributions minus the deductions, and at least 0"
    )
    return [_header_finding(header, "00015-007", BLOCKING, "NetOwedAmount", str(declared), message)]


HEADER_RULES: tuple[HeaderRule, ...] = (check_quarter, check_noss_number, check_company_id)
PERSON_RULES: tuple[PersonRule, ...] = (check_insz,)
DECLARATION_RULES: tuple[TotalsRule, ...] = (check_net_owed,)


def check_header(header: DmfaHeader, today: date) -> list[Finding]:
    """Findings on the employer zones of one declaration, in zone order."""
    return [finding for rule in HEADER_RULES for finding in rule(header, today)]


def check_person(header: DmfaHeader, person: NaturalPerson) -> list[Finding]:
    """Findings on one natural person's own zones."""
    return [finding for rule in PERSON_RULES for finding in rule(header, person)]


_SEQUENCE_SPAN = 100_000_000  # NaturalPersonSequenceNbr has at most 7 digits
FirstOccurrence = Callable[[str], tuple[int, int] | None]  # INSZ → (line, NaturalPersonSequenceNbr)


class DeclarationChecks:
    """Declaration-wide rules for one streamed DmfA Form: feed every person, then finish with the totals."""

    def __init__(self, header: DmfaHeader, first_occurrence: FirstOccurrence | None = None) -> None:
        """``first_occurrence(insz)`` finds where a repeated INSZ was first declared (the staged rows);
        given it, only the INSZ are kept — about 60 bytes a person, what a declaration of a million
        workers holds in memory. Without it, line and sequence are kept too (about 110 bytes a person)."""
        self.header = header
        self._first_occurrence = first_occurrence
        self._seen: set[int | str] = set()
        # INSZ (as a number when it is one) → line × 10^8 + NaturalPersonSequenceNbr of its first occurrence.
        self._first_seen: dict[int | str, int] = {}

    def add_person(self, person: NaturalPerson) -> list[Finding]:
        """90017-006 (B, glossary block 90017) on each repeat of an INSZ already in this declaration."""
        return self.add_person_as(person, insz_key(person.insz))

    def has_seen(self, key: int | str) -> bool:
        """True when a person filed under ``key`` (``add_person_as``) was added before."""
        return key in self._seen or key in self._first_seen

    def add_person_as(self, person: NaturalPerson, key: int | str) -> list[Finding]:
        """``add_person`` for a caller that already has the key: the INSZ as a number, or as text when
        it is not all ASCII digits or starts with 0 (``insz_key``)."""
        if self._first_occurrence is not None:
            if key not in self._seen:
                self._seen.add(key)
                return []
            first_line, first_sequence = self._first_occurrence(person.insz) or (0, 0)
            return [self._repeat(person, first_line, first_sequence)]
        first = self._first_seen.get(key)
        if first is None:
            self._first_seen[key] = person.line * _SEQUENCE_SPAN + (person.sequence or 0)
            return []
        first_line, first_sequence = divmod(first, _SEQUENCE_SPAN)
        return [self._repeat(person, first_line, first_sequence)]

    def _repeat(self, person: NaturalPerson, first_line: int, first_sequence: int) -> Finding:
        masked = mask_insz(person.insz)
        message = (
            f"INSS {masked} was already declared at line {first_line} (NaturalPerson {first_sequence}):"
            " a person occurs once per declaration; merge the worker lines into that NaturalPerson"
        )
        return Finding(
            code="90017-006",
            anomaly_class=BLOCKING,
            message=message,
            tag="NaturalPerson",
            value=masked,
            line=person.line,
            path=finding_path(self.header, person),
        )

    def finish(self, totals: DeclarationTotals) -> list[Finding]:
        """Findings on the whole declaration once its last person has been added."""
        return [finding for rule in DECLARATION_RULES for finding in rule(self.header, totals)]


def check_employment_relation(
    header: DmfaHeader, person: NaturalPerson, covered: frozenset[str] | None, anomaly_class: str
) -> list[Finding]:
    """90017-152 (glossary: "no valid employment relation found for the given period"): a worker of the
    declaration has no live Dimona period with this employer overlapping the quarter.

    ``covered`` is the set of INSZ with such a period; None when the personnel file knows nothing of
    this employer (an employer that never used our Dimona cannot be judged). The class is configurable
    (``crosschecks.missing_employment_relation``, W by default): the relation may have been declared
    through another channel.
    """
    if covered is None or person.insz in covered:
        return []
    return [
        Finding(
            code="90017-152",
            anomaly_class=anomaly_class,
            message=f"no Dimona period of this employer covers quarter {header.quarter} for INSS "
            f"{mask_insz(person.insz)}: declare the employment (Dimona IN) or check the INSZ",
            tag="NaturalPerson",
            value=mask_insz(person.insz),
            line=person.line,
            path=finding_path(header, person),
        )
    ]


@dataclass(frozen=True, slots=True)
class KnownCodes:
    """Codes valid on the first day of the declared quarter (annexes 2, 7 and 8), without leading zeros."""

    worker: frozenset[str]
    remuneration: frozenset[str]
    service: frozenset[str]


def _bare(code: str) -> str:
    return code.lstrip("0") or "0"


def check_codes(header: DmfaHeader, person: NaturalPerson, known: KnownCodes) -> list[Finding]:
    """00037-008, 00067-008, 00062-008 (B, glossary "not in the allowed domain"): a worker code (annex 2),
    remuneration code (annex 7) or working-time code (annex 8) not valid in the declared quarter."""
    findings = []
    for record in person.worker_records:
        path = finding_path(header, person, record)
        if _bare(record.worker_code) not in known.worker:
            findings.append(Finding(code="00037-008", tag="WorkerCode", value=record.worker_code, line=record.line,
                                    path=path, message=f"worker code {record.worker_code} is not valid in quarter "
                                    f"{header.quarter} (annex 2)"))
        for occupation in record.occupations:
            for remuneration in occupation.remunerations:
                if _bare(remuneration.code) not in known.remuneration:
                    findings.append(Finding(code="00067-008", tag="RemunCode", value=remuneration.code,
                                            line=remuneration.line, path=path,
                                            message=f"remuneration code {remuneration.code} is not valid in quarter "
                                            f"{header.quarter} (annex 7)"))
            for service in occupation.services:
                if _bare(service.code) not in known.service:
                    findings.append(Finding(code="00062-008", tag="ServiceCode", value=service.code,
                                            line=service.line, path=path,
                                            message=f"working-time code {service.code} is not valid in quarter "
                                            f"{header.quarter} (annex 8)"))
    return findings
