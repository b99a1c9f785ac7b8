"""Dimona business rules: one declaration alone, then against the personnel file; period ids; apply()."""

# Codes and classes are read from the official glossary (shared/official/glossary/zones/Dimona.xml and
# functional-blocks/Dimona.xml, version 2023/3). Every code below is B there unless said otherwise.
#   00913-001/003/005  DimonaPeriodId missing (OUT, UPDATE, CANCEL), bad check digits, given in an IN.
#   00913-354/355/356  period unknown / already cancelled / already closed: an OUT of a period that has an end
#                      on another day (the same day is accepted and changes nothing: a re-sent OUT).
#   00913-181          "change or cancellation not allowed": UPDATE of an STX period (block 90378 restriction).
#   00913-359          "forbidden to close a period with an UPDATE": an end date on an open period needs an OUT.
#   00913-368          "forbidden to remove the end date": UPDATE 9999-12-31 where an end date is mandatory.
#   90256-364          EmployerId: "NOSS number or enterprise number mandatory" (an IN with neither).
#   00011-003 W/B      NOSSRegistrationNbr invalid (Dimona has no 004): W on the derived mod-97 rule
#                      (DECLARATIONS.md §1.3, as in the DmfA rules), B for 0 ("never allowed in Dimona").
#   00014-003          CompanyID invalid: KBO check digits, or 0 ("never allowed in a Dimona declaration").
#   00011-347/00014-347  employer "incompatible with the Dimona period id": differs from the period's.
#   00024-001          INSS missing in an IN for an EXT worker (the only case zone 00024 makes it mandatory).
#   90017-363          NaturalPerson "INSZ or identification data mandatory": any other IN without an INSZ
#                      (our records carry no identity data, so the INSZ is the only way to identify).
#   00024-003          INSS check digits wrong. 00024-347: INSS differs from the period's.
#   00910-001/008      StartingDate missing in an IN / outside [1920-01-01; 1 Jan of (year + 10)[, FLX declared
#                      more than 31 days before its quarter, O17/S17/T17 more than 15 days before the start.
#   00910-005          StartingDate in an UPDATE of an STU period starting after 2016-12-31 (glossary 00910).
#   00911-001          EndingDate missing: OUT; IN of STU, EXT, IVT, TRI, STG, A17/O17/S17/T17 or JC 322.
#   00911-008          EndingDate outside [1999-01-01; 1 Jan of (year + 10)[ (the glossary gives both bounds),
#                      9999-12-31 outside an UPDATE, A17/T17 not ending on their starting day, and an OUT
#                      ending an STU/O17/S17 period in another quarter than its start.
#   00911-014          EndingDate before StartingDate (in the declaration, or against the period).
#   90373-421/90378-421  IN / UPDATE: STU, O17, S17 start and end not in the same quarter (the block code the
#                      glossary gives for exactly this rule, rather than the generic 00911-008).
#   00655-001/003/005  WorkerType missing / unknown / forbidden: A17 and TEA from 2022-01-01, O17/S17/T17
#                      before 2022-01-01, ALT before 2023-09-01 (by StartingDate); QUA from 2023-01-01 and
#                      STX from 2014-01-01 (by the day declared: "no longer possible to declare").
#   01135-001/003/005  PlannedHoursNbr missing (STU, O17, S17) / outside 1–999 / given for any other type.
#   01017-005          PlannedDaysNbr: forbidden except for an STU period until 2016-12-31.
#   90373-333/334, 90378-333/334  IN / UPDATE: "duplicate" (same start and end) or "overlapping" Dimona
#                      period of the same employer, INSZ and worker type. These block codes are the glossary's
#                      only period-against-period anomalies (00910-459 is about occasional workers only).
#   90378-444          UPDATE "no changes found": nothing to change given, or the dates equal the period's.
# Paths carry the declared NOSS number and INSS only, never the file's: a period named by mistake may be
# another employer's, so a 347 (INSS or employer differs) is reported alone, without the period rules.

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta

from cbss_batch.ids import is_valid_insz, is_valid_kbo, is_valid_noss, mask_insz
from cbss_batch.records import BLOCKING, DimonaDeclaration, EmploymentPeriod, Finding, Quarter

