"""Stream a DmfA original (root ``DmfAOriginal``) into records, validating against the schema as it goes.

One pass: lxml ``iterparse`` with the schema, reporting only ``NaturalPerson``,
``ContributionUnrelatedToNP``, ``EmployerDeclaration`` and the root; each reported subtree is read
in one walk over its children and then cleared, and earlier siblings deleted, so memory stays flat
as files grow. lxml reports schema errors only at the end of the document: callers stage what
they receive and roll back when the stream ends in ``InvalidDocument``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, NamedTuple

from lxml import etree

from cbss_batch import pure_python
from cbss_batch.records import (
    Contribution,
    Deduction,
    DmfaHeader,
    NaturalPerson,
    Occupation,
    PersonSummary,
    Quarter,
    Remuneration,
    Service,
    WorkerRecord,
)
from cbss_batch.xmlsafe import PARSER_OPTIONS

log = logging.getLogger(__name__)

ROOT = "DmfAOriginal"
STREAMED_BLOCKS = ("NaturalPerson", "ContributionUnrelatedToNP", "EmployerDeclaration")
_REPORTED = (*STREAMED_BLOCKS, ROOT)


class InvalidDocument(Exception):
    """The stream did not end as a valid document; run a diagnostic pass for the reasons."""


class PersonRead(NamedTuple):  # one a person: a named tuple is built at half the cost of a frozen dataclass
    header: DmfaHeader
    person: NaturalPerson


@dataclass(frozen=True, slots=True)
class UnrelatedRead:
    header: DmfaHeader
    contribution: Contribution


@dataclass(frozen=True, slots=True)
class DeclarationEnd:
    header: DmfaHeader


class PersonElement(NamedTuple):
    """A person as it stands in the stream (``read_dmfa(…, lazy=True)``): read it, or only summarise it.

    Valid until the consumer asks the stream for its next event (the element is then cleared).
    """

    header: DmfaHeader
    element: Any

    def read(self) -> NaturalPerson:
        """The person's records, as ``PersonRead`` holds them; InvalidDocument as ``read_dmfa`` raises it."""
        try:
            return _read_person(self.element)
        except (ValueError, LookupError, TypeError, AttributeError) as exc:
            raise InvalidDocument(f"unreadable value: {exc.__class__.__name__}: {exc}") from exc

    def summary(self) -> PersonSummary | None:
        """What the rules of a declaration read of the person, when the schema has been checked in the
        stream; None when only ``read`` can tell (an unexpected shape, a value ``read`` would refuse)."""
        return _summarise_person(self.element)


DmfaEvent = PersonRead | UnrelatedRead | DeclarationEnd


def read_dmfa(source: IO[bytes], schema: etree.XMLSchema | None, *,
              lazy: bool = False) -> Iterator[DmfaEvent | PersonElement]:
    """Events in document order: each person, each employer-level contribution, each declaration's end.

    ``lazy``: persons come as ``PersonElement`` (read or summarised by the consumer) instead of ``PersonRead``.
    """
    etree.clear_error_log()
    # The whitespace between elements is not kept in the tree (a leaf's text is, even when blank; the
    # schema validator still sees every character): fewer nodes to build, walk and clear.
    context = etree.iterparse(source, events=("end",), tag=_REPORTED, schema=schema, remove_comments=True,
                               remove_blank_text=True, **PARSER_OPTIONS)
    header: DmfaHeader | None = None
    form_index = 0
    root_closed = False
    last_block = last_form = None  # the elements _drop_previous was last called for
    try:
        for _event, element in context:
            tag = element.tag
            if tag == ROOT:
                root_closed = True
                continue
            if tag == "EmployerDeclaration":
                if header is None:
                    form_index += 1
                    header = _read_header(element, form_index)
                yield DeclarationEnd(header)
                header = None
                form = element.getparent()
                element.clear(keep_tail=True)
                last_block = None
                if form is not None:
                    form.clear(keep_tail=True)
                    _drop_previous(form, last_form)
                    last_form = form
                continue
            if header is None:
                form_index += 1
                header = _read_header(element.getparent(), form_index)
            if tag == "NaturalPerson":
                yield (_new(PersonElement, (header, element)) if lazy
                       else _new(PersonRead, (header, _read_person(element))))
            else:
                yield UnrelatedRead(header, _read_unrelated(element))
            element.clear(keep_tail=True)
            _drop_previous(element, last_block)
            last_block = element
    except etree.XMLSyntaxError as exc:
        raise InvalidDocument(str(exc)) from exc
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        raise InvalidDocument(f"unreadable value: {exc.__class__.__name__}: {exc}") from exc
    if not root_closed:
        raise InvalidDocument("the document ended before its root element was closed")


