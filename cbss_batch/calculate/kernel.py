"""Fast path of the DmfA contribution lines: integer cents, parameters resolved once per quarter and employer.

Mirrors ``contributions.contributions_for_line`` with ``structural_reduction=False`` (CALCULATIONS.md
§1.1-§1.4): the same contribution lines (``lines`` then ``student``), in the same order, with the same
codes, types, bases and amounts, but in integer cents. (Those lines do not depend on the flag, which
changes the deductions only.) The equivalence is pinned by ``tests/unit/test_kernel.py`` (the Odoo
vector of §1.7 and a hypothesis comparison with the reference); change both modules together.

Arithmetic: a rate is an integer numerator over ``RateSnapshot.denominator`` (a power of ten), so
``round_cent(basis × rate)`` is ``basis_cents × numerator / denominator`` rounded half-up (ties away
from zero, as ``ROUND_HALF_UP``) in integers; a contribution below 0 is 0 (§0), the 108 % basis is not
floored (as in the reference). Exact as long as the reference's products fit Decimal's 28 digits (any
real amount). Deductions, the structural reduction and per-line parameter versions
are not computed here: use the reference for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import NamedTuple

from cbss_batch.calculate.contributions import SPECIAL_CODES, Employer
from cbss_batch.calculate.parameters import Parameters, ParameterValue
from cbss_batch.records import Quarter, WorkerRecord

_COMPUTED = frozenset(SPECIAL_CODES)
_CODE, _AMOUNT, _KIND = itemgetter(0), itemgetter(3), itemgetter(5)  # of a Contribution
_new = tuple.__new__  # a NamedTuple from a tuple, without the keyword-handling __new__ (twice as fast)


class ComputedAmount(NamedTuple):
    """One contribution line in cents, as ``ComputedContribution`` (code, type, basis, amount) of the reference."""

    code: str
    contribution_type: str  # "" for student lines and declared lines without a type
    basis_cents: int | None  # None: a declared line without a calculation basis
    amount_cents: int


class Special(NamedTuple):
    """A special contribution of §1.4 that applies in the snapshot's quarter to the snapshot's employer."""

    code: str
    contribution_type: str
    rate: int  # numerator over RateSnapshot.denominator
    fund_only: bool = False  # 831: on the occupations of ``RateSnapshot.joint_committees`` only, absent without


@dataclass(frozen=True, slots=True, kw_only=True)
class RateSnapshot:
    """Everything the reference reads from the parameters for one quarter and one employer, resolved once."""

    quarter: Quarter
    employer: Employer
    denominator: int  # 10 ** n: every rate and the manual factor are integers over it
    basis_codes: frozenset[str]  # RemunCodes of the basis (§1.1)
    manual_codes: frozenset[str]  # worker codes on 108 % (§1.2)
    manual_factor: int
    ordinary_rate: int  # worker + employer rate (§1.3)
    specials: tuple[Special, ...]  # in the reference's order; the conditions on quarter and employer already applied
    joint_committees: frozenset[str]  # 831: main JointCommissionNbr (before any dot)
    student_codes: tuple[str, ...]  # worker codes of student lines; the first one names a student line elsewhere
    student_rate: int
    parameter_versions: tuple[str, ...]  # sorted: every version the reference can record for these lines

    @classmethod
    def build(cls, quarter: Quarter, employer: Employer, params: Parameters) -> RateSnapshot:
        """The snapshot for ``quarter`` (parameters in force on its first day) and ``employer``.

        ConfigError naming the parameter when one has no value then, as the reference raises on a
        non-student line (it would still compute a student line: the kernel refuses the quarter whole).
        """
        on = quarter.start
        used: list[ParameterValue] = []  # the versions the reference records on some line

        def get(name: str) -> ParameterValue:
            found = params.get(name, on)
            used.append(found)
            return found

        student_codes = get("student.worker_codes")
        basis_codes, manual_codes = get("basis_remuneration_codes"), get("manual_worker_codes")
        factor, worker = get("manual_worker_factor"), get("worker_rate")
        employer_rate = get(
            "employer_rate.cat1_private_profit" if employer.is_profit else "employer_rate.cat2_private_nonprofit"
        )
        rates: list[tuple[str, str, ParameterValue, bool]] = [("255", "0", get("special.255.rate"), False)]
        quarters_256 = params.get("special.256.quarters", on)
        if str(quarter.number) in quarters_256.codes:
            used.append(quarters_256)
            rates.append(("256", "0", get("special.256.rate"), False))
        is_small = employer.workers < get("special.809.size_threshold").integer
        if employer.is_commercial:
            name_809 = "special.809.commercial_lt20" if is_small else "special.809.commercial_ge20"
        else:
            name_809 = "special.809.noncommercial"
        rates.append(("809", "0" if is_small else "5", get(name_809), False))  # annex 3: type 5 from 20 workers
        if employer.is_subject_to_unemployment:
            rates.append(("810", "0", get("special.810.rate"), False))
        committees = get("special.831.joint_committees")
        rates.append(("831", "0", get("special.831.rate"), True))
        min_855 = params.get("special.855.min_workers", on)
        if employer.workers >= min_855.integer:
            used.append(min_855)
            rates.append(("855", "0", get("special.855.rate"), False))
        rates.append(("859", "0", get("special.859.rate"), False))
        student_rate = get("student.rate")

        ordinary = worker.decimal + employer_rate.decimal
        decimals = [ordinary, factor.decimal, student_rate.decimal, *(rate.decimal for _, _, rate, _ in rates)]
        denominator = 10 ** max(0, *(-int(d.as_tuple().exponent) for d in decimals))

        def numerator(value: Decimal) -> int:
            return int(value * denominator)  # exact: denominator covers every decimal place

        return cls(
            quarter=quarter,
            employer=employer,
            denominator=denominator,
            basis_codes=frozenset(c for c in basis_codes.codes if c == _code3(c)),  # others never match
            manual_codes=frozenset(manual_codes.codes),
            manual_factor=numerator(factor.decimal),
            ordinary_rate=numerator(ordinary),
            specials=tuple(Special(code, kind, numerator(rate.decimal), fund) for code, kind, rate, fund in rates),
            joint_committees=frozenset(committees.codes),
            student_codes=student_codes.codes,
            student_rate=numerator(student_rate.decimal),
            parameter_versions=tuple(sorted({value.version for value in used})),
        )


    def declared_as_computed(self, record: WorkerRecord) -> int | None:
        """The line's worker contributions as declared, in cents, when each line ``compute_line`` makes is
        declared with our amount and the line has no student contribution; None otherwise.

        ``rules.amounts.compare_line`` then finds nothing and counts exactly this (its common case),
        so the caller can skip building and comparing the ``ComputedAmount`` lines; on None it runs
        both. The same integer arithmetic as ``compute_line``, without the objects.
        """
        contributions = record.contributions
        if list(map(_KIND, contributions)).count("worker") != len(contributions):
            return None  # a student contribution: the full comparison
        amounts = dict(zip(map(_CODE, contributions), map(_AMOUNT, contributions), strict=True))  # last of a code
        worker_code = record.worker_code
        if worker_code in self.student_codes:
            return None
        den = self.denominator
        basis_codes = self.basis_codes
        committees = self.joint_committees
        gross = fund = 0
        has_fund = False
        for occ in record.occupations:
            wages = 0
            for remun in occ.remunerations:
                if remun[1] in basis_codes or _code3(remun[1]) in basis_codes:
                    wages += remun[2]
            gross += wages
            if occ.joint_committee.split(".")[0] in committees:
                fund += wages
                has_fund = True
        basis = gross
        if worker_code in self.manual_codes:
            basis = _half_up(gross * self.manual_factor, den)
            fund = _half_up(fund * self.manual_factor, den)
        declared = amounts.get
        twice = 2 * den
        amount = (2 * basis * self.ordinary_rate + den) // twice
        if declared(worker_code) != (amount if amount > 0 else 0):
            return None
        for code, _type, rate, fund_only in self.specials:
            if not fund_only:
                amount = (2 * basis * rate + den) // twice
            elif has_fund:
                amount = (2 * fund * rate + den) // twice
            else:
                continue
            if declared(code) != (amount if amount > 0 else 0):
                return None
        # The lines taken as declared (never below 0) must meet the declared amount of their code.
        if len(amounts) == len(contributions):  # one contribution a code: only a negative amount differs
            for code in amounts.keys() - _COMPUTED:
                if amounts[code] < 0 and code != worker_code:
                    return None
        else:
            for contribution in contributions:
                code = contribution[0]
                if code != worker_code and code not in _COMPUTED:
                    amount = contribution[3]
                    if declared(code) != (amount if amount > 0 else 0):
                        return None
        return sum(amounts.values())


def compute_line(record: WorkerRecord, snapshot: RateSnapshot) -> tuple[ComputedAmount, ...]:
    """The reference's ``lines`` then ``student`` of one worker line, in cents (structural reduction off)."""
    den = snapshot.denominator
    basis_codes = snapshot.basis_codes
    worker_code = record.worker_code
    is_student = worker_code in snapshot.student_codes
    gross = 0  # cents of the basis codes, over all occupations
    fund = 0  # idem, on the occupations of the 831 joint committees only
    has_fund = False
    for occ in record.occupations:
        wages = 0
        for remun in occ.remunerations:
            if remun.code in basis_codes or _code3(remun.code) in basis_codes:
                wages += remun.amount
        gross += wages
        if occ.joint_committee.split(".")[0] in snapshot.joint_committees:
            fund += wages
            has_fund = True
    lines: list[ComputedAmount] = []
    if not is_student:
        own_type = "0"  # annex 3: 0 on 100 %, 1 on 108 %
        basis = gross
        if worker_code in snapshot.manual_codes:
            own_type = "1"
            basis = _half_up(gross * snapshot.manual_factor, den)
            fund = _half_up(fund * snapshot.manual_factor, den)
        lines.append(_amount(worker_code, own_type, basis, snapshot.ordinary_rate, den))
        for special, special_type, rate, fund_only in snapshot.specials:
            if not fund_only:
                lines.append(_amount(special, special_type, basis, rate, den))
            elif has_fund:
                lines.append(_amount(special, special_type, fund, rate, den))
    students: list[ComputedAmount] = []
    for code, contribution_type, declared_basis, declared, _line, kind in record.contributions:
        if kind == "worker":
            if is_student or (code != worker_code and code not in _COMPUTED):
                lines.append(_new(ComputedAmount, (code, contribution_type or "", declared_basis, max(declared, 0))))
        elif kind == "student":
            basis = gross if declared_basis is None else declared_basis
            student_code = worker_code if is_student else snapshot.student_codes[0]
            students.append(_amount(student_code, "", basis, snapshot.student_rate, den))
    return (*lines, *students)


def _amount(code: str, contribution_type: str, basis_cents: int, rate: int, den: int) -> ComputedAmount:
    """percent_line in cents: basis x rate / den rounded half-up to the cent, never below 0.

    Below 0 only when basis x rate is, where half-up and floor division both give 0 or less: floor
    division is enough.
    """
    amount = (2 * basis_cents * rate + den) // (2 * den)
    return _new(ComputedAmount, (code, contribution_type, basis_cents, amount if amount > 0 else 0))


def _half_up(numerator: int, den: int) -> int:
    """numerator / den rounded to an integer, ties away from zero (Decimal ROUND_HALF_UP)."""
    if numerator >= 0:
        return (2 * numerator + den) // (2 * den)
    return -((-2 * numerator + den) // (2 * den))


def _code3(code: str) -> str:
    """A RemunCode as three digits ("1" and "001" are the same code), as ``contributions._code3``."""
    return code.strip().zfill(3)
