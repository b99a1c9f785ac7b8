"""Social-risk (DRS) business rules: one WECH/ZIMA/AOAT/TWCT/VBLV form alone, and two personnel-file cross-checks."""

# Codes and classes are read from the official glossaries (shared/official/glossary/zones/<FORM>.xml and
# functional-blocks/<FORM>.xml, version 2023/3, WECH007 2023/2) and annexes 11, 12 and 30. Every code is B
# there; a class we report differently is said. WECH010 and WECH011 have no glossary: they follow WECH005–008.
#   00296-001/008    Identification missing / not the scenario ("Deze zone moet de waarde ZIMA001 bevatten").
#   90064-001        RiskIdentification "niet aanwezig": the block is ONMISBAAR in every scenario that has it,
#                    in ZIMA001 only "VERPLICHT INDIEN deze aangifte de aangifte van een risico betreft" (not
#                    in a MiniDmfA-only ZIMA001). Zone 00430 is mandatory inside the block, so a form with no
#                    IdentificationOfRisk at all lacks the block. AOAT002/AOAT003 have no risk zone.
#   00430-008        IdentificationOfRisk "niet in het toegelaten domein": not a variant of this form, or not
#                    valid on the day the risk concerns (annex 12, RISK_VARIANTS below).
#   00011-001/008    EmployerDeclaration(Link) with neither a NOSS number nor a CompanyID: NOSSRegistrationNbr
#                    missing / 0 (0 is allowed only "als het ondernemingsnummer gekend is").
#   00011-004 W      NOSS check digits: W, not the glossary's B, because the mod-97 rule is our own derivation
#                    (DECLARATIONS.md §1.3), as in the DmfA and Dimona rules.
#   00014-004        CompanyID check digits (KBO, DECLARATIONS.md §1.2); 0 means "unknown" and is allowed.
#   00024-001/004    INSS missing ("Onmisbaar" in every DRS scenario) / check digits wrong.
#   00024-008 (-003) INSS 0, "niet toegelaten" by the domain: 008 where the form's glossary lists it (ZIMA, AOAT),
#                    003 "ongeldig" in the others (WECH, TWCT, VBLV have no 00024-008).
#   00024-008        INSS of the wrong sex: ZIMA001 zone 00024 ToegelatenDomein "risico 002, 003 of 004 ... moet
#                    het INSZ verwijzen naar een vrouw; 005 ... naar een man", ZIMA003 "naar een vrouw". The rule
#                    is part of the zone's domain, hence 008; 00024-233 "onverenigbaar met de aanvraag" also
#                    exists in ZIMA005/ZIMA006, which have no sex rule, so it is about the request answered.
#                    BIS numbers are skipped: their sequence digit does not give the sex (DECLARATIONS.md §1.1).
#   00410-008        LastWorkingDayDate (ZIMA001) after RiskStartingDate (risk 001) or not before it (002–008).
#                    For 001 the glossary exempts a relapse ("wederinstorting"), which no zone of the form shows:
#                    so W for 001 (RiskStartingDate is then the first incapacity's), B for 002–008.
#   00128-023        WorkRecoveryDate (ZIMA001) not after RiskStartingDate: "onverenigbaarheid met het risico".
#   00128-008        WorkRecoveryDate (AOAT001/AOAT003) before AccidentDate (their domain says so).
#   00075-014/-098   RefEndingDate before RefStartingDate: 014 "einddatum voorafgaand aan de begindatum" where
#                    the glossary has it (ZIMA001–003), 098 "onverenigbaarheid begindatum" where it has only that
#                    (WECH005–008, AOAT002, VBLV001: the end must be the last day of the start's month).
#   00944-014        the same for CalculBaseRefPeriod (ZIMA001), when the form has no ReferencePeriod (below).
#   00045-014        OccupationEndingDate before OccupationStartingDate (every DRS glossary with zone 00045).
#   <zone>-008       dates the domain bounds (DATE_DOMAINS): "mag niet in de toekomst liggen", "ligt vóór of is
#                    gelijk aan de datum van creatie van het formulier", "de lopende maand of ... voorafgaand".
#                    RiskStartingDate (00408) has no such bound in the ZIMA001 glossary, so none is checked.
#   00189-001/008    RemunerationTimeUnit missing while an amount is given / outside 1..6.
#   00191-001/008    RemunerationBasisAmount missing for a unit day..year / 0 where the domain is [1; 9999999999]
#                    (WECH001, ZIMA001, AOAT001; WECH002/005/009 allow any 10 digits and have no 00191-008).
#   00192-001        hourly pay (unit 1) without PieceTaskServicesCommissionRemunerationBasisAmount, the zone that
#                    carries the hourly amount ("verplicht indien de tijdseenheid van bezoldiging het uur is").
#   90017-152        "geen geldige werkrelatie gevonden voor de opgegeven periode of datum" (every DRS glossary,
#                    B there; class configurable, as for DmfA): the personnel file has no Dimona period for it.
#   00045-008        WECH001 end of contract differs from the Dimona OUT end date. Zone 00045 of WECH001 offers
#                    only 001/003/008/014; "269 onverenigbaarheid met Dimona" exists in WECH001 for DimonaNbr and
#                    AttestationStatus only, so the date is reported as outside its domain, B as the glossary says.
# Findings point at the Form (its line) and carry the declared NOSS number and INSS as NOTI path keys.

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from cbss_batch.codelists import load_codelist
from cbss_batch.ids import is_valid_insz, is_valid_kbo, is_valid_noss, mask_insz
from cbss_batch.records import BLOCKING, Finding, RiskDeclaration