_DROPPED = frozenset((*_REPORTED, "Form", "CompanyVehicle"))


def _drop_previous(element: Any, last: Any = None) -> None:
    """Delete the already-read siblings before ``element`` that are blocks (header zones stay).

    ``last``: the element this was last called for. When it is a sibling before ``element``, the
    siblings before it were already examined then (none of them is a block any more), so the walk
    stops there instead of passing over every header zone again for every person.
    """
    parent = element.getparent()
    previous = element.getprevious()
    while previous is not None:
        if previous is last:
            parent.remove(previous)  # always a block: a reported element or a Form
            return
        before = previous.getprevious()
        if previous.tag in _DROPPED:
            parent.remove(previous)
        previous = before


def _int(text: str | None) -> int:
    return int(text) if text else 0


def _opt_int(text: str | None) -> int | None:
    return int(text) if text else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _read_header(employer: Any, form_index: int) -> DmfaHeader:
    zones: dict[str, str] = {}
    for child in employer:
        if child.tag in ("NaturalPerson", "CompanyVehicle", "ContributionUnrelatedToNP"):
            break
        zones[child.tag] = (child.text or "").strip()
    form = employer.getparent()
    form_zones: dict[str, str] = {}
    sender_reference = None
    for child in form:
        if child.tag == "Reference":
            for ref in child:
                if ref.tag == "ReferenceNbr":
                    sender_reference = (ref.text or "").strip()
        elif child.tag != "EmployerDeclaration":
            form_zones[child.tag] = (child.text or "").strip()
    return DmfaHeader(
        form_index=form_index,
        identification=form_zones.get("Identification", ""),
        created_on=date.fromisoformat(form_zones["FormCreationDate"]),
        created_at=form_zones.get("FormCreationHour", ""),
        sender_reference=sender_reference,
        quarter=Quarter.parse(zones["Quarter"]),
        noss_number=zones.get("NOSSRegistrationNbr", "0"),
        trusteeship=_int(zones.get("Trusteeship")),
        company_id=zones.get("CompanyID", "0"),
        net_owed_amount=_int(zones.get("NetOwedAmount")),
        line=form.sourceline or 0,
        employer_line=employer.sourceline or 0,
    )


# The readers below run for every element of a big file: one pass over the children, plain local
# variables, positional construction (``tuple.__new__``: the named tuples' own constructor costs twice
# as much), leaf blocks read inline rather than by a call each. They accept children in any order and
# ignore unknown ones, as before: without the schema in the stream (parallel check, chunks, ``validate``
# on an invalid file) they read what is there. ``int`` of a zone text costs about three dictionary
# look-ups, so the zones whose few values repeat (sequence numbers, days, hours, codes of a kind) are
# converted once per distinct text (``_SMALL_INTS``), and a contribution's calculation basis, usually
# the same text on every contribution of a worker line, once per line.

_new = tuple.__new__


class _Remembered(dict[Any, Any]):
    """A conversion remembered per distinct text: ``cache[text]`` converts on a miss (raising what the
    conversion raises) and keeps the value while there is room."""

    def __init__(self, convert: Any, room: int) -> None:
        super().__init__()
        self._convert, self._room = convert, room

    def __missing__(self, text: Any) -> Any:
        value = self._convert(text)
        if len(self) < self._room:
            self[text] = value
        return value


