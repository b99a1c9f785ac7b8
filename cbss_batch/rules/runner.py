"""Runs the DmfA rules over one declaration as its records stream past (shared by intake and validate)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from cbss_batch.codelists import load_codelist
from cbss_batch.records import Contribution, DeclarationTotals, DmfaHeader, Finding, NaturalPerson
from cbss_batch.rules.dmfa import (
    DeclarationChecks,
    FirstOccurrence,
    KnownCodes,
    check_codes,
    check_employment_relation,
    check_header,
    check_person,
)


@lru_cache(maxsize=64)
def known_codes(on: date) -> KnownCodes:
    """The worker, remuneration and working-time codes valid on a day, from our code lists in config/."""
    def bare(name: str, **where: str) -> frozenset[str]:
        return frozenset(code.lstrip("0") or "0" for code in load_codelist(name).codes(on, **where))

    return KnownCodes(worker=bare("worker_codes"), remuneration=bare("remuneration_codes", dmfa="yes"),
                      service=bare("working_time_codes", dmfa="yes"))


class DeclarationReview:
    """Findings and totals of one declaration: header rules at once, person rules per person, totals at the end."""

    def __init__(self, header: DmfaHeader, today: date, *, covered: frozenset[str] | None = None,
                 relation_class: str | None = None, first_occurrence: FirstOccurrence | None = None) -> None:
        """``covered``: INSZ with a Dimona period of this employer in the quarter (None: not checked)."""
        self.header = header
        self.findings: list[Finding] = list(check_header(header, today))
        self._covered = covered if relation_class else None
        self._codes = known_codes(header.quarter.start)
        self._relation_class = relation_class or "W"
        self._checks = DeclarationChecks(header, first_occurrence)
        self.contributions = self.students = self.unrelated = self.deductions = 0
        self.persons = self.worker_records = 0

    def add_person(self, person: NaturalPerson) -> None:
        """Check a person and add its amounts to the declaration's totals."""
        self.findings.extend(check_person(self.header, person))
        self.findings.extend(check_codes(self.header, person, self._codes))
        if self._covered is not None:
            self.findings.extend(check_employment_relation(self.header, person, self._covered, self._relation_class))
        self.findings.extend(self._checks.add_person(person))
        self.persons += 1
        for record in person.worker_records:
            self.worker_records += 1
            for occupation in record.occupations:
                for deduction in occupation.deductions:
                    self.deductions += deduction.amount or 0
            for contribution in record.contributions:
                if contribution.kind == "student":
                    self.students += contribution.amount
                else:
                    self.contributions += contribution.amount
            for deduction in record.deductions:
                self.deductions += deduction.amount or 0

    def add_unrelated(self, contribution: Contribution) -> None:
        """Add an employer-level contribution (``ContributionUnrelatedToNP``)."""
        self.unrelated += contribution.amount

    def totals(self) -> DeclarationTotals:
        return DeclarationTotals(contributions=self.contributions, student_contributions=self.students,
                                 unrelated=self.unrelated, deductions=self.deductions, persons=self.persons,
                                 worker_records=self.worker_records)

    def finish(self) -> DeclarationTotals:
        """Run the declaration-wide rules; returns the totals they used."""
        totals = self.totals()
        self.findings.extend(self._checks.finish(totals))
        return totals

    @property
    def is_accepted(self) -> bool:
        return not any(f.is_blocking for f in self.findings)