WARNING = "W"
WOMAN, MAN = "woman", "man"

Path = tuple[tuple[str, str], ...]
Validity = tuple[date, date | None]  # first and last day (inclusive); None = still valid
DeclarationRule = Callable[[RiskDeclaration, date], list[Finding]]

# --- annex 12: risk variants per form -----------------------------------------------------------------
# Source: annex 12 "Identificatie van het risico" (official/codelists/RiskIdentification2020-2_12.xml): begin
# 1900/1 is "always", end 9999/1 "still valid", another end quarter ends on its last day. TWCT001 is listed there
# under "CWTEMP"; its glossary (zone 00430) adds "de waarde 006 mag enkel vanaf 01/01/2018 gebruikt worden".
# WECH004 and BZMP001 are kept for the record: every variant has ended. AOAT002 and AOAT003 have no zone 00430,
# so no risk identification is asked of them.
ALWAYS = date.min  # annex 12 begin-validity 1900/1: no first day


# Forms listed in annex 12 under another name, and validity the form's own glossary narrows.
_ANNEX_FORM_NAMES = {"CWTEMP": "TWCT001"}
_GLOSSARY_FROM = {("TWCT001", "006"): date(2018, 1, 1)}


def _load_risk_variants() -> dict[str, dict[str, Validity]]:
    """Risk variants per form from our annex-12 data (``config/codelists/risk_identifications.csv``)."""
    variants: dict[str, dict[str, Validity]] = {}
    for entry in load_codelist("risk_identifications").all_entries():
        form = entry.extra.get("form", "")
        form = _ANNEX_FORM_NAMES.get(form, form)
        start = _GLOSSARY_FROM.get((form, entry.code)) or (ALWAYS if entry.valid_from.year <= 1900
                                                           else entry.valid_from)
        variants.setdefault(form, {})[entry.code] = (start, entry.valid_to)
    return variants


RISK_VARIANTS: Mapping[str, Mapping[str, Validity]] = _load_risk_variants()