_SMALL_INTS = _Remembered(int, 20_000)  # zones whose few values repeat: sequence numbers, days, hours, codes
_DATES = _Remembered(date.fromisoformat, 20_000)  # quarter bounds repeat on every worker line


def read_person_python(element: Any) -> NaturalPerson:
    """A person's records, read through lxml's element API: the reference the C reader must equal."""
    sequence = 0
    insz = ""
    name = first_name = None
    records = []
    for child in element:
        tag = child.tag
        if tag == "WorkerRecord":
            records.append(_read_worker_record(child))
        elif tag == "INSS":
            insz = (child.text or "").strip()
        elif tag == "NaturalPersonSequenceNbr":
            sequence = int(child.text)
        elif tag == "WorkerName":
            name = child.text
        elif tag == "WorkerFirstName":
            first_name = child.text
    return _new(NaturalPerson, (sequence, insz, name, first_name, element.sourceline or 0, tuple(records)))


def _read_worker_record(element: Any) -> WorkerRecord:
    small, days = _SMALL_INTS, _DATES
    employer_class = worker_code = ""
    start = end = None
    border = 0
    risk = local_unit = None
    occupations = []
    contributions = []
    deductions = []
    basis_text: Any = None  # the last ContributionCalculationBasis converted, and its value
    basis_value = None
    for child in element:
        tag = child.tag
        if tag == "WorkerContribution":
            code = ""
            kind = basis = None
            amount = 0
            for zone in child:
                zone_tag = zone.tag
                if zone_tag == "ContributionAmount":
                    amount = int(zone.text)
                elif zone_tag == "ContributionWorkerCode":
                    code = zone.text or ""
                elif zone_tag == "ContributionType":
                    kind = zone.text
                elif zone_tag == "ContributionCalculationBasis":
                    text = zone.text
                    if text != basis_text or text is None:
                        basis_value, basis_text = int(text), text
                    basis = basis_value
            contributions.append(_new(Contribution, (code, kind, basis, amount, child.sourceline or 0, "worker")))
        elif tag == "Occupation" or tag == "OccupationUpdate":  # OccupationUpdate: in a DmfA modification
            occupations.append(_read_occupation(child))
        elif tag == "WorkerDeduction":
            deductions.append(_read_deduction(child))
        elif tag == "StudentContribution":
            contributions.append(_read_student(child))
        elif tag == "EmployerClass":
            employer_class = child.text or ""
        elif tag == "WorkerCode":
            worker_code = child.text or ""
        elif tag == "NOSSQuarterStartingDate":
            start = child.text
        elif tag == "NOSSQuarterEndingDate":
            end = child.text
        elif tag == "Border":
            text = child.text
            border = small[text] if text else 0
        elif tag == "ActivityWithRisk":
            text = child.text
            risk = small[text] if text else None
        elif tag == "LocalUnitID":
            local_unit = child.text
    return _new(WorkerRecord, (employer_class, worker_code, days[start] if start else date.min,
                               days[end] if end else date.min, border, risk, local_unit,
                               element.sourceline or 0, tuple(occupations), tuple(contributions), tuple(deductions)))


