"""Frozen records shared by the stages: findings, quarters and the DmfA declaration tree.

Money is held in integer euro cents exactly as declared (the XML unit); days and hours in
hundredths. Text becomes numbers and dates in ``parse`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

BLOCKING = "B"
ANOMALY_CLASSES = ("B", "P", "NP", "D", "W", "I")


class Fact(NamedTuple):
    """An accepted fact for the institutions: what kind, how it changes what they know, from which declaration."""

    kind: str  # dmfa | dimona | risk
    mutation: str  # new | changed | cancelled
    ticket: str  # the declaration (or DmfA modification) ticket


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One anomaly: official id ``<zone>-<code>``, its class, and where it was found."""

    code: str  # "00024-004" or, for file-level problems, "ACRF-102"
    anomaly_class: str = BLOCKING
    message: str = ""
    tag: str | None = None  # the element concerned (NOTI TagName)
    value: str | None = None  # the offending value (NOTI Value); never a full INSZ in logs
    line: int | None = None
    column: int | None = None
    path: tuple[tuple[str, str], ...] = ()  # identifying keys: (("NOSSRegistrationNbr", "…"), ("INSS", "…"))

    @property
    def is_blocking(self) -> bool:
        return self.anomaly_class == BLOCKING

    @property
    def generic_code(self) -> str:
        """The three-digit annex-30 code part of the id."""
        return self.code.rsplit("-", 1)[-1]


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    """A calendar quarter, written ``YYYYQ`` in declarations."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """Quarter from ``YYYYQ``; ValueError when it is not one."""
        if len(text) != 5 or not text.isdigit() or text[4] not in "1234":
            raise ValueError(f"quarter must be YYYYQ with Q in 1..4, got {text!r}")
        return cls(int(text[:4]), int(text[4]))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        """The quarter a day falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        nxt = self.next()
        return date.fromordinal(nxt.start.toordinal() - 1)

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def __str__(self) -> str:
        return f"{self.year}{self.number}"


# The declaration tree: immutable named tuples — millions of them pass through a big file, and they
# are built positionally by ``parse`` at a fraction of the cost of frozen dataclasses.


class Service(NamedTuple):
    sequence: int
    code: str
    days: int  # hundredths of a day
    hours: int | None  # hundredths of an hour
    line: int


class Remuneration(NamedTuple):
    sequence: int
    code: str
    amount: int  # cents
    bonus_frequency: int | None
    percentage_paid: int | None
    line: int


class Deduction(NamedTuple):
    code: str
    basis: int | None  # cents
    amount: int | None  # cents
    line: int


class Occupation(NamedTuple):
    sequence: int
    starting_date: date | None
    ending_date: date | None
    joint_committee: str
    working_days_system: int  # days per week × 100
    contract_type: int
    ref_mean_working_hours: int | None  # hours × 100
    mean_working_hours: int | None  # hours × 100
    local_unit_id: str | None
    line: int
    services: tuple[Service, ...] = ()
    remunerations: tuple[Remuneration, ...] = ()
    deductions: tuple[Deduction, ...] = ()


class Contribution(NamedTuple):
    worker_code: str  # ContributionWorkerCode, or "840"/"841" for students, unrelated code for employer-level
    contribution_type: str | None
    basis: int | None  # cents
    amount: int  # cents
    line: int
    kind: str = "worker"  # worker | student | unrelated


class WorkerRecord(NamedTuple):
    employer_class: str
    worker_code: str
    quarter_start: date
    quarter_end: date
    border: int
    activity_with_risk: int | None
    local_unit_id: str | None
    line: int
    occupations: tuple[Occupation, ...] = ()
    contributions: tuple[Contribution, ...] = ()
    deductions: tuple[Deduction, ...] = ()


class NaturalPerson(NamedTuple):
    sequence: int
    insz: str
    name: str | None
    first_name: str | None
    line: int
    worker_records: tuple[WorkerRecord, ...] = ()


class PersonSummary(NamedTuple):
    """What the declaration-wide rules read of a natural person, taken without its records (``validate``).

    Only for a schema-valid person without ``ComplementaryIndemnity`` (whose ContributionAmount the
    records leave out): the amounts are then the sums the records would give.
    """

    sequence: int
    insz: str
    line: int
    worker_codes: tuple[str, ...]  # one per WorkerRecord
    remuneration_codes: tuple[str, ...]
    service_codes: tuple[str, ...]
    contributions: int  # cents, the WorkerContribution amounts
    student_contributions: int  # cents
    deductions: int  # cents, WorkerDeduction and OccupationDeduction amounts


@dataclass(frozen=True, slots=True, kw_only=True)
class DmfaHeader:
    """The employer-level zones of one DmfA declaration (one ``Form``)."""

    form_index: int  # 1-based position of the Form in the file
    identification: str
    created_on: date
    created_at: str  # FormCreationHour as written
    sender_reference: str | None
    quarter: Quarter
    noss_number: str  # NOSSRegistrationNbr, 9 digits as text ("0" when absent)
    trusteeship: int
    company_id: str  # KBO/BCE, 10 digits as text ("0" = unknown)
    net_owed_amount: int  # cents, as declared
    line: int  # line of the Form element
    employer_line: int  # line of EmployerDeclaration


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclarationTotals:
    """Sums over a whole declaration, accumulated while streaming (cents)."""

    contributions: int = 0
    student_contributions: int = 0
    unrelated: int = 0
    deductions: int = 0
    persons: int = 0
    worker_records: int = 0

    @property
    def net_owed(self) -> int:
        """CALCULATIONS.md §1.6: contributions + students + unrelated − deductions, floored at 0."""
        return max(0, self.contributions + self.student_contributions + self.unrelated - self.deductions)