WARNING = "W"
OPEN_END = date(9999, 12, 31)  # EndingDate in an UPDATE: reopen the period (no end date)
FIRST_STARTING_DATE = date(1920, 1, 1)
FIRST_ENDING_DATE = date(1999, 1, 1)
YEARS_AHEAD = 10  # dates must fall before 1 January of (current year + 10)
TARGETED = ("OUT", "UPDATE", "CANCEL")  # actions naming an existing period by DimonaPeriodId
PERIOD_ID_DIGITS = 12

WORKER_TYPES = frozenset("OTH STU FLX EXT BCW RTA IVT TRI STG DWD ALT O17 S17 T17 PMP A17 TEA QUA STX".split())
# (first, last) StartingDate a type may have; None = unbounded (glossary 00655, 00910).
TYPE_PERIODS: dict[str, tuple[date | None, date | None]] = {
    "A17": (None, date(2021, 12, 31)),
    "TEA": (None, date(2021, 12, 31)),
    "O17": (date(2022, 1, 1), None),
    "S17": (date(2022, 1, 1), None),
    "T17": (date(2022, 1, 1), None),
    "ALT": (date(2023, 9, 1), None),
}
WITHDRAWN_ON = {"QUA": date(2023, 1, 1), "STX": date(2014, 1, 1)}  # no declaration accepted from that day
ENDING_DATE_REQUIRED = frozenset({"STU", "EXT", "IVT", "TRI", "STG", "A17", "O17", "S17", "T17"})
TEMPORARY_AGENCY_COMMITTEE = "322"
SAME_QUARTER = frozenset({"STU", "O17", "S17"})
SAME_DAY = frozenset({"A17", "T17"})
PLANNED_HOURS_REQUIRED = frozenset({"STU", "O17", "S17"})  # and forbidden for every other type
PLANNED_HOURS_MIN, PLANNED_HOURS_MAX = 1, 999
LAST_PLANNED_DAYS_DATE = date(2016, 12, 31)
DAYS_AHEAD = {"O17": 15, "S17": 15, "T17": 15}  # declared at most this many days before the start
FLEXI_DAYS_BEFORE_QUARTER = 31

Path = tuple[tuple[str, str], ...]
DeclarationRule = Callable[[DimonaDeclaration, date], list[Finding]]
PersonnelFileRule = Callable[[DimonaDeclaration, EmploymentPeriod, Sequence[EmploymentPeriod]], list[Finding]]


# --- helpers ---------------------------------------------------------------------------------------


def _is_zero(text: str | None) -> bool:
    return text is not None and text.isascii() and text.isdigit() and int(text) == 0


def _given(text: str | None) -> str | None:
    """The value when given and not the 0 placeholder, else None."""
    return None if text is None or _is_zero(text) else text


def _same_number(left: str, right: str) -> bool:
    # xs:integer zones: "070500472" and "70500472" are the same number.
    if left.isascii() and left.isdigit() and right.isascii() and right.isdigit():
        return int(left) == int(right)
    return left == right


def finding_path(decl: DimonaDeclaration) -> Path:
    """NOTI ``Path`` keys: NOSS number, then INSS, each when the declaration gives it (0 = not given).

    Never taken from the personnel file: a period named by mistake may belong to another employer.
    """
    noss, insz = _given(decl.noss_number), _given(decl.insz)
    path: list[tuple[str, str]] = []
    if noss:
        path.append(("NOSSRegistrationNbr", noss))
    if insz:
        path.append(("INSS", insz))
    return tuple(path)


def _finding(
    decl: DimonaDeclaration,
    code: str,
    tag: str,
    value: str | None,
    message: str,
    *,
    anomaly_class: str = BLOCKING,
) -> Finding:
    return Finding(
        code=code,
        anomaly_class=anomaly_class,
        message=message,
        tag=tag,
        value=value,
        line=decl.action_line,
        path=finding_path(decl),
    )


def _iso(day: date | None) -> str | None:
    return None if day is None else f"{day:%Y-%m-%d}"


def _horizon(today: date) -> date:
    """The first date no longer allowed: 1 January of (current year + 10)."""
    return date(today.year + YEARS_AHEAD, 1, 1)


def _known_type(decl: DimonaDeclaration) -> str | None:
    """The declared WorkerType when it is a real code; type-dependent rules skip an unknown one."""
    return decl.worker_type if decl.worker_type in WORKER_TYPES else None