def _read_occupation(element: Any) -> Occupation:
    small = _SMALL_INTS
    sequence = working_days = contract = 0
    start = end = ref_hours = hours = local_unit = None
    committee = ""
    services = []
    remunerations = []
    deductions = []
    for child in element:
        tag = child.tag
        if tag == "Remun":
            r_sequence = amount = 0
            r_code = ""
            frequency = percentage = None
            for zone in child:
                zone_tag = zone.tag
                if zone_tag == "RemunAmount":
                    amount = int(zone.text)
                elif zone_tag == "RemunCode":
                    r_code = zone.text or ""
                elif zone_tag == "RemunSequenceNbr":
                    text = zone.text
                    r_sequence = small[text]
                elif zone_tag == "BonusPaymentFrequency":
                    text = zone.text
                    frequency = small[text]
                elif zone_tag == "PercentagePaid":
                    text = zone.text
                    percentage = small[text]
            remunerations.append(_new(Remuneration, (r_sequence, r_code, amount, frequency, percentage,
                                                     child.sourceline or 0)))
        elif tag == "Service":
            s_sequence = s_days = 0
            s_code = ""
            s_hours = None
            for zone in child:
                zone_tag = zone.tag
                text = zone.text
                if zone_tag == "ServiceCode":
                    s_code = text or ""
                elif zone_tag == "ServiceNbrDays":
                    s_days = small[text]
                elif zone_tag == "ServiceNbrHours":
                    s_hours = small[text]
                elif zone_tag == "ServiceSequenceNbr":
                    s_sequence = small[text]
            services.append(_new(Service, (s_sequence, s_code, s_days, s_hours, child.sourceline or 0)))
        elif tag == "OccupationDeduction":
            deductions.append(_read_deduction(child))
        elif tag == "OccupationSequenceNbr":
            text = child.text
            sequence = small[text]
        elif tag == "OccupationStartingDate":
            start = child.text
        elif tag == "OccupationEndingDate":
            end = child.text
        elif tag == "JointCommissionNbr":
            committee = child.text or ""
        elif tag == "WorkingDaysSystem":
            text = child.text
            working_days = small[text] if text else 0
        elif tag == "ContractType":
            text = child.text
            contract = small[text] if text else 0
        elif tag == "RefMeanWorkingHours":
            ref_hours = child.text
        elif tag == "MeanWorkingHours":
            hours = child.text
        elif tag == "LocalUnitID":
            local_unit = child.text
    return _new(Occupation, (sequence, _date(start), _date(end), committee, working_days, contract,
                             small[ref_hours] if ref_hours else None,
                             small[hours] if hours else None, local_unit,
                             element.sourceline or 0, tuple(services), tuple(remunerations), tuple(deductions)))


def _read_deduction(element: Any) -> Deduction:
    code = ""
    basis = amount = None
    for child in element:
        tag = child.tag
        if tag == "DeductionCode":
            code = child.text or ""
        elif tag == "DeductionAmount":
            amount = int(child.text)
        elif tag == "DeductionCalculationBasis":
            basis = int(child.text)
    return _new(Deduction, (code, basis, amount, element.sourceline or 0))


def _read_student(element: Any) -> Contribution:
    basis = None
    amount = 0
    for child in element:
        tag = child.tag
        if tag == "StudentContributionAmount":
            amount = int(child.text)
        elif tag == "StudentRemunAmount":
            basis = int(child.text)
    return _new(Contribution, ("", None, basis, amount, element.sourceline or 0, "student"))


_SUMMARISED = ("RemunCode", "WorkerCode", "ServiceCode", "NOSSQuarterStartingDate", "NOSSQuarterEndingDate",
               "OccupationStartingDate", "OccupationEndingDate", "DeductionAmount", "StudentContributionAmount")
_DATE_ZONES = frozenset(("NOSSQuarterStartingDate", "NOSSQuarterEndingDate", "OccupationStartingDate",
                         "OccupationEndingDate"))
# The worker contributions' amounts, summed in C. XPath numbers are doubles: exact for these sums (at most
# 11 digits an amount, far below 2**53); a text XPath cannot read as a number ("+5") gives NaN, and the
# person is left to read().
_CONTRIBUTIONS_SUM = etree.XPath("sum(WorkerRecord/WorkerContribution/ContributionAmount)")