# --- Dimona ---------------------------------------------------------------------------------------

DIMONA_ACTIONS = ("IN", "OUT", "UPDATE", "CANCEL", "DAILY")  # DAILY: daily registration in an EXT period


@dataclass(frozen=True, slots=True, kw_only=True)
class DimonaDeclaration:
    """One Dimona ``Form``: an IN, OUT, UPDATE or CANCEL of an employment period, as declared."""

    form_index: int  # 1-based position of the Form in the file
    identification: str  # "DIMONA"
    created_on: date
    created_at: str
    sender_reference: str | None
    action: str  # IN | OUT | UPDATE | CANCEL | DAILY, "" when the form declares nothing
    period_id: str | None  # DimonaPeriodId (OUT, UPDATE, CANCEL, DAILY)
    noss_number: str | None  # EmployerId/NOSSRegistrationNbr
    company_id: str | None  # EmployerId/CompanyID
    insz: str | None  # NaturalPerson/INSS (IN) or INSS (OUT/UPDATE/CANCEL)
    worker_type: str | None  # DimonaFeatures/WorkerType (IN)
    joint_committee: str | None  # DimonaFeatures/JointCommissionNbr (IN)
    starting_date: date | None
    starting_hour: str | None  # HHMM
    ending_date: date | None
    ending_hour: str | None
    planned_hours: int | None  # PlannedHoursNbr
    planned_days: int | None  # PlannedDaysNbr
    line: int  # line of the Form element
    action_line: int  # line of the DimonaIn/Out/Update/Cancel element


@dataclass(frozen=True, slots=True, kw_only=True)
class EmploymentPeriod:
    """A period of the personnel file as it stands before the declaration being checked."""

    period_id: str
    noss_number: str | None
    company_id: str | None
    insz: str
    worker_type: str
    joint_committee: str | None
    starting_date: date
    ending_date: date | None
    is_cancelled: bool = False


# --- Social-risk declarations (DRS) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskDeclaration:
    """One DRS ``Form`` (WECH, ZIMA, AOAT, TWCT, VBLV scenarios) with the zones the rules and benefits use.

    Money in cents, hours in hundredths, as declared. ``details`` keeps every other leaf zone of the
    form as ``(path, value)`` pairs (path = element names joined by ``/`` from the Form), in document
    order, so no declared fact is lost.
    """

    form_index: int
    scenario: str  # the form id / root: WECH001, ZIMA001, AOAT001, TWCT001, VBLV001, …
    identification: str  # Form/Identification as declared
    created_on: date
    created_at: str
    sender_reference: str | None
    risk_codes: tuple[str, ...]  # RiskIdentification/IdentificationOfRisk (several in WECH005)
    noss_number: str | None
    company_id: str | None
    insz: str | None
    worker_code: str | None
    joint_committee: str | None
    risk_starting_date: date | None  # RiskDetail/RiskStartingDate (ZIMA001)
    last_working_day: date | None  # RiskDetailOccupation/LastWorkingDayDate (ZIMA001)
    work_recovery_date: date | None  # WorkRecovery/WorkRecoveryDate (ZIMA001/ZIMA006/AOAT003)
    accident_date: date | None  # Accident/AccidentDate (AOAT001)
    occupation_starting_date: date | None
    occupation_ending_date: date | None  # end of the employment (WECH001: end of contract)
    reference_start: date | None  # ReferencePeriod/RefStartingDate or CalculBaseRefPeriod start
    reference_end: date | None
    remuneration_time_unit: int | None  # CalculationBaseAllowance/RemunerationTimeUnit (1 hour … 6 year)
    remuneration_basis_amount: int | None  # CalculationBaseAllowance/RemunerationBasisAmount, cents
    remuneration_cycle: int | None  # CalculationBaseAllowance/Cycle
    lost_hours: int | None  # LostWorkingHours/LooseWorkHoursNumber, hundredths (AOAT)
    lost_wage: int | None  # LostWorkingHours/SalaryLossOfLooseWorkHours, cents (AOAT)
    line: int
    details: tuple[tuple[str, str], ...] = ()


# --- DmfA modifications ---------------------------------------------------------------------------

UPDATE_ACTIONS = {0: "removed", 1: "changed", 3: "added", 9: "unchanged"}  # zone 00618 UpdateAction


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerLineUpdate:
    """One ``WorkerRecordUpdate``: the line it targets (``LastSituationWR``) and the line as it becomes."""

    target: tuple[str, str] | None  # (EmployerClass, WorkerCode) of the current line, None when absent
    action: int  # UpdateAction: 0 removed, 1 changed, 3 added, 9 unchanged
    record: WorkerRecord  # the line as declared in WorkerRecordUpdateAction
    line: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonUpdate:
    sequence: int
    insz: str
    line: int
    updates: tuple[WorkerLineUpdate, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DmfaModification:
    """One DmfA modification form (``EmployerDeclarationUpdate``)."""

    form_index: int
    identification: str
    created_on: date
    created_at: str
    sender_reference: str | None
    quarter: Quarter
    noss_number: str
    company_id: str
    sender_pid: str | None  # EmployerDeclarationPID as sent
    justification: str | None
    persons: tuple[PersonUpdate, ...]
    line: int
