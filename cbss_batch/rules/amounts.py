"""Declared versus computed contributions of a DmfA worker line (CALCULATIONS.md §1, issue "exact to the cent").

Our calculation replaces a declared amount that differs (00085-044, class P; 00077-044 for a student
contribution) and adds a contribution that is due but not declared (90001-001, class P: the
WorkerContribution "not present"). The declaration stays accepted: class P anomalies only tell the
sender that the figures used from now on are ours, and a DMNO carries the declared and corrected
amounts. Contributions we do not compute (856, 862, …) are taken as declared.
"""

from __future__ import annotations

from dataclasses import dataclass

from cbss_batch.calculate.kernel import ComputedAmount
from cbss_batch.dmno import ContributionCorrection
from cbss_batch.records import DmfaHeader, Finding, NaturalPerson, WorkerRecord
from cbss_batch.rules.dmfa import finding_path

PERCENTAGE = "P"
STUDENT_CODES = frozenset({"840", "841"})


@dataclass(frozen=True, slots=True)
class LineReview:
    """What the comparison of one worker line found: anomalies, corrections and the amounts now owed."""

    findings: tuple[Finding, ...]
    corrections: tuple[ContributionCorrection, ...]
    contributions_cents: int  # worker-line contributions as accepted (ours where we compute them)
    student_cents: int


def _euros(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def compare_line(header: DmfaHeader, person: NaturalPerson, record: WorkerRecord,
                 computed: tuple[ComputedAmount, ...]) -> LineReview:
    """Compare the declared contributions of ``record`` with ``computed`` (our calculation of the line)."""
    amounts: dict[str, int] = {}
    student = None
    for contribution in record.contributions:
        if contribution.kind == "worker":
            amounts[contribution.worker_code] = contribution.amount
        else:
            student = contribution
    if student is None:
        for line in computed:
            if amounts.get(line.code) != line.amount_cents:
                break
        else:  # the common case, kept cheap: every computed line is declared with our amount
            return LineReview((), (), sum(amounts.values()), 0)
    declared = {c.worker_code: c for c in record.contributions if c.kind == "worker"}
    path = finding_path(header, person, record)
    findings: list[Finding] = []
    corrections: list[ContributionCorrection] = []
    total = student_total = 0
    computed_codes = set()
    for line in computed:
        if line.code in STUDENT_CODES and line.contribution_type == "":
            student_total += line.amount_cents
            if student is not None and student.amount != line.amount_cents:
                findings.append(Finding(
                    code="00077-044", anomaly_class=PERCENTAGE, tag="StudentContributionAmount",
                    value=str(student.amount), line=student.line, path=path,
                    message=f"student contribution declared {_euros(student.amount)} EUR, computed "
                            f"{_euros(line.amount_cents)} EUR; the computed amount is used"))
            continue
        computed_codes.add(line.code)
        total += line.amount_cents
        mine = declared.get(line.code)
        if mine is None:
            findings.append(Finding(
                code="90001-001", anomaly_class=PERCENTAGE, tag="WorkerContribution", value=line.code,
                line=record.line, path=path + (("ContributionWorkerCode", line.code),),
                message=f"contribution {line.code} of {_euros(line.amount_cents)} EUR is due but not declared; "
                        "it is added"))
            corrections.append(ContributionCorrection(line.code, line.contribution_type, None, None,
                                                      line.basis_cents, line.amount_cents))
        elif mine.amount != line.amount_cents:
            findings.append(Finding(
                code="00085-044", anomaly_class=PERCENTAGE, tag="ContributionAmount", value=str(mine.amount),
                line=mine.line, path=path + (("ContributionWorkerCode", line.code),),
                message=f"contribution {line.code} declared {_euros(mine.amount)} EUR, computed "
                        f"{_euros(line.amount_cents)} EUR; the computed amount is used"))
            corrections.append(ContributionCorrection(line.code, mine.contribution_type or line.contribution_type,
                                                      mine.basis, mine.amount, line.basis_cents, line.amount_cents))
    total += sum(c.amount for code, c in declared.items() if code not in computed_codes)
    if not student_total and student is not None:
        student_total = student.amount
    return LineReview(tuple(findings), tuple(corrections), total, student_total)


def compare_structural_reduction(header: DmfaHeader, person: NaturalPerson, record: WorkerRecord,
                                 computed_cents: int) -> tuple[list[Finding], int]:
    """00089-044 (class NP, glossary 00089): the declared structural reduction (deduction 3000) of a worker
    line differs from ours (CALCULATIONS.md §2). Returns the findings and declared minus ours (cents),
    the change to the line's deductions when ours is used."""
    declared = [d for d in record.deductions if d.code == "3000"]
    declared += [d for o in record.occupations for d in o.deductions if d.code == "3000"]
    declared_cents = sum(d.amount or 0 for d in declared)
    if declared_cents == computed_cents:
        return [], 0
    line = declared[0].line if declared else record.line
    return [Finding(code="00089-044", anomaly_class="NP", tag="DeductionAmount", value=str(declared_cents),
                    line=line, path=finding_path(header, person, record) + (("DeductionCode", "3000"),),
                    message=f"structural reduction declared {_euros(declared_cents)} EUR, computed "
                            f"{_euros(computed_cents)} EUR; the computed reduction is used")], \
        declared_cents - computed_cents