def _summarise_person(element: Any) -> PersonSummary | None:
    """``PersonElement.summary``: the zones the rules read, matched by name in C.

    In a schema-valid person these zones occur only in the blocks ``_read_person`` takes them from
    (tests/unit/test_fast_paths.py checks it against the schema). The dates are converted as
    ``read`` would, so that a date it refuses makes the summary refuse too.
    """
    try:
        first, second = element[0], element[1]
        if first.tag != "NaturalPersonSequenceNbr" or second.tag != "INSS":
            return None
        contributions = _CONTRIBUTIONS_SUM(element)
        if not contributions.is_integer():
            return None
        worker_codes = []
        remuneration_codes = []
        service_codes = []
        students = []
        deductions = []
        days = _DATES
        for zone in element.iter(_SUMMARISED):
            tag = zone.tag
            if tag == "RemunCode":
                remuneration_codes.append(zone.text or "")
            elif tag == "WorkerCode":
                worker_codes.append(zone.text or "")
            elif tag == "ServiceCode":
                service_codes.append(zone.text or "")
            elif tag in _DATE_ZONES:
                text = zone.text
                if text:
                    days[text]  # noqa: B018 - raises as read() would
            elif tag == "DeductionAmount":
                deductions.append(zone.text)
            else:  # StudentContributionAmount
                students.append(zone.text)
        return _new(PersonSummary, (int(first.text), (second.text or "").strip(), element.sourceline or 0,
                                    tuple(worker_codes), tuple(remuneration_codes), tuple(service_codes),
                                    int(contributions), sum(map(int, students)) if students else 0,
                                    sum(map(int, deductions)) if deductions else 0))
    except (ValueError, LookupError, TypeError, AttributeError):
        return None


def _read_unrelated(element: Any) -> Contribution:
    zones = {child.tag: child.text for child in element}
    return Contribution(worker_code=zones.get("UnrelatedWorkerCode") or "",
                        contribution_type=zones.get("UnrelatedEmployerClass"),
                        basis=_opt_int(zones.get("UnrelatedCalculationBasis")),
                        amount=_int(zones.get("UnrelatedAmount")), line=element.sourceline or 0, kind="unrelated")


_PERSON = b"<NaturalPerson>"
_END = b"</EmployerDeclaration>"
_CARRY = len(_END) - 1  # a tag cut by a chunk boundary starts within this many bytes before it
_COUNT_CHUNK = 1 << 22


def count_persons(paths: list[Path]) -> list[int]:
    """The number of NaturalPerson elements of each declaration, in order, from a byte scan of the parts.

    The employer's size (contributions 809 and 855 depend on it) is needed before the first worker
    line is computed; counting bytes in C costs a fraction of the parse. SIMPLIFIED: it counts the
    tags textually (no attributes, no whitespace inside them, as the schema's documents are written),
    so a ``<NaturalPerson>`` inside a comment or CDATA would be counted too.

    The parts are read into one buffer and searched in place; only a tag cut by a chunk (or part)
    boundary is put together from the few bytes around it, so the bytes are not copied again.
    """
    counts: list[int] = []
    current = 0
    buffer = bytearray(_COUNT_CHUNK)
    carry = b""  # the last bytes before this chunk: where a tag cut by the boundary starts
    for path in paths:
        with path.open("rb") as handle:
            while size := handle.readinto(buffer):
                # A tag cut by the boundary starts at the last "<" before it (a tag holds no other "<");
                # it is counted here when it ends in this chunk, else with a later one.
                start = carry.rfind(b"<")
                if start != -1:
                    joined = carry[start:] + bytes(buffer[:min(size, _CARRY)])
                    cut = len(carry) - start
                    if cut < len(_PERSON) <= len(joined) and joined.startswith(_PERSON):
                        current += 1
                    elif cut < len(_END) <= len(joined) and joined.startswith(_END):
                        counts.append(current)
                        current = 0
                position = 0
                while (end := buffer.find(_END, position, size)) != -1:
                    counts.append(current + buffer.count(_PERSON, position, end))
                    current = 0
                    position = end + len(_END)
                current += buffer.count(_PERSON, position, size)
                carry = (carry + bytes(buffer[max(0, size - _CARRY):size]))[-_CARRY:]
    return counts