def _ending_required(worker_type: str | None, joint_committee: str | None) -> bool:
    return worker_type in ENDING_DATE_REQUIRED or joint_committee == TEMPORARY_AGENCY_COMMITTEE


# --- one declaration alone -------------------------------------------------------------------------


def check_period_id(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """00913-001 missing where a period is targeted, 00913-005 given in an IN, 00913-003 bad check digits."""
    period_id = decl.period_id
    if decl.action == "IN" and period_id is not None:
        message = "DimonaPeriodId is given in a DimonaIn: an IN creates the period; leave it out"
        return [_finding(decl, "00913-005", "DimonaPeriodId", period_id, message)]
    if period_id is None:
        if decl.action not in TARGETED:
            return []
        message = f"DimonaPeriodId is missing: a {decl.action} must name the period it changes"
        return [_finding(decl, "00913-001", "DimonaPeriodId", None, message)]
    if is_valid_period_id(period_id):
        return []
    message = (
        f"DimonaPeriodId {period_id} is not a period id (12 digits, last two = first ten mod 97):"
        " copy the id from the answer to the DimonaIn"
    )
    return [_finding(decl, "00913-003", "DimonaPeriodId", period_id, message)]


def check_starting_date(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """00910-001 missing in an IN; 00910-008 outside the domain or declared too early (FLX, O17/S17/T17)."""
    start = decl.starting_date
    if start is None:
        if decl.action != "IN":
            return []
        return [_finding(decl, "00910-001", "StartingDate", None, "StartingDate is missing: an IN needs it")]
    horizon = _horizon(today)
    if not FIRST_STARTING_DATE <= start < horizon:
        message = (
            f"StartingDate {start:%Y-%m-%d} is outside [{FIRST_STARTING_DATE:%Y-%m-%d}; {horizon:%Y-%m-%d}[:"
            " give the day the employment starts"
        )
        return [_finding(decl, "00910-008", "StartingDate", _iso(start), message)]
    worker_type = _known_type(decl) if decl.action == "IN" else None
    if worker_type == "FLX":
        quarter_start = Quarter.containing(start).start
        if (quarter_start - today).days > FLEXI_DAYS_BEFORE_QUARTER:
            first_day = quarter_start - timedelta(days=FLEXI_DAYS_BEFORE_QUARTER)
            message = (
                f"a flexi-job (FLX) starting {start:%Y-%m-%d} may be declared at most {FLEXI_DAYS_BEFORE_QUARTER}"
                f" days before its quarter starts on {quarter_start:%Y-%m-%d}: declare it from {first_day:%Y-%m-%d}"
            )
            return [_finding(decl, "00910-008", "StartingDate", _iso(start), message)]
    if worker_type in DAYS_AHEAD:
        limit = DAYS_AHEAD[worker_type]
        if (start - today).days > limit:
            first_day = start - timedelta(days=limit)
            message = (
                f"a {worker_type} period starting {start:%Y-%m-%d} may be declared at most {limit} days ahead:"
                f" declare it from {first_day:%Y-%m-%d}"
            )
            return [_finding(decl, "00910-008", "StartingDate", _iso(start), message)]
    return []


def check_ending_date(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """00911-001 missing, 00911-008 domain (9999-12-31 in an UPDATE only), 00911-014 before the start,
    90373-421 STU/O17/S17 ending in another quarter, 00911-008 A17/T17 not ending on the starting day."""
    end, start = decl.ending_date, decl.starting_date
    worker_type = _known_type(decl) if decl.action == "IN" else None
    if end is None:
        if decl.action == "OUT":
            why = "an OUT declares the end of the period"
        elif decl.action == "IN" and _ending_required(worker_type, decl.joint_committee):
            who = worker_type if worker_type in ENDING_DATE_REQUIRED else "joint committee 322"
            why = f"an IN for {who} needs the end of the period"
        else:
            return []
        return [_finding(decl, "00911-001", "EndingDate", None, f"EndingDate is missing: {why}")]
    if end == OPEN_END:
        if decl.action == "UPDATE":
            return []
        message = "EndingDate 9999-12-31 (reopen the period) is allowed in an UPDATE only: give the real end"
        return [_finding(decl, "00911-008", "EndingDate", _iso(end), message)]
    horizon = _horizon(today)
    if not FIRST_ENDING_DATE <= end < horizon:
        message = (
            f"EndingDate {end:%Y-%m-%d} is outside [{FIRST_ENDING_DATE:%Y-%m-%d}; {horizon:%Y-%m-%d}[:"
            " give the last day of the employment"
        )
        return [_finding(decl, "00911-008", "EndingDate", _iso(end), message)]
    if start is None:
        return []
    if end < start:
        message = f"EndingDate {end:%Y-%m-%d} is before StartingDate {start:%Y-%m-%d}: swap or correct them"
        return [_finding(decl, "00911-014", "EndingDate", _iso(end), message)]
    if worker_type in SAME_QUARTER and Quarter.containing(end) != Quarter.containing(start):
        quarter = Quarter.containing(start)
        message = (
            f"a {worker_type} period starting {start:%Y-%m-%d} must end in the same quarter ({quarter}, by"
            f" {quarter.end:%Y-%m-%d}), not {end:%Y-%m-%d}: declare one period per quarter"
        )
        return [_finding(decl, "90373-421", "DimonaIn", _iso(end), message)]
    if worker_type in SAME_DAY and end != start:
        message = f"a {worker_type} period is one day: EndingDate must be StartingDate {start:%Y-%m-%d}"
        return [_finding(decl, "00911-008", "EndingDate", _iso(end), message)]
    return []


def check_planned_work(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """01135-001/003/005 PlannedHoursNbr missing, outside 1–999, forbidden; 01017-005 PlannedDaysNbr."""
    findings: list[Finding] = []
    hours = decl.planned_hours
    worker_type = _known_type(decl) if decl.action == "IN" else None
    if hours is None:
        if worker_type in PLANNED_HOURS_REQUIRED:
            message = f"PlannedHoursNbr is missing: an IN for {worker_type} gives the hours planned (1–999)"
            findings.append(_finding(decl, "01135-001", "PlannedHoursNbr", None, message))
    elif not PLANNED_HOURS_MIN <= hours <= PLANNED_HOURS_MAX:
        message = f"PlannedHoursNbr {hours} is outside {PLANNED_HOURS_MIN}–{PLANNED_HOURS_MAX}: give whole hours"
        findings.append(_finding(decl, "01135-003", "PlannedHoursNbr", str(hours), message))
    elif worker_type is not None and worker_type not in PLANNED_HOURS_REQUIRED:
        message = f"PlannedHoursNbr is for STU, O17 and S17 only, not {worker_type}: leave it out"
        findings.append(_finding(decl, "01135-005", "PlannedHoursNbr", str(hours), message))
    start = decl.starting_date
    if decl.action == "IN" and decl.planned_days is not None and worker_type is not None:
        if worker_type != "STU" or (start is not None and start > LAST_PLANNED_DAYS_DATE):
            message = "PlannedDaysNbr is for STU periods until 2016-12-31 only: leave it out (use PlannedHoursNbr)"
            findings.append(_finding(decl, "01017-005", "PlannedDaysNbr", str(decl.planned_days), message))
    return findings


def check_employer_id(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """90256-364: an IN names its employer by NOSS number or enterprise number."""
    if decl.action != "IN" or decl.noss_number is not None or decl.company_id is not None:
        return []
    message = "EmployerId is missing: give NOSSRegistrationNbr or CompanyID"
    return [_finding(decl, "90256-364", "EmployerId", None, message)]


def check_noss_number(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """00011-003: B for 0 (never allowed in Dimona); W when the derived mod-97 rule fails."""
    noss = decl.noss_number
    if noss is None or is_valid_noss(noss):
        return []
    if _is_zero(noss):
        message = "NOSSRegistrationNbr 0 is never allowed in Dimona: give the NOSS number, or CompanyID alone"
        return [_finding(decl, "00011-003", "NOSSRegistrationNbr", noss, message)]
    message = (
        f"NOSSRegistrationNbr {noss} is not a definitive NOSS number (expected a number in"
        " [100006; 199999934] with N mod 97 = 96); warning only: this check rule is derived, not published"
    )
    return [_finding(decl, "00011-003", "NOSSRegistrationNbr", noss, message, anomaly_class=WARNING)]


def check_company_id(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """00014-003: CompanyID 0 (never allowed in Dimona) or bad KBO check digits."""
    company_id = decl.company_id
    if company_id is None or is_valid_kbo(company_id):
        return []
    message = (
        f"CompanyID {company_id} is not a valid enterprise number (10 digits, first 0 or 1, last two"
        " = 97 − first eight mod 97; 0 is never allowed in Dimona): give the KBO/BCE number"
    )
    return [_finding(decl, "00014-003", "CompanyID", company_id, message)]


def check_insz(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """An IN needs an INSZ (00024-001 for EXT, else 90017-363); 00024-003 on wrong check digits."""
    insz = _given(decl.insz)
    if insz is None:
        if decl.action != "IN":
            return []
        if decl.worker_type == "EXT":
            message = "INSS is missing: an IN for an occasional worker (EXT) needs the worker's INSZ"
            return [_finding(decl, "00024-001", "INSS", None, message)]
        message = "INSS is missing: give the worker's INSZ or BIS number in NaturalPerson"
        return [_finding(decl, "90017-363", "NaturalPerson", None, message)]
    if is_valid_insz(insz):
        return []
    masked = mask_insz(insz)
    message = f"INSS {masked} has invalid check digits (97 − first nine mod 97, for either century)"
    return [_finding(decl, "00024-003", "INSS", masked, message)]


def check_worker_type(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """00655-001 missing in an IN, 00655-003 unknown code, 00655-005 type not allowed for the period or day."""
    if decl.action != "IN":
        return []
    worker_type, start = decl.worker_type, decl.starting_date
    if worker_type is None:
        return [_finding(decl, "00655-001", "WorkerType", None, "WorkerType is missing: an IN needs it (OTH …)")]
    if worker_type not in WORKER_TYPES:
        message = f"WorkerType {worker_type!r} is not a Dimona worker type: use OTH, STU, FLX, EXT, …"
        return [_finding(decl, "00655-003", "WorkerType", worker_type, message)]
    withdrawn = WITHDRAWN_ON.get(worker_type)
    if withdrawn is not None and today >= withdrawn:
        message = f"WorkerType {worker_type} is abolished: no declaration is accepted since {withdrawn:%Y-%m-%d}"
        return [_finding(decl, "00655-005", "WorkerType", worker_type, message)]
    first, last = TYPE_PERIODS.get(worker_type, (None, None))
    if start is not None and first is not None and start < first:
        message = f"WorkerType {worker_type} exists from {first:%Y-%m-%d}, the period starts {start:%Y-%m-%d}"
        return [_finding(decl, "00655-005", "WorkerType", worker_type, message)]
    if start is not None and last is not None and start > last:
        message = (
            f"WorkerType {worker_type} is abolished for periods starting after {last:%Y-%m-%d}"
            f" (this one starts {start:%Y-%m-%d})" + ("; use O17, S17 or T17" if worker_type == "A17" else "")
        )
        return [_finding(decl, "00655-005", "WorkerType", worker_type, message)]
    return []


def check_update_has_changes(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """90378-444: an UPDATE gives at least one of the dates, hours or planned hours/days."""
    if decl.action != "UPDATE":
        return []
    changes = (
        decl.starting_date,
        decl.starting_hour,
        decl.ending_date,
        decl.ending_hour,
        decl.planned_hours,
        decl.planned_days,
    )
    if any(value is not None for value in changes):
        return []
    message = "DimonaUpdate changes nothing: give the new StartingDate, EndingDate, hours or PlannedHoursNbr"
    return [_finding(decl, "90378-444", "DimonaUpdate", decl.period_id, message)]


# Report order: the period, its dates and hours, then employer, person and features (DimonaIn order).
DECLARATION_RULES: tuple[DeclarationRule, ...] = (
    check_period_id,
    check_starting_date,
    check_ending_date,
    check_planned_work,
    check_employer_id,
    check_noss_number,
    check_company_id,
    check_insz,
    check_worker_type,
    check_update_has_changes,
)


def check_declaration(decl: DimonaDeclaration, today: date) -> list[Finding]:
    """Findings on one Dimona declaration that need no personnel file, in report order."""
    return [finding for rule in DECLARATION_RULES for finding in rule(decl, today)]


# --- against the personnel file ---------------------------------------------------------------------


def check_person_matches(
    decl: DimonaDeclaration, period: EmploymentPeriod, others: Sequence[EmploymentPeriod]
) -> list[Finding]:
    """00024-347: the INSS given differs from the period's."""
    insz = _given(decl.insz)
    if insz is None or insz == period.insz:
        return []
    masked = mask_insz(insz)
    message = (
        f"INSS {masked} is not the worker of period {period.period_id}: check the DimonaPeriodId, or leave INSS out"
    )
    return [_finding(decl, "00024-347", "INSS", masked, message)]


def check_employer_matches(
    decl: DimonaDeclaration, period: EmploymentPeriod, others: Sequence[EmploymentPeriod]
) -> list[Finding]:
    """00011-347 / 00014-347: the NOSS number or CompanyID given differs from the period's."""
    findings = []
    for code, tag, declared, recorded in (
        ("00011-347", "NOSSRegistrationNbr", _given(decl.noss_number), _given(period.noss_number)),
        ("00014-347", "CompanyID", _given(decl.company_id), _given(period.company_id)),
    ):
        if declared is None or recorded is None or _same_number(declared, recorded):
            continue
        message = (
            f"{tag} {declared} is not the employer of period {period.period_id}:"
            " only the employer who declared the period may change it; check the DimonaPeriodId"
        )
        findings.append(_finding(decl, code, tag, declared, message))
    return findings


def check_out_against_period(
    decl: DimonaDeclaration, period: EmploymentPeriod, others: Sequence[EmploymentPeriod]
) -> list[Finding]:
    """OUT: 00913-356 period already closed on another day; 00911-014 before its start; 00911-008 quarter."""
    end = decl.ending_date
    if decl.action != "OUT" or end is None or end == OPEN_END:
        return []
    # Closing again on the same day changes nothing: accepted (a re-sent OUT, e.g. after a lost answer).
    if period.ending_date is not None and period.ending_date != end:
        message = (
            f"period {period.period_id} is already closed on {period.ending_date:%Y-%m-%d}:"
            " send an UPDATE to move its EndingDate"
        )
        return [_finding(decl, "00913-356", "DimonaPeriodId", period.period_id, message)]
    start = period.starting_date
    if end < start:
        message = f"EndingDate {end:%Y-%m-%d} is before the period's StartingDate {start:%Y-%m-%d}: correct it"
        return [_finding(decl, "00911-014", "EndingDate", _iso(end), message)]
    if period.worker_type in SAME_QUARTER and Quarter.containing(end) != Quarter.containing(start):
        message = (
            f"a {period.worker_type} period starting {start:%Y-%m-%d} must end in quarter"
            f" {Quarter.containing(start)}, not on {end:%Y-%m-%d}"
        )
        return [_finding(decl, "00911-008", "EndingDate", _iso(end), message)]
    return []


def check_update_against_period(
    decl: DimonaDeclaration, period: EmploymentPeriod, others: Sequence[EmploymentPeriod]
) -> list[Finding]:
    """UPDATE: 00913-181 STX, 00910-005 STU start, 00913-368/359 end date, 00911-014, 90378-421, 90378-444,
    01135-005 and 01017-005 for the period's worker type."""
    if decl.action != "UPDATE":
        return []
    worker_type, pid = period.worker_type, period.period_id
    if worker_type == "STX":
        message = f"period {pid} is an STX period: these can no longer be changed"
        return [_finding(decl, "00913-181", "DimonaPeriodId", pid, message)]
    findings: list[Finding] = []
    start, end = decl.starting_date, decl.ending_date
    if start is not None and worker_type == "STU" and period.starting_date > LAST_PLANNED_DAYS_DATE:
        message = f"the StartingDate of student period {pid} cannot be changed: cancel it and declare a new IN"
        findings.append(_finding(decl, "00910-005", "StartingDate", _iso(start), message))
    if end == OPEN_END and _ending_required(worker_type, period.joint_committee):
        message = f"period {pid} ({worker_type}) must keep an EndingDate: 9999-12-31 cannot remove it"
        findings.append(_finding(decl, "00913-368", "DimonaPeriodId", pid, message))
    elif end is not None and end != OPEN_END and period.ending_date is None:
        message = f"period {pid} is open: close it with a DimonaOut, not a DimonaUpdate"
        findings.append(_finding(decl, "00913-359", "DimonaPeriodId", pid, message))
    after = _updated(decl, period)
    if after.ending_date is not None and after.ending_date < after.starting_date:
        tag, value = ("EndingDate", _iso(end)) if end is not None else ("StartingDate", _iso(start))
        message = (
            f"period {pid} would end on {after.ending_date:%Y-%m-%d}, before it starts on"
            f" {after.starting_date:%Y-%m-%d}: correct the dates"
        )
        findings.append(_finding(decl, "00911-014", tag, value, message))
    elif (
        worker_type in SAME_QUARTER
        and after.ending_date is not None
        and Quarter.containing(after.ending_date) != Quarter.containing(after.starting_date)
    ):
        message = (
            f"a {worker_type} period must start and end in the same quarter: {after.starting_date:%Y-%m-%d}"
            f" and {after.ending_date:%Y-%m-%d} are not"
        )
        findings.append(_finding(decl, "90378-421", "DimonaUpdate", _iso(after.ending_date), message))
    if decl.planned_hours is not None and worker_type not in PLANNED_HOURS_REQUIRED:
        message = f"PlannedHoursNbr is for STU, O17 and S17 only, not {worker_type}: leave it out"
        findings.append(_finding(decl, "01135-005", "PlannedHoursNbr", str(decl.planned_hours), message))
    if decl.planned_days is not None and (worker_type != "STU" or after.starting_date > LAST_PLANNED_DAYS_DATE):
        message = "PlannedDaysNbr is for STU periods until 2016-12-31 only: leave it out (use PlannedHoursNbr)"
        findings.append(_finding(decl, "01017-005", "PlannedDaysNbr", str(decl.planned_days), message))
    only_dates = (decl.starting_hour, decl.ending_hour, decl.planned_hours, decl.planned_days) == (None,) * 4
    if only_dates and (start is not None or end is not None) and after == period:
        message = f"DimonaUpdate gives the dates period {pid} already has: nothing to change"
        findings.append(_finding(decl, "90378-444", "DimonaUpdate", pid, message))
    return findings


def _overlaps(first: EmploymentPeriod, second: EmploymentPeriod) -> bool:
    """True when the two periods share at least one day (an open end runs forever)."""
    first_end, second_end = first.ending_date or date.max, second.ending_date or date.max
    return first.starting_date <= second_end and second.starting_date <= first_end


def check_overlap(
    decl: DimonaDeclaration, period: EmploymentPeriod | None, others: Sequence[EmploymentPeriod]
) -> list[Finding]:
    """90373/90378-333 duplicate (same start and end) or -334 overlapping live period of the same worker type."""
    if decl.action == "IN":
        if decl.starting_date is None or _known_type(decl) is None or _given(decl.insz) is None:
            return []
        block, tag, after = "90373", "DimonaIn", _created(decl, "")
    elif decl.action == "UPDATE" and period is not None:
        block, tag, after = "90378", "DimonaUpdate", _updated(decl, period)
    else:
        return []
    findings = []
    for other in others:
        if other.is_cancelled or other.period_id == after.period_id or other.worker_type != after.worker_type:
            continue
        if not _overlaps(after, other):
            continue
        same = (other.starting_date, other.ending_date) == (after.starting_date, after.ending_date)
        span = f"{other.starting_date:%Y-%m-%d}–{_iso(other.ending_date) or 'open'}"
        if same:
            code = f"{block}-333"
            message = f"period {other.period_id} ({span}) is the same period: do not declare it twice"
        else:
            code = f"{block}-334"
            message = (
                f"the period overlaps {after.worker_type} period {other.period_id} ({span}) of the same worker:"
                " change or close that period instead"
            )
        findings.append(_finding(decl, code, tag, _iso(after.starting_date), message))
    return findings


# Whose period it is comes first: when the INSZ or employer differs, the period rules would only describe
# (and disclose) a period the sender may not own, so they are not run.
IDENTITY_RULES: tuple[PersonnelFileRule, ...] = (check_person_matches, check_employer_matches)
PERIOD_RULES: tuple[PersonnelFileRule, ...] = (check_out_against_period, check_update_against_period, check_overlap)


def check_against_personnel_file(
    decl: DimonaDeclaration, period: EmploymentPeriod | None, others: Sequence[EmploymentPeriod]
) -> list[Finding]:
    """Findings against the personnel file as it stands before ``decl``.

    ``period`` is the period an OUT/UPDATE/CANCEL targets (None when unknown, and for an IN); ``others``
    are the other live periods of the same employer and INSZ (for an IN: all of them). An unknown or
    cancelled period, or one of another INSZ or employer, is reported alone: nothing else can be checked
    against it. Daily registrations (action DAILY) are not checked against the file here.
    """
    if decl.action == "IN":
        return check_overlap(decl, None, others)
    if decl.action not in TARGETED:
        return []
    if period is None:
        message = f"DimonaPeriodId {decl.period_id} is not a period of the personnel file: check the id"
        return [_finding(decl, "00913-354", "DimonaPeriodId", decl.period_id, message)]
    if period.is_cancelled:
        message = f"period {period.period_id} is already cancelled: declare a new IN if the employment exists"
        return [_finding(decl, "00913-355", "DimonaPeriodId", period.period_id, message)]
    identity = [finding for rule in IDENTITY_RULES for finding in rule(decl, period, others)]
    if identity:
        return identity
    return [finding for rule in PERIOD_RULES for finding in rule(decl, period, others)]


# --- the personnel file after an accepted declaration -----------------------------------------------


def _created(decl: DimonaDeclaration, new_period_id: str) -> EmploymentPeriod:
    worker_type, insz, start = decl.worker_type, decl.insz, decl.starting_date
    if worker_type is None or insz is None or start is None:
        raise ValueError("an IN creates a period only with INSS, WorkerType and StartingDate")
    return EmploymentPeriod(
        period_id=new_period_id,
        noss_number=decl.noss_number,
        company_id=decl.company_id,
        insz=insz,
        worker_type=worker_type,
        joint_committee=decl.joint_committee,
        starting_date=start,
        ending_date=None if decl.ending_date == OPEN_END else decl.ending_date,
    )


def _updated(decl: DimonaDeclaration, period: EmploymentPeriod) -> EmploymentPeriod:
    if decl.ending_date is None:
        end = period.ending_date
    else:
        end = None if decl.ending_date == OPEN_END else decl.ending_date
    return replace(period, starting_date=decl.starting_date or period.starting_date, ending_date=end)


def apply(
    decl: DimonaDeclaration, period: EmploymentPeriod | None, new_period_id: str | None
) -> EmploymentPeriod | None:
    """The period after ``decl`` was accepted.

    IN creates one named ``new_period_id``; OUT sets its EndingDate; UPDATE replaces the dates given
    (9999-12-31 reopens: no end); CANCEL marks it cancelled. Hours are not kept: EmploymentPeriod has no
    hour fields. An OUT/UPDATE/CANCEL without a period gives None; a daily registration leaves the period
    as it is. ValueError when an IN lacks ``new_period_id``, INSS, WorkerType or StartingDate.
    """
    if decl.action == "IN":
        if new_period_id is None:
            raise ValueError("an IN creates a period: give its new_period_id")
        return _created(decl, new_period_id)
    if period is None:
        return None
    if decl.action == "OUT":
        return period if decl.ending_date is None else replace(period, ending_date=decl.ending_date)
    if decl.action == "UPDATE":
        return _updated(decl, period)
    if decl.action == "CANCEL":
        return replace(period, is_cancelled=True)
    return period


# --- period ids (DECLARATIONS.md §1.4) --------------------------------------------------------------


def new_period_id(sequence: int) -> str:
    """Our DimonaPeriodId: the sequence on 10 digits, then the check ``sequence mod 97`` on 2 digits.

    The official sample 600027876089 satisfies the rule (6000278760 mod 97 = 89)."""
    if not 1 <= sequence <= 9_999_999_999:
        raise ValueError(f"a period sequence is 1..9999999999, got {sequence}")
    return f"{sequence:010d}{sequence % 97:02d}"


def canonical_period_id(text: str) -> str:
    """The 12-digit form of a DimonaPeriodId (xs:integer: a sender may drop leading zeros)."""
    return text.zfill(PERIOD_ID_DIGITS) if text.isascii() and text.isdigit() else text


def is_valid_period_id(text: str) -> bool:
    """True for a DimonaPeriodId of at most 12 digits, not 0, whose last two are the first ten mod 97."""
    if not text.isascii() or not text.isdigit() or len(text) > PERIOD_ID_DIGITS or int(text) == 0:
        return False
    digits = canonical_period_id(text)
    return int(digits[:10]) % 97 == int(digits[10:])