# --- zone-level facts per form (glossary) -------------------------------------------------------------
INSZ_DOMAIN_CODE_FORMS = frozenset(
    {"ZIMA001", "ZIMA002", "ZIMA003", "ZIMA005", "ZIMA006", "AOAT001", "AOAT002", "AOAT003"}
)  # forms whose zone 00024 lists 008
SEX_BY_RISK: Mapping[str, Mapping[str, str]] = {
    "ZIMA001": {"002": WOMAN, "003": WOMAN, "004": WOMAN, "005": MAN},
}
SEX_BY_FORM: Mapping[str, str] = {"ZIMA003": WOMAN}  # breast-feeding breaks
LAST_DAY_SAME_AS_RISK = frozenset({"001"})  # ZIMA001 risks whose last working day may be the risk's first day
REFERENCE_END_CODES: Mapping[str, str] = {
    **dict.fromkeys(("ZIMA001", "ZIMA002", "ZIMA003"), "00075-014"),
    **dict.fromkeys(
        ("WECH005", "WECH006", "WECH007", "WECH008", "WECH010", "WECH011", "AOAT002", "VBLV001"), "00075-098"
    ),
}
DEFAULT_REFERENCE_END_CODE = "00075-014"  # annex 30 "einddatum voorafgaand aan de begindatum"
WORK_RECOVERY_AFTER_ACCIDENT = frozenset({"AOAT001", "AOAT003"})
TIME_UNITS = range(1, 7)  # 1 hour, 2 day, 3 week, 4 month, 5 quarter, 6 year
HOURLY = 1
POSITIVE_AMOUNT_FORMS = frozenset({"WECH001", "ZIMA001", "AOAT001"})  # 00191 domain [1; 9999999999]
HOURLY_AMOUNT_ZONE = "PieceTaskServicesCommissionRemunerationBasisAmount"
LPA_NUMBER_ZONE = "NOSSLPARegistrationNbr"  # public local authorities declare this instead of a NOSS number


@dataclass(frozen=True, slots=True, kw_only=True)
class DateDomain:
    """A bound the glossary puts on one date zone of one form; a date outside it is ``<zone>-008``."""

    zone: str
    tag: str
    earliest: date | None = None
    latest: str | None = None  # "today" (not in the future), "month" (not after this month), "created_on"
    before_created_on: bool = False  # strictly before FormCreationDate ("ligt voor de datum van creatie")


_RECOVERY_BY_CREATION = DateDomain(zone="00128", tag="WorkRecoveryDate", latest="created_on")
_RECOVERY_NOT_FUTURE = DateDomain(zone="00128", tag="WorkRecoveryDate", latest="today")
_ACCIDENT = DateDomain(zone="00237", tag="AccidentDate", earliest=date(2003, 1, 1), latest="today")
_MONTHLY_START = DateDomain(zone="00074", tag="RefStartingDate", earliest=date(2003, 1, 1), latest="month")
_MONTHLY_END = DateDomain(zone="00075", tag="RefEndingDate", latest="month")

# (form, RiskDeclaration field) → the glossary's bound on that zone.
DATE_DOMAINS: Mapping[tuple[str, str], DateDomain] = {
    ("ZIMA001", "work_recovery_date"): _RECOVERY_BY_CREATION,
    ("ZIMA006", "work_recovery_date"): DateDomain(
        zone="00128", tag="WorkRecoveryDate", earliest=date(2005, 7, 1), latest="created_on"
    ),
    ("AOAT001", "work_recovery_date"): _RECOVERY_NOT_FUTURE,
    ("AOAT003", "work_recovery_date"): _RECOVERY_NOT_FUTURE,
    # AOAT001: "vanaf 1 januari 2008 mag de datum van het ongeval niet voorafgaan aan 1 januari 2008".
    ("AOAT001", "accident_date"): DateDomain(
        zone="00237", tag="AccidentDate", earliest=date(2008, 1, 1), latest="today"
    ),
    ("AOAT002", "accident_date"): _ACCIDENT,
    ("AOAT003", "accident_date"): _ACCIDENT,
    ("WECH005", "reference_start"): DateDomain(
        zone="00074", tag="RefStartingDate", earliest=date(2004, 1, 1), latest="month"
    ),
    ("WECH006", "reference_start"): _MONTHLY_START,
    ("WECH007", "reference_start"): _MONTHLY_START,
    ("WECH008", "reference_start"): _MONTHLY_START,
    ("AOAT002", "reference_start"): _MONTHLY_START,
    ("ZIMA002", "reference_start"): DateDomain(zone="00074", tag="RefStartingDate", latest="created_on"),
    ("ZIMA003", "reference_start"): DateDomain(zone="00074", tag="RefStartingDate", before_created_on=True),
    **{(form, "reference_end"): _MONTHLY_END for form in ("WECH005", "WECH006", "WECH007", "WECH008", "AOAT002")},
}