# The C reader (``_dmfa_reader.c``) gives the records ``read_person_python`` gives, from the element's
# libxml2 nodes instead of one Python proxy per child: a fifth of a large set's time on one core.
# It is used only when it was built, and when it reads the sample below exactly as the Python readers
# do; ``CBSS_PURE_PYTHON=1`` turns it off.
_SAMPLE = b"""<NaturalPerson>
<NaturalPersonSequenceNbr>0000001</NaturalPersonSequenceNbr><INSS> 85073003328 </INSS>
<WorkerName>Dupont &amp; fils</WorkerName><WorkerFirstName>\xc3\x89lodie</WorkerFirstName>
<WorkerRecord><EmployerClass>010</EmployerClass><WorkerCode>015</WorkerCode>
<NOSSQuarterStartingDate>2025-07-01</NOSSQuarterStartingDate><NOSSQuarterEndingDate/>
<Border>1</Border><ActivityWithRisk>2</ActivityWithRisk><LocalUnitID>8123456789</LocalUnitID>
<Occupation><OccupationSequenceNbr>01</OccupationSequenceNbr><OccupationStartingDate>2021-12-18</OccupationStartingDate>
<JointCommissionNbr>100</JointCommissionNbr><WorkingDaysSystem>500</WorkingDaysSystem>
<ContractType></ContractType><RefMeanWorkingHours>3800</RefMeanWorkingHours><MeanWorkingHours>1900</MeanWorkingHours>
<Service><ServiceSequenceNbr>01</ServiceSequenceNbr><ServiceCode>001</ServiceCode><ServiceNbrDays>06600</ServiceNbrDays>
<ServiceNbrHours>12345678901234567890</ServiceNbrHours></Service>
<Remun><RemunSequenceNbr>1</RemunSequenceNbr><RemunCode>010</RemunCode><RemunAmount>+12</RemunAmount>
<BonusPaymentFrequency>12</BonusPaymentFrequency><PercentagePaid>5000</PercentagePaid></Remun>
<OccupationDeduction><DeductionCode>0001</DeductionCode><DeductionAmount>100</DeductionAmount></OccupationDeduction>
</Occupation>
<WorkerContribution><ContributionWorkerCode>495</ContributionWorkerCode><ContributionType>0</ContributionType>
<ContributionCalculationBasis>00001014600</ContributionCalculationBasis>
<ContributionAmount>00000386258</ContributionAmount></WorkerContribution>
<WorkerContribution><ContributionWorkerCode/><ContributionType/><ContributionAmount> 7 </ContributionAmount>
</WorkerContribution><StudentContribution><StudentRemunAmount>1000</StudentRemunAmount>
<StudentContributionAmount>54</StudentContributionAmount></StudentContribution>
<WorkerDeduction><DeductionCode>3000</DeductionCode><DeductionCalculationBasis>99</DeductionCalculationBasis>
<DeductionAmount>12</DeductionAmount></WorkerDeduction><x:WorkerCode xmlns:x="urn:other">999</x:WorkerCode>
</WorkerRecord></NaturalPerson>"""


def _c_reader() -> Callable[[Any], NaturalPerson] | None:
    """The C reader, configured, when it is built, allowed and reads the sample as the Python readers do."""
    if pure_python():
        return None
    try:
        from cbss_batch.parse import _dmfa_reader  # type: ignore[attr-defined]
    except ImportError:
        log.debug("the C DmfA reader is not built; persons are read in Python")
        return None
    try:
        _dmfa_reader.configure(NaturalPerson, WorkerRecord, Occupation, Service, Remuneration, Contribution,
                               Deduction, _DATES, date.min, etree._Element)
        sample = etree.fromstring(_SAMPLE, etree.XMLParser(remove_blank_text=True, **PARSER_OPTIONS))
        same = _dmfa_reader.read_person(sample) == read_person_python(sample)
    except (TypeError, ValueError, RuntimeError) as exc:
        log.warning("the C DmfA reader cannot be used (%s); persons are read in Python", exc)
        return None
    if not same:
        log.warning("the C DmfA reader reads the sample differently from the Python readers; "
                    "persons are read in Python")
        return None
    reader: Callable[[Any], NaturalPerson] = _dmfa_reader.read_person
    return reader


_read_person: Callable[[Any], NaturalPerson] = _c_reader() or read_person_python
READER = "python" if _read_person is read_person_python else "c"
