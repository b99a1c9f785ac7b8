"""Runs the DmfA rules over one declaration as its records stream past (shared by intake and validate)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from operator import itemgetter

from cbss_batch.codelists import load_codelist
from cbss_batch.ids import insz_number
from cbss_batch.records import Contribution, DeclarationTotals, DmfaHeader, Finding, NaturalPerson, PersonSummary
from cbss_batch.rules.dmfa import (
    PERSON_RULES,
    DeclarationChecks,
    FirstOccurrence,
    KnownCodes,
    check_codes,
    check_employment_relation,
    check_header,
    check_insz,
    check_person,
    insz_key,
)

_STUDENT = "student"
_KIND = itemgetter(5)  # Contribution.kind
_AMOUNT = itemgetter(3)  # Contribution.amount
_CODE = itemgetter(1)  # Remuneration.code, Service.code


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
        self._only_insz_rule = PERSON_RULES == (check_insz,)  # the quick INSZ test stands for check_person
        # Codes as written that check_codes accepts (KnownCodes holds them without leading zeros).
        self._known_worker: set[str] = set()
        self._known_remuneration: set[str] = set()
        self._known_service: set[str] = set()
        self.contributions = self.students = self.unrelated = self.deductions = 0
        self.persons = self.worker_records = 0

    def add_person(self, person: NaturalPerson) -> None:
        """Check a person and add its amounts to the declaration's totals.

        Same findings, in the same order, and the same totals as running every rule in full
        (``check_person``, ``check_codes``, the employment relation, ``DeclarationChecks``); the common
        case (a valid INSZ, known codes) costs a few set look-ups: each full rule runs only when the
        quick test cannot vouch that it finds nothing.
        """
        header = self.header
        findings = self.findings
        insz = person.insz
        number = insz_number(insz) if self._only_insz_rule else None
        if number is None:
            findings.extend(check_person(header, person))
        if not self._codes_known(person):
            findings.extend(check_codes(header, person, self._codes))
        if self._covered is not None:
            findings.extend(check_employment_relation(header, person, self._covered, self._relation_class))
        if number is None:
            findings.extend(self._checks.add_person(person))
        else:
            findings.extend(self._checks.add_person_as(person, insz_key(insz, number)))
        self.persons += 1
        for record in person.worker_records:
            self.worker_records += 1
            for occupation in record.occupations:
                if occupation.deductions:
                    for deduction in occupation.deductions:
                        self.deductions += deduction.amount or 0
            contributions = record.contributions
            if _STUDENT in map(_KIND, contributions):
                for contribution in contributions:
                    if contribution.kind == _STUDENT:
                        self.students += contribution.amount
                    else:
                        self.contributions += contribution.amount
            else:
                self.contributions += sum(map(_AMOUNT, contributions))
            if record.deductions:
                for deduction in record.deductions:
                    self.deductions += deduction.amount or 0

    def add_summary(self, summary: PersonSummary) -> bool:
        """``add_person`` for a person known by its summary, when no rule finds anything in it: True
        then (the totals and the INSZ are counted as ``add_person`` counts them), else False with
        nothing changed, and the caller adds the person's records with ``add_person``."""
        if self._covered is not None or not self._only_insz_rule:
            return False
        insz = summary.insz
        number = insz_number(insz)
        if number is None:
            return False
        known = self._codes
        if not (_all_known(summary.worker_codes, known.worker, self._known_worker)
                and _all_known(summary.remuneration_codes, known.remuneration, self._known_remuneration)
                and _all_known(summary.service_codes, known.service, self._known_service)):
            return False
        key = insz_key(insz, number)
        if self._checks.has_seen(key):
            return False
        self._checks.add_person_as(NaturalPerson(summary.sequence, insz, None, None, summary.line), key)
        self.persons += 1
        self.worker_records += len(summary.worker_codes)
        self.contributions += summary.contributions
        self.students += summary.student_contributions
        self.deductions += summary.deductions
        return True

    def _codes_known(self, person: NaturalPerson) -> bool:
        """True when ``check_codes`` finds nothing: every worker, remuneration and working-time code is
        known. Codes as written (``"001"``) are remembered once found known, so the test is a set look-up."""
        known = self._codes
        worker, remuneration, service = self._known_worker, self._known_remuneration, self._known_service
        for record in person.worker_records:
            if not _all_known((record.worker_code,), known.worker, worker):
                return False
            for occupation in record.occupations:
                if not (_all_known(map(_CODE, occupation.remunerations), known.remuneration, remuneration)
                        and _all_known(map(_CODE, occupation.services), known.service, service)):
                    return False
        return True

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


def _all_known(codes: Iterable[str], valid: frozenset[str] | set[str], seen: set[str]) -> bool:
    """True when every code is in ``valid`` (which holds them without leading zeros); the codes found
    known are remembered as written in ``seen``, so the next time they cost one set look-up."""
    for code in codes:
        if code not in seen:
            if (code.lstrip("0") or "0") not in valid:
                return False
            seen.add(code)
    return True