# --- helpers -------------------------------------------------------------------------------------------


def _is_zero(text: str | None) -> bool:
    return text is not None and text.isascii() and text.isdigit() and int(text) == 0


def _given(text: str | None) -> str | None:
    """The value when given and not the 0 placeholder, else None."""
    return None if text is None or _is_zero(text) else text


def _iso(day: date | None) -> str | None:
    return None if day is None else f"{day:%Y-%m-%d}"


def _detail(decl: RiskDeclaration, zone: str) -> str | None:
    """The first declared value of a zone kept in ``details`` (matched on the last path element)."""
    for path, value in decl.details:
        if path.rsplit("/", 1)[-1] == zone:
            return value
    return None


def finding_path(decl: RiskDeclaration) -> Path:
    """NOTI ``Path`` keys: NOSS number, then INSS, each when the form gives it (0 = not given)."""
    noss, insz = _given(decl.noss_number), _given(decl.insz)
    path: list[tuple[str, str]] = []
    if noss:
        path.append(("NOSSRegistrationNbr", noss))
    if insz:
        path.append(("INSS", insz))
    return tuple(path)


def _finding(
    decl: RiskDeclaration, code: str, tag: str, value: str | None, message: str, *, anomaly_class: str = BLOCKING
) -> Finding:
    return Finding(
        code=code,
        anomaly_class=anomaly_class,
        message=message,
        tag=tag,
        value=value,
        line=decl.line,
        path=finding_path(decl),
    )


def risk_day(decl: RiskDeclaration) -> date:
    """The day the declared risk concerns, to judge an annex-12 variant's validity; else FormCreationDate."""
    if decl.scenario == "WECH001" and decl.occupation_ending_date is not None:
        return decl.occupation_ending_date  # the C4 declares the end of the contract
    declared = decl.risk_starting_date or decl.accident_date or decl.reference_start or decl.work_recovery_date
    return declared or decl.created_on


def is_bis_number(insz: str) -> bool:
    """True for a BIS number: birth month + 20 (21–32) or + 40 (41–52) (DECLARATIONS.md §1.1)."""
    if len(insz) != 11 or not insz.isascii() or not insz.isdigit():
        return False
    month = int(insz[2:4])
    return 21 <= month <= 32 or 41 <= month <= 52


def insz_sex(insz: str) -> str | None:
    """WOMAN (even sequence) or MAN (odd) for a National Register number; None for a BIS or malformed one."""
    if len(insz) != 11 or not insz.isascii() or not insz.isdigit() or is_bis_number(insz):
        return None
    return MAN if int(insz[6:9]) % 2 else WOMAN


def variant_validity(scenario: str, risk_code: str) -> Validity | None:
    """Annex-12 validity of a risk variant for a form; None when the form has no such variant."""
    return RISK_VARIANTS.get(scenario, {}).get(risk_code)


def _declares_risk(decl: RiskDeclaration) -> bool:
    """Whether the form declares a risk. A ZIMA001 may be a MiniDmfA only (an answer to a request): it then has
    no RiskDetailOccupation block (LastWorkingDayDate, CalculationBaseAllowance), which a risk needs."""
    if decl.scenario != "ZIMA001":
        return True
    wage = (decl.remuneration_time_unit, decl.remuneration_basis_amount)
    return decl.last_working_day is not None or wage != (None, None)


def _month_end(day: date) -> date:
    first_of_next = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return first_of_next - timedelta(days=1)


# --- the form header and the risk --------------------------------------------------------------------


