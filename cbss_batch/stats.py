"""Quarterly figures from the staging database: employment, wages, contributions due, social risks.

Only accepted DmfA declarations count (``declarations.quarter``), and of them only the current worker
lines (``version_to`` empty: lines a modification changed or removed are history). Money is summed in
integer cents and given in EUR as exact Decimals; FTE are summed as exact fractions and rounded once,
per row, half-up to ``FTE_DIGITS`` decimals. The tables (``cbss-batch stats`` writes one file each):

- ``employment``: quarter, joint_committee, worker_code → persons (distinct INSZ), worker_lines, fte.
  An occupation is MeanWorkingHours / RefMeanWorkingHours of a job (0 without a reference); a worker
  line is the sum of its occupations, capped at 1. A line with occupations under several joint
  committees counts under each, its FTE split in proportion to their shares.
- ``wages``: quarter, joint_committee, worker_code → wages_eur (every remuneration of the occupations).
- ``contributions``: quarter, worker_code (of the line), kind (worker | student) → contributions as
  declared, our corrections (``contribution_corrections``: corrected minus declared, where our
  calculation replaced or added a contribution) and their sum, the contributions due. Employer-level
  (unrelated) contributions and deductions are not in it.
- ``risks``: quarter of the risk day, scenario → accepted social-risk declarations, benefits computed
  for them and the sum of their daily amounts (EUR). The quarter is empty for a declaration without a date.
- ``quarters``: one row per quarter with the totals of the other tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import groupby
from operator import attrgetter
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, Connection, Join, and_, func, select

from cbss_batch.records import Quarter
from cbss_batch.store.tables import (
    benefit_calculations,
    contribution_corrections,
    contributions,
    declarations,
    natural_persons,
    occupations,
    remunerations,
    risk_declarations,
    worker_records,
)

FTE_DIGITS = 4
CENT = Decimal("0.01")
CONTRIBUTION_KINDS = ("worker", "student")  # "unrelated" ones are the employer's, outside any worker line

ColumnKind = Literal["text", "count", "eur", "fte"]
Cell = str | int | Decimal


@dataclass(frozen=True, slots=True)
class StatsTable:
    """One output table: its file name without suffix, typed columns and rows in column order."""

    name: str
    columns: tuple[tuple[str, ColumnKind], ...]
    rows: tuple[tuple[Cell, ...], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def as_dicts(self) -> list[dict[str, Cell]]:
        """The rows as column → value mappings."""
        return [dict(zip(self.column_names, row, strict=True)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class QuarterlyStats:
    """Every table of one ``stats`` run, and the totals over its quarters."""

    quarters: StatsTable
    employment: StatsTable
    wages: StatsTable
    contributions: StatsTable
    risks: StatsTable
    totals: dict[str, Cell]  # persons counts a person declared in several quarters once

    @property
    def tables(self) -> tuple[StatsTable, ...]:
        return self.quarters, self.employment, self.wages, self.contributions, self.risks

    @property
    def is_empty(self) -> bool:
        return not self.quarters.rows


def euros(cents: int) -> Decimal:
    """Cents as exact EUR (two decimals)."""
    return Decimal(int(cents)).scaleb(-2)


def occupation_fte(mean_working_hours: int | None, ref_mean_working_hours: int | None) -> Fraction:
    """An occupation's share of a full-time job: MeanWorkingHours / RefMeanWorkingHours (both in hundredths
    of hours a week), 0 when there is no reference (a person without fixed hours)."""
    if not ref_mean_working_hours or ref_mean_working_hours <= 0 or not mean_working_hours:
        return Fraction(0)
    return Fraction(mean_working_hours, ref_mean_working_hours)


def rounded_fte(value: Fraction) -> Decimal:
    """A non-negative FTE rounded half-up to ``FTE_DIGITS`` decimals."""
    scaled = value * 10**FTE_DIGITS
    units = (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)
    return Decimal(units).scaleb(-FTE_DIGITS)


class OccupationRow(NamedTuple):
    """One occupation of a current worker line (or the line alone when it has no occupation)."""

    quarter: str
    line_id: int
    insz: str
    worker_code: str
    joint_committee: str | None
    mean_working_hours: int | None
    ref_mean_working_hours: int | None


@dataclass(slots=True)
class Tally:
    """Persons, worker lines and exact FTE of one group."""

    persons: set[str] = field(default_factory=set)
    lines: int = 0
    fte: Fraction = Fraction(0)


@dataclass(slots=True)
class Employment:
    """Tallies by (quarter, joint committee, worker code), by quarter, and the persons of all quarters."""

    groups: dict[tuple[str, str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    quarters: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    persons: set[str] = field(default_factory=set)


def tally_employment(rows: Iterable[OccupationRow]) -> Employment:
    """Employment from occupation rows ordered by worker line.

    A worker line's FTE is the sum of its occupations' shares, capped at 1. A line with occupations
    under several joint committees counts (person and line) under each of them, and its FTE is split
    between them in proportion to their shares, so the groups' FTE adds up to the quarter's.
    """
    result = Employment()
    for _, occupation_rows in groupby(rows, key=attrgetter("line_id")):
        line = list(occupation_rows)
        first = line[0]
        shares: dict[str, Fraction] = defaultdict(Fraction)
        for row in line:
            shares[row.joint_committee or ""] += occupation_fte(row.mean_working_hours, row.ref_mean_working_hours)
        total = sum(shares.values(), Fraction(0))
        fte = min(total, Fraction(1))
        for committee, share in shares.items():
            group = result.groups[(first.quarter, committee, first.worker_code)]
            group.persons.add(first.insz)
            group.lines += 1
            group.fte += share * fte / total if total else Fraction(0)
        quarter = result.quarters[first.quarter]
        quarter.persons.add(first.insz)
        quarter.lines += 1
        quarter.fte += fte
        result.persons.add(first.insz)
    return result


class RiskRow(NamedTuple):
    """An accepted social-risk declaration with one of its computed benefits (None: it has none)."""

    risk_id: int
    scenario: str
    risk_day: date | None
    daily_amount: str | None


@dataclass(slots=True)
class RiskTally:
    declarations: set[int] = field(default_factory=set)
    benefits: int = 0
    daily_amounts: Decimal = Decimal("0.00")


def tally_risks(rows: Iterable[RiskRow], quarters: Sequence[str] = ()) -> dict[tuple[str, str], RiskTally]:
    """Declarations, benefits and the sum of their daily amounts (EUR) by (quarter of the risk day, scenario);
    the quarter is empty when the declaration has no date to place it."""
    result: dict[tuple[str, str], RiskTally] = defaultdict(RiskTally)
    for row in rows:
        quarter = str(Quarter.containing(row.risk_day)) if row.risk_day else ""
        if quarters and quarter not in quarters:
            continue
        tally = result[(quarter, row.scenario)]
        tally.declarations.add(row.risk_id)
        if row.daily_amount is not None:
            tally.benefits += 1
            tally.daily_amounts += Decimal(row.daily_amount)
    return result


def _by_quarter(item: tuple[tuple[str, ...], Any]) -> tuple[Any, ...]:
    return (item[0][0] == "", *item[0])  # a row without a quarter comes last


def collect_stats(conn: Connection, quarters: Sequence[str] = ()) -> QuarterlyStats:
    """Every table, for the given DmfA quarters (``YYYYQ``), or for all quarters when none is given."""
    employment = tally_employment(OccupationRow(*row) for row in conn.execute(_occupation_query(quarters)))
    wages = _sum_by_key(conn.execute(_wages_query(quarters)))
    declared = _sum_by_key(conn.execute(_contributions_query(quarters)))
    corrected = _sum_by_key(conn.execute(_corrections_query(quarters)))
    risks = tally_risks(_risk_rows(conn), quarters)

    contribution_rows = []
    due: dict[str, int] = defaultdict(int)
    for quarter, code, kind in sorted(set(declared) | {(q, code, "worker") for q, code in corrected}):
        as_declared = declared.get((quarter, code, kind), 0)
        correction = corrected.get((quarter, code), 0) if kind == "worker" else 0  # student ones are not stored
        due[quarter] += as_declared + correction
        contribution_rows.append((quarter, code, kind, euros(as_declared), euros(correction),
                                  euros(as_declared + correction)))
    wage_totals: dict[str, int] = defaultdict(int)
    for (quarter, _, _), cents in wages.items():
        wage_totals[quarter] += cents
    risk_totals: dict[str, RiskTally] = defaultdict(RiskTally)
    for (quarter, _), tally in risks.items():
        risk_totals[quarter].declarations |= tally.declarations
        risk_totals[quarter].benefits += tally.benefits
        risk_totals[quarter].daily_amounts += tally.daily_amounts

    summary = []
    for q in sorted(set(employment.quarters) | set(wage_totals) | set(due) | set(risk_totals),
                    key=lambda q: (q == "", q)):
        people, risk = employment.quarters.get(q, Tally()), risk_totals.get(q, RiskTally())
        summary.append((q, len(people.persons), people.lines, rounded_fte(people.fte), euros(wage_totals.get(q, 0)),
                        euros(due.get(q, 0)), len(risk.declarations), risk.benefits, risk.daily_amounts.quantize(CENT)))
    totals: dict[str, Cell] = {
        "persons": len(employment.persons),
        "worker_lines": sum(t.lines for t in employment.quarters.values()),
        "fte": rounded_fte(sum((t.fte for t in employment.quarters.values()), Fraction(0))),
        "wages_eur": euros(sum(wage_totals.values())),
        "contributions_due_eur": euros(sum(due.values())),
        "risk_declarations": sum(len(t.declarations) for t in risk_totals.values()),
        "benefits_computed": sum(t.benefits for t in risk_totals.values()),
        "benefit_daily_amounts_eur": sum((t.daily_amounts for t in risk_totals.values()), Decimal(0)).quantize(CENT),
    }
    return QuarterlyStats(
        quarters=StatsTable("quarters", (
            ("quarter", "text"), ("persons", "count"), ("worker_lines", "count"), ("fte", "fte"),
            ("wages_eur", "eur"), ("contributions_due_eur", "eur"), ("risk_declarations", "count"),
            ("benefits_computed", "count"), ("benefit_daily_amounts_eur", "eur")), tuple(summary)),
        employment=StatsTable("employment", (
            ("quarter", "text"), ("joint_committee", "text"), ("worker_code", "text"), ("persons", "count"),
            ("worker_lines", "count"), ("fte", "fte")), tuple(
            (*key, len(t.persons), t.lines, rounded_fte(t.fte))
            for key, t in sorted(employment.groups.items(), key=_by_quarter))),
        wages=StatsTable("wages", (
            ("quarter", "text"), ("joint_committee", "text"), ("worker_code", "text"), ("wages_eur", "eur")),
            tuple((*key, euros(cents)) for key, cents in sorted(wages.items(), key=_by_quarter))),
        contributions=StatsTable("contributions", (
            ("quarter", "text"), ("worker_code", "text"), ("kind", "text"), ("contributions_declared_eur", "eur"),
            ("corrections_eur", "eur"), ("contributions_due_eur", "eur")), tuple(contribution_rows)),
        risks=StatsTable("risks", (
            ("quarter", "text"), ("scenario", "text"), ("risk_declarations", "count"), ("benefits_computed", "count"),
            ("benefit_daily_amounts_eur", "eur")), tuple(
            (*key, len(t.declarations), t.benefits, t.daily_amounts.quantize(CENT))
            for key, t in sorted(risks.items(), key=_by_quarter))),
        totals=totals,
    )


def _sum_by_key(rows: Iterable[Any]) -> dict[tuple[str, ...], int]:
    """(key columns…, sum) rows as key → int; a missing joint committee becomes ""."""
    return {tuple("" if part is None else str(part) for part in row[:-1]): int(row[-1] or 0) for row in rows}


def _current_lines() -> Join:
    return (worker_records.join(natural_persons, natural_persons.c.id == worker_records.c.person_id)
            .join(declarations, declarations.c.id == worker_records.c.declaration_id))


def _current(quarters: Sequence[str]) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [declarations.c.accepted.is_(True), worker_records.c.version_to.is_(None)]
    if quarters:
        where.append(declarations.c.quarter.in_(list(quarters)))
    return where


def _occupation_query(quarters: Sequence[str]) -> Any:
    return (select(declarations.c.quarter, worker_records.c.id, natural_persons.c.insz, worker_records.c.worker_code,
                   occupations.c.joint_committee, occupations.c.mean_working_hours,
                   occupations.c.ref_mean_working_hours)
            .select_from(_current_lines().outerjoin(occupations, occupations.c.worker_record_id == worker_records.c.id))
            .where(*_current(quarters)).order_by(worker_records.c.id, occupations.c.id)
            .execution_options(yield_per=10_000))


def _wages_query(quarters: Sequence[str]) -> Any:
    keys = (declarations.c.quarter, occupations.c.joint_committee, worker_records.c.worker_code)
    return (select(*keys, func.sum(remunerations.c.amount))
            .select_from(_current_lines()
                         .join(occupations, occupations.c.worker_record_id == worker_records.c.id)
                         .join(remunerations, remunerations.c.occupation_id == occupations.c.id))
            .where(*_current(quarters)).group_by(*keys))


def _contributions_query(quarters: Sequence[str]) -> Any:
    keys = (declarations.c.quarter, worker_records.c.worker_code, contributions.c.kind)
    return (select(*keys, func.sum(contributions.c.amount))
            .select_from(_current_lines()
                         .join(contributions, contributions.c.worker_record_id == worker_records.c.id))
            .where(*_current(quarters), contributions.c.kind.in_(CONTRIBUTION_KINDS)).group_by(*keys))


def _corrections_query(quarters: Sequence[str]) -> Any:
    """Corrected minus declared amounts (cents) by quarter and worker code, on the lines they were made for.

    Corrections are computed when a declaration is loaded, so they belong to its original lines
    (version 1) and are matched to them by person, employer class and worker code; a line a
    modification replaced carries its own declared amounts instead.
    """
    cc = contribution_corrections
    keys = (declarations.c.quarter, worker_records.c.worker_code)
    return (select(*keys, func.sum(cc.c.corrected_amount - func.coalesce(cc.c.declared_amount, 0)))
            .select_from(_current_lines().join(cc, and_(
                cc.c.declaration_id == worker_records.c.declaration_id, cc.c.insz == natural_persons.c.insz,
                cc.c.employer_class.is_not_distinct_from(worker_records.c.employer_class),
                cc.c.worker_code == worker_records.c.worker_code)))
            .where(*_current(quarters), worker_records.c.version_from == 1).group_by(*keys))


def _risk_rows(conn: Connection) -> Iterable[RiskRow]:
    r = risk_declarations.c
    query = (select(r.id, r.scenario, r.risk_starting_date, r.accident_date, r.reference_start, r.last_working_day,
                    r.occupation_ending_date, r.work_recovery_date, benefit_calculations.c.daily_amount)
             .select_from(risk_declarations.outerjoin(
                 benefit_calculations, benefit_calculations.c.risk_declaration_id == r.id))
             .where(r.accepted.is_(True)).order_by(r.id, benefit_calculations.c.id))
    for row in conn.execute(query):
        # The risk day as risks._risk_day takes it: the first of these dates the declaration has.
        day = next((d for d in row[2:8] if d is not None), None)
        yield RiskRow(int(row[0]), str(row[1]), day, row[8])