def check_identification(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00296-001 Identification missing; 00296-008 it is not the form id of the root (the scenario)."""
    if not decl.identification:
        message = f"Identification is missing: a {decl.scenario} form must say {decl.scenario}"
        return [_finding(decl, "00296-001", "Identification", None, message)]
    if decl.identification == decl.scenario:
        return []
    message = (
        f"Identification {decl.identification} does not match the root {decl.scenario}: a file carries forms of"
        f" one scenario; write {decl.scenario} or send the form in a {decl.identification} file"
    )
    return [_finding(decl, "00296-008", "Identification", decl.identification, message)]


def check_risk_identification(decl: RiskDeclaration, today: date) -> list[Finding]:
    """90064-001 no risk where the form needs one; 00430-008 a variant unknown to the form or not valid then."""
    variants = RISK_VARIANTS.get(decl.scenario)
    if variants is None:
        return []  # no risk zone (AOAT002/003), or a root the schema and check_identification deal with
    allowed = ", ".join(code for code, (_, end) in variants.items() if end is None)
    if not decl.risk_codes:
        if not _declares_risk(decl):
            return []
        message = f"RiskIdentification is missing: a {decl.scenario} risk declaration names its risk ({allowed})"
        return [_finding(decl, "90064-001", "RiskIdentification", None, message)]
    day = risk_day(decl)
    findings = []
    for code in decl.risk_codes:
        validity = variants.get(code)
        if validity is None:
            message = f"IdentificationOfRisk {code} is not a risk of {decl.scenario} (annex 12): use one of {allowed}"
        elif day < validity[0]:
            message = (
                f"risk {code} of {decl.scenario} exists from {validity[0]:%Y-%m-%d} (annex 12), the risk concerns"
                f" {day:%Y-%m-%d}: declare another risk or check the dates"
            )
        elif validity[1] is not None and day > validity[1]:
            message = (
                f"risk {code} of {decl.scenario} ended on {validity[1]:%Y-%m-%d} (annex 12), the risk concerns"
                f" {day:%Y-%m-%d}: use one of {allowed}"
            )
        else:
            continue
        findings.append(_finding(decl, "00430-008", "IdentificationOfRisk", code, message))
    return findings


# --- employer and person ------------------------------------------------------------------------------


def check_employer_id(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00011-001/008: neither a NOSS number nor a CompanyID (nor, for a local authority, an LPA number)."""
    if _given(decl.noss_number) or _given(decl.company_id) or _given(_detail(decl, LPA_NUMBER_ZONE)):
        return []
    if decl.noss_number is None:
        code, found = "00011-001", "NOSSRegistrationNbr is missing"
    else:
        code, found = "00011-008", "NOSSRegistrationNbr is 0"
    message = (
        f"{found} and CompanyID is {'0' if decl.company_id is not None else 'missing'}: give the NOSS number, or"
        " the enterprise number in CompanyID (NOSSRegistrationNbr may be 0 only then)"
    )
    return [_finding(decl, code, "NOSSRegistrationNbr", decl.noss_number, message)]


def check_noss_number(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00011-004 as W: the NOSS number fails the derived check rule (DECLARATIONS.md §1.3)."""
    noss = _given(decl.noss_number)
    if noss is None or is_valid_noss(noss):
        return []
    message = (
        f"NOSSRegistrationNbr {noss} is not a definitive NOSS number (expected a number in [100006; 199999934]"
        " with N mod 97 = 96); warning only: this check rule is derived, not published"
    )
    return [_finding(decl, "00011-004", "NOSSRegistrationNbr", noss, message, anomaly_class=WARNING)]


def check_company_id(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00014-004: CompanyID is neither 0 (unknown) nor a valid KBO/BCE number."""
    company_id = _given(decl.company_id)
    if company_id is None or is_valid_kbo(company_id):
        return []
    message = (
        f"CompanyID {company_id} is not a valid enterprise number (10 digits, first 0 or 1, last two"
        " = 97 − first eight mod 97): give the KBO/BCE number, or 0 when it is unknown"
    )
    return [_finding(decl, "00014-004", "CompanyID", company_id, message)]


def check_insz(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00024-001 INSS missing (mandatory in every DRS form); 0 (008 or 003); 00024-004 bad check digits."""
    insz = decl.insz
    if insz is None:
        message = f"INSS is missing: a {decl.scenario} form names the worker by INSZ or BIS number"
        return [_finding(decl, "00024-001", "INSS", None, message)]
    if is_valid_insz(insz):
        return []
    if _is_zero(insz):
        code = "00024-008" if decl.scenario in INSZ_DOMAIN_CODE_FORMS else "00024-003"
        message = "INSS 0 is not allowed: give the worker's INSZ or BIS number"
    else:
        code = "00024-004"
        message = f"INSS {mask_insz(insz)} has invalid check digits (97 − first nine mod 97, for either century)"
    return [_finding(decl, code, "INSS", mask_insz(insz), message)]


def required_sex(decl: RiskDeclaration) -> str | None:
    """WOMAN or MAN when the glossary ties the form's risk to one sex (ZIMA001 002–005, ZIMA003), else None."""
    if decl.scenario in SEX_BY_FORM:
        return SEX_BY_FORM[decl.scenario]
    by_risk = SEX_BY_RISK.get(decl.scenario, {})
    return next((by_risk[code] for code in decl.risk_codes if code in by_risk), None)


def check_insz_sex(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00024-008: the INSZ's sequence digit gives the other sex than the risk requires; BIS numbers skipped."""
    expected = required_sex(decl)
    if expected is None or decl.insz is None or not is_valid_insz(decl.insz):
        return []
    found = insz_sex(decl.insz)
    if found is None or found == expected:
        return []
    masked = mask_insz(decl.insz)
    risk = f"risk {' '.join(decl.risk_codes)} of " if decl.scenario in SEX_BY_RISK else ""
    message = (
        f"{risk}{decl.scenario} concerns a {expected}, but INSS {masked} is a {found}'s number (odd sequence ="
        f" man, even = woman): check the INSZ or the risk declared"
    )
    return [_finding(decl, "00024-008", "INSS", masked, message)]


# --- dates ---------------------------------------------------------------------------------------------


def check_last_working_day(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00410-008 (ZIMA001): LastWorkingDayDate after RiskStartingDate (001, W: a relapse may) or not before it."""
    last, start = decl.last_working_day, decl.risk_starting_date
    if decl.scenario != "ZIMA001" or last is None or start is None or len(decl.risk_codes) != 1:
        return []
    risk = decl.risk_codes[0]
    if variant_validity("ZIMA001", risk) is None:
        return []  # an unknown risk is reported by check_risk_identification
    if risk in LAST_DAY_SAME_AS_RISK:
        if last <= start:
            return []
        message = (
            f"LastWorkingDayDate {last:%Y-%m-%d} is after RiskStartingDate {start:%Y-%m-%d}: for an incapacity"
            " (001) it must be on or before it, unless this is a relapse (then RiskStartingDate is the first"
            " incapacity's); check both dates"
        )
        return [_finding(decl, "00410-008", "LastWorkingDayDate", _iso(last), message, anomaly_class=WARNING)]
    if last < start:
        return []
    message = (
        f"LastWorkingDayDate {last:%Y-%m-%d} is not before RiskStartingDate {start:%Y-%m-%d}: for risk {risk}"
        " the last working day precedes the first day of the risk"
    )
    return [_finding(decl, "00410-008", "LastWorkingDayDate", _iso(last), message)]


def check_work_recovery(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00128-023 (ZIMA001) work resumed on or before the risk started; 00128-008 (AOAT) before the accident."""
    recovery = decl.work_recovery_date
    if recovery is None:
        return []
    start, accident = decl.risk_starting_date, decl.accident_date
    if decl.scenario == "ZIMA001" and start is not None and recovery <= start:
        message = (
            f"WorkRecoveryDate {recovery:%Y-%m-%d} is not after RiskStartingDate {start:%Y-%m-%d}: work resumes"
            " after the risk has started; check both dates"
        )
        return [_finding(decl, "00128-023", "WorkRecoveryDate", _iso(recovery), message)]
    if decl.scenario in WORK_RECOVERY_AFTER_ACCIDENT and accident is not None and recovery < accident:
        message = (
            f"WorkRecoveryDate {recovery:%Y-%m-%d} is before AccidentDate {accident:%Y-%m-%d}: work resumes on or"
            " after the day of the accident"
        )
        return [_finding(decl, "00128-008", "WorkRecoveryDate", _iso(recovery), message)]
    return []


def reference_end_zone(decl: RiskDeclaration) -> tuple[str, str]:
    """(code, tag) for a reference period ending before it starts, in this form's glossary.

    A ZIMA001 reports CalculBaseRefPeriod's dates when it has no ReferencePeriod block (whose mandatory
    NatureOfDay leaves would be in ``details``); with both blocks the record does not say which dates it holds.
    """
    if decl.scenario == "ZIMA001" and not any("ReferencePeriod" in path.split("/") for path, _ in decl.details):
        return "00944-014", "CalculBaseRefPeriodEndDate"
    return REFERENCE_END_CODES.get(decl.scenario, DEFAULT_REFERENCE_END_CODE), "RefEndingDate"


def check_reference_period(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00075-014/-098 (or 00944-014): the reference period ends before it starts."""
    start, end = decl.reference_start, decl.reference_end
    if start is None or end is None or start <= end:
        return []
    code, tag = reference_end_zone(decl)
    message = f"{tag} {end:%Y-%m-%d} is before the reference period's start {start:%Y-%m-%d}: swap or correct them"
    return [_finding(decl, code, tag, _iso(end), message)]


def check_occupation_period(decl: RiskDeclaration, today: date) -> list[Finding]:
    """00045-014: OccupationEndingDate before OccupationStartingDate."""
    start, end = decl.occupation_starting_date, decl.occupation_ending_date
    if start is None or end is None or start <= end:
        return []
    message = f"OccupationEndingDate {end:%Y-%m-%d} is before OccupationStartingDate {start:%Y-%m-%d}: correct them"
    return [_finding(decl, "00045-014", "OccupationEndingDate", _iso(end), message)]


def _outside(domain: DateDomain, day: date, decl: RiskDeclaration, today: date) -> str | None:
    """Why ``day`` is outside the domain, or None."""
    if domain.earliest is not None and day < domain.earliest:
        return f"is before {domain.earliest:%Y-%m-%d}, the first day allowed"
    if domain.latest == "today" and day > today:
        return f"is in the future (today is {today:%Y-%m-%d})"
    if domain.latest == "month" and day > _month_end(today):
        return f"is after the current month ({today:%Y-%m}): declare a month once it has started"
    if domain.latest == "created_on" and day > decl.created_on:
        return f"is after FormCreationDate {decl.created_on:%Y-%m-%d}"
    if domain.before_created_on and day >= decl.created_on:
        return f"is not before FormCreationDate {decl.created_on:%Y-%m-%d}"
    return None


def check_date_domains(decl: RiskDeclaration, today: date) -> list[Finding]:
    """<zone>-008: a date outside the bounds the form's glossary gives it (DATE_DOMAINS)."""
    findings = []
    for (form, field), domain in DATE_DOMAINS.items():
        day = getattr(decl, field) if form == decl.scenario else None
        if day is None:
            continue
        why = _outside(domain, day, decl, today)
        if why is not None:
            message = f"{domain.tag} {day:%Y-%m-%d} {why}"
            findings.append(_finding(decl, f"{domain.zone}-008", domain.tag, _iso(day), message))
    return findings


# --- wage data -----------------------------------------------------------------------------------------


def check_remuneration(decl: RiskDeclaration, today: date) -> list[Finding]:
    """CalculationBaseAllowance: 00189-001/008 unit missing or outside 1..6; 00191-001/008 amount missing
    (unit day..year) or 0; 00192-001 hourly pay without its hourly amount."""
    unit, amount = decl.remuneration_time_unit, decl.remuneration_basis_amount
    findings = []
    if unit is None:
        if amount is not None:
            message = "RemunerationTimeUnit is missing: say per what (1 hour … 6 year) RemunerationBasisAmount is paid"
            findings.append(_finding(decl, "00189-001", "RemunerationTimeUnit", None, message))
    elif unit not in TIME_UNITS:
        message = f"RemunerationTimeUnit {unit} is not 1 hour, 2 day, 3 week, 4 month, 5 quarter or 6 year"
        findings.append(_finding(decl, "00189-008", "RemunerationTimeUnit", str(unit), message))
    elif unit == HOURLY:
        if amount is None and _detail(decl, HOURLY_AMOUNT_ZONE) is None:
            message = (
                f"{HOURLY_AMOUNT_ZONE} is missing: for hourly pay (RemunerationTimeUnit 1) give the hourly amount"
                " in hundredths of a cent"
            )
            findings.append(_finding(decl, "00192-001", HOURLY_AMOUNT_ZONE, None, message))
    elif amount is None:
        message = f"RemunerationBasisAmount is missing: RemunerationTimeUnit {unit} needs the amount per unit in cents"
        findings.append(_finding(decl, "00191-001", "RemunerationBasisAmount", None, message))
    if amount is not None and amount <= 0 and decl.scenario in POSITIVE_AMOUNT_FORMS:
        message = f"RemunerationBasisAmount {amount} is not in [1; 9999999999] cents: give the wage per unit"
        findings.append(_finding(decl, "00191-008", "RemunerationBasisAmount", str(amount), message))
    return findings


RULES: tuple[DeclarationRule, ...] = (
    check_identification,
    check_risk_identification,
    check_employer_id,
    check_noss_number,
    check_company_id,
    check_insz,
    check_insz_sex,
    check_last_working_day,
    check_work_recovery,
    check_reference_period,
    check_occupation_period,
    check_date_domains,
    check_remuneration,
)


def check_risk_declaration(decl: RiskDeclaration, today: date) -> list[Finding]:
    """Findings on one DRS form alone, in RULES order."""
    return [finding for rule in RULES for finding in rule(decl, today)]


# --- against the personnel file -------------------------------------------------------------------------


def check_employment_relation(decl: RiskDeclaration, covered: bool | None, anomaly_class: str) -> list[Finding]:
    """90017-152 (glossary: "no valid employment relation found for the given period or date") when the
    personnel file has no live Dimona period of this employer and INSZ for the risk; None = not checked.

    The class is configurable (``crosschecks.missing_employment_relation``, as for DmfA): the relation may
    have been declared through another channel.
    """
    if covered is None or covered:
        return []
    masked = mask_insz(decl.insz) if decl.insz else None
    message = (
        f"no Dimona period of this employer covers the {decl.scenario} risk of INSS {masked or '(none)'}:"
        " declare the employment (Dimona IN) or check the INSZ, the employer and the dates"
    )
    return [_finding(decl, "90017-152", "NaturalPerson", masked, message, anomaly_class=anomaly_class)]


def check_end_of_contract(decl: RiskDeclaration, dimona_end: date | None) -> list[Finding]:
    """00045-008 (WECH001): the declared end of contract differs from the Dimona OUT end date of the same
    person and employer in the personnel file; None (no closed Dimona period) = nothing to compare."""
    declared = decl.occupation_ending_date
    if decl.scenario != "WECH001" or dimona_end is None or declared is None or declared == dimona_end:
        return []
    message = (
        f"OccupationEndingDate {declared:%Y-%m-%d} (end of contract) differs from the Dimona OUT, which ends the"
        f" employment on {dimona_end:%Y-%m-%d}: correct the C4, or the Dimona period with an UPDATE"
    )
    return [_finding(decl, "00045-008", "OccupationEndingDate", _iso(declared), message)]
