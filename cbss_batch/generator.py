"""Synthetic, schema-valid DmfA original files and transfer sets for tests, samples and benchmarks.

Everything is drawn from ``random.Random`` seeded by the arguments, so the same arguments give the same
bytes. Money is integer euro cents, days and hours hundredths (DECLARATIONS.md §2.3); no floats.
The text is streamed in chunks (no tree), and ``NetOwedAmount`` — which precedes the workers in the
XML — comes from a first, output-free pass over the same deterministic draws, so memory stays flat.
"""

from __future__ import annotations

import io
import math
import os
import random
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

from cbss_batch.records import Quarter

FAULTS = (
    "bad_insz",
    "duplicate_insz",
    "net_owed_off",
    "bad_kbo",
    "future_quarter",
    "schema",
    "not_well_formed",
)
WORKER_FAULTS = frozenset({"bad_insz", "duplicate_insz", "schema", "not_well_formed"})
FUTURE_QUARTER = Quarter(2099, 4)  # fixed so that output stays deterministic; after any plausible "today"
SCHEMA_NAME = "DmfAOriginal_20223.xsd"

# Rates in hundredths of a percent, quarters from 2025/1 (CALCULATIONS.md §1.3–1.4).
ORDINARY_RATE = 3807  # worker 13.07 % + employer 25.00 %, category 1
RATE_809 = {True: 18, False: 23}  # closure fund: fewer than 20 workers / 20 or more
RATE_810, RATE_831, RATE_855, RATE_859 = 17, 23, 169, 10
RATE_255, RATE_256 = 2, 1  # special work-accident contribution; asbestos fund (quarters 1-3 only)
WORKER_RATE = 1307  # personal share only; caps the work-bonus deduction 0001
EMPLOYER_CLASS = "010"  # private employer, white-collars in JC 200, blue-collars without a sector fund
_PART_TIME = ((4, 5, 400), (1, 2, 500), (1, 2, 250), (3, 4, 500), (3, 5, 300))  # fraction, days/week × 100
_SEQ_PER_DAY = 997  # INSZ sequence numbers 001–997 per birth date


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclarationInfo:
    """One generated ``Form``: its employer identifiers and its net amount owed in cents."""

    index: int  # 1-based position of the Form in the file
    quarter: str  # as declared (differs from the request under future_quarter)
    noss: str  # NOSSRegistrationNbr, 9 digits
    company_id: str  # CompanyID as declared (bad check digit under bad_kbo)
    workers: int
    net_owed_amount: int  # cents, CALCULATIONS.md §1.6 over the amounts written
    declared_net_owed_amount: int  # cents, as written (net_owed_amount + 1 under net_owed_off)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultInfo:
    """Where one requested fault was put: declaration, and worker for worker-level faults."""

    name: str
    declaration: int  # DeclarationInfo.index
    worker: int | None = None  # NaturalPersonSequenceNbr
    insz: str | None = None  # the INSS written for that worker
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedInfo:
    """What ``write_dmfa`` wrote: counts, one entry per declaration, one per fault."""

    workers: int
    declarations: tuple[DeclarationInfo, ...]
    faults: tuple[FaultInfo, ...]
    bytes_written: int
    is_truncated: bool

    def fault(self, name: str) -> FaultInfo:
        """The placement of fault ``name``; KeyError when it was not requested."""
        for info in self.faults:
            if info.name == name:
                return info
        raise KeyError(name)


def insz_check(first9: str, *, born_2000_or_later: bool) -> int:
    """INSZ check number (1–97) for the first nine digits (DECLARATIONS.md §1.1)."""
    base = int(first9) + (2_000_000_000 if born_2000_or_later else 0)
    return 97 - base % 97


def make_insz(birth: date, sequence: int) -> str:
    """A valid 11-digit INSZ for a birth date and a sequence number 1–997."""
    first9 = ((birth.year % 100 * 100 + birth.month) * 100 + birth.day) * 1000 + sequence
    check = 97 - (first9 + (2_000_000_000 if birth.year >= 2000 else 0)) % 97
    return f"{first9:09d}{check:02d}"


def make_kbo(first8: int) -> str:
    """A 10-digit KBO/BCE or establishment-unit number with its check digits (DECLARATIONS.md §1.2, §1.4)."""
    return f"{first8:08d}{97 - first8 % 97:02d}"


def make_noss(first7: int) -> str:
    """A 9-digit NOSS number whose value satisfies N mod 97 == 96 (DECLARATIONS.md §1.3)."""
    return f"{first7 * 100 + (96 - first7 * 100) % 97:09d}"


def make_dmfa(
    *,
    workers: int,
    declarations: int = 1,
    quarter: str = "20252",
    seed: int = 0,
    faults: Collection[str] = (),
    noss: str | None = None,
    company_id: str | None = None,
) -> bytes:
    """A whole generated DmfA file as bytes (for small cases; see ``write_dmfa``)."""
    buffer = io.BytesIO()
    write_dmfa(
        buffer,
        workers=workers,
        declarations=declarations,
        quarter=quarter,
        seed=seed,
        faults=faults,
        noss=noss,
        company_id=company_id,
    )
    return buffer.getvalue()


def write_dmfa(
    out: BinaryIO,
    *,
    workers: int,
    declarations: int = 1,
    quarter: str = "20252",
    seed: int = 0,
    faults: Collection[str] = (),
    noss: str | None = None,
    company_id: str | None = None,
) -> GeneratedInfo:
    """Stream `workers` people in `declarations` Forms to `out`; noss/company_id set Form 1's employer."""
    if declarations < 1 or workers < declarations:
        raise ValueError(
            f"need 1 <= declarations <= workers, got {declarations} declarations, {workers} workers"
        )
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    requested = Quarter.parse(quarter)
    sizes = [workers // declarations + (1 if i < workers % declarations else 0) for i in range(declarations)]
    placed = _place_faults(set(faults), sizes, seed)
    plans = _plan_declarations(sizes, requested, seed, placed, noss, company_id)
    writer = _ChunkWriter(out)
    writer.add(
        '<?xml version="1.0" encoding="UTF-8"?>\n<DmfAOriginal xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:noNamespaceSchemaLocation="{SCHEMA_NAME}">\n'
    )
    infos: list[DeclarationInfo] = []
    fault_infos: list[FaultInfo] = [
        FaultInfo(name=name, declaration=d, detail=_DECLARATION_FAULT_DETAIL[name])
        for d, names in sorted(placed.declaration.items())
        for name in sorted(names, key=FAULTS.index)
    ]
    truncated = False
    for plan in plans:
        net, unrelated = _totals(plan)
        declared = net + 1 if "net_owed_off" in placed.declaration.get(plan.index, ()) else net
        infos.append(
            DeclarationInfo(
                index=plan.index,
                quarter=str(plan.quarter),
                noss=plan.noss,
                company_id=plan.company_id,
                workers=plan.workers,
                net_owed_amount=net,
                declared_net_owed_amount=declared,
            )
        )
        writer.add(_form_head(plan, requested, declared))
        quarter_lines = (
            f"\t\t\t\t\t<NOSSQuarterStartingDate>{plan.quarter.start}</NOSSQuarterStartingDate>\n"
            f"\t\t\t\t\t<NOSSQuarterEndingDate>{plan.quarter.end}</NOSSQuarterEndingDate>\n"
        )
        for seq, worker in enumerate(_draw_workers(plan), start=1):
            fault = placed.worker.get((plan.index, seq))
            if fault == "bad_insz":
                worker.insz = _spoil_insz(worker.insz)
            elif fault == "duplicate_insz":
                source = placed.duplicate_of[(plan.index, seq)]
                worker.insz = _insz_at(plan, source - 1)[0]
            text = _natural_person(worker, seq, quarter_lines, swap=fault == "schema")
            if fault is not None:
                fault_infos.append(
                    FaultInfo(
                        name=fault,
                        declaration=plan.index,
                        worker=seq,
                        insz=worker.insz,
                        detail=_worker_fault_detail(fault, placed.duplicate_of.get((plan.index, seq))),
                    )
                )
            if fault == "not_well_formed":
                writer.add(text[: len(text) // 2])
                truncated = True
                break
            writer.add(text)
        if truncated:
            break
        writer.add(_form_tail(unrelated))
    if not truncated:
        writer.add("</DmfAOriginal>\n")
    writer.flush()
    written = len(infos)  # under not_well_formed, later declarations (and their faults) never appear
    fault_infos = sorted(
        (f for f in fault_infos if f.declaration <= written), key=lambda f: FAULTS.index(f.name)
    )
    return GeneratedInfo(
        workers=workers,
        declarations=tuple(infos),
        faults=tuple(fault_infos),
        bytes_written=writer.written,
        is_truncated=truncated,
    )


def write_set(
    inbox: Path,
    *,
    sender: str,
    env: str,
    seq: int,
    day: date,
    parts: int,
    content: bytes | Path,
    file_type: str = "DMFA",
    go: bool = True,
) -> list[Path]:
    """Write ``content`` as FI parts of nearly equal size plus the GO marker (last); paths in write order."""
    if not re.fullmatch(r"\d{6}", sender):
        raise ValueError(f"sender must be 6 digits, got {sender!r}")
    if env not in ("R", "T", "S"):
        raise ValueError(f"env must be R, T or S, got {env!r}")
    if not 1 <= parts <= 9 or not 1 <= seq <= 99_999:
        raise ValueError(f"need parts in 1..9 and seq in 1..99999, got parts={parts}, seq={seq}")
    size = len(content) if isinstance(content, bytes) else content.stat().st_size
    if size < parts:
        raise ValueError(f"cannot split {size} bytes into {parts} non-empty parts")
    folder = inbox / sender / ("IN" if env == "R" else "INTEST")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{file_type}.{sender}.{day:%Y%m%d}.{seq:05d}.{env}.{parts}"
    names = [f"FI.{stem}.{i}" for i in range(1, parts + 1)] + ([f"GO.{stem}"] if go else [])
    taken = [name for name in names if (folder / name).exists()]
    if taken:
        raise FileExistsError(f"{folder}: {', '.join(taken)} already present; choose another --seq")
    bounds = [size * i // parts for i in range(parts + 1)]
    paths: list[Path] = []
    source = io.BytesIO(content) if isinstance(content, bytes) else content.open("rb")
    with source:
        for i in range(parts):
            paths.append(_write_atomic(folder / names[i], source, bounds[i + 1] - bounds[i]))
    if go:
        paths.append(_write_atomic(folder / names[-1], io.BytesIO(), 0))
    return paths


# --- planning -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Placement:
    declaration: dict[int, set[str]]
    worker: dict[tuple[int, int], str]
    duplicate_of: dict[tuple[int, int], int]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    index: int
    quarter: Quarter  # as declared
    noss: str
    company_id: str
    workers: int
    reference: str
    local_units: tuple[str, ...]
    director_car_862: int  # cents, company car of a director (not a worker): part of the 862 line
    first_birth: date
    birth_days: int
    insz_step: int
    insz_offset: int
    seed_text: str


_DECLARATION_FAULT_DETAIL = {
    "net_owed_off": "declared NetOwedAmount = computed + 1 cent",
    "bad_kbo": "CompanyID check digits wrong",
    "future_quarter": f"Quarter {FUTURE_QUARTER}, after today; worker dates follow, FormCreationDate not",
}


def _worker_fault_detail(fault: str, source: int | None) -> str:
    return {
        "bad_insz": "INSS check digits wrong (for both centuries)",
        "duplicate_insz": f"same INSS as NaturalPersonSequenceNbr {source}",
        "schema": "Occupation has ContractType before WorkingDaysSystem",
        "not_well_formed": "document truncated inside this NaturalPerson",
    }[fault]


def _place_faults(faults: set[str], sizes: list[int], seed: int) -> _Placement:
    rng = random.Random(f"faults:{seed}")
    placed = _Placement({}, {}, {})
    taken: dict[int, set[int]] = {}
    for name in FAULTS:
        if name not in faults:
            continue
        if name not in WORKER_FAULTS:
            placed.declaration.setdefault(rng.randrange(len(sizes)) + 1, set()).add(name)
            continue
        need = 2 if name == "duplicate_insz" else 1
        candidates = [d for d, n in enumerate(sizes, start=1) if n - len(taken.get(d, ())) >= need]
        if not candidates:
            raise ValueError(
                f"fault {name} needs {need} worker(s) not used by another fault in one declaration"
            )
        d = rng.choice(candidates)
        used = taken.setdefault(d, set())
        picks: list[int] = []
        while len(picks) < need:
            seq = rng.randrange(sizes[d - 1]) + 1
            if seq not in used:
                used.add(seq)
                picks.append(seq)
        placed.worker[(d, max(picks))] = name
        if name == "duplicate_insz":
            placed.duplicate_of[(d, max(picks))] = min(picks)
    return placed


def _plan_declarations(
    sizes: list[int],
    requested: Quarter,
    seed: int,
    placed: _Placement,
    noss: str | None,
    company_id: str | None,
) -> list[_Plan]:
    if noss is not None and not re.fullmatch(r"\d{9}", noss):
        raise ValueError(f"noss must be 9 digits, got {noss!r}")
    if company_id is not None and not re.fullmatch(r"\d{10}", company_id):
        raise ValueError(f"company_id must be 10 digits, got {company_id!r}")
    rng = random.Random(f"employers:{seed}")
    first_birth = date(requested.year - 67, 1, 1)
    birth_days = (date(requested.year - 19, 12, 31) - first_birth).days + 1
    space = birth_days * _SEQ_PER_DAY
    plans: list[_Plan] = []
    seen: set[str] = set()
    for index, size in enumerate(sizes, start=1):
        while True:
            noss_nbr = noss if index == 1 and noss else make_noss(rng.randrange(100_000, 1_999_999))
            kbo = company_id if index == 1 and company_id else make_kbo(rng.randrange(4_000_000, 9_000_000))
            if noss_nbr not in seen and kbo not in seen:
                break
        seen.update((noss_nbr, kbo))
        names = placed.declaration.get(index, set())
        if "bad_kbo" in names:
            kbo = f"{kbo[:8]}{int(kbo[8:]) % 97 + 1:02d}"
        step = rng.randrange(space // 3, 2 * space // 3)
        while math.gcd(step, space) != 1:
            step += 1
        units = tuple(make_kbo(rng.randrange(20_000_000, 90_000_000)) for _ in range(1 + min(size // 50, 3)))
        plans.append(
            _Plan(
                index=index,
                quarter=FUTURE_QUARTER if "future_quarter" in names else requested,
                noss=noss_nbr,
                company_id=kbo,
                workers=size,
                reference=f"GEN{requested}-{seed % 1_000_000}-{index}"[:20],
                local_units=units,
                director_car_862=3 * rng.randrange(3134, 16000),
                first_birth=first_birth,
                birth_days=birth_days,
                insz_step=step,
                insz_offset=rng.randrange(space),
                seed_text=f"workers:{seed}:{index}",
            )
        )
    return plans


# --- drawing workers ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Worker:
    insz: str
    is_white_collar: bool
    hired_on: date
    leaves_on: date | None
    days_system: int  # days per week × 100
    is_part_time: bool
    ref_hours: int  # hours × 100
    mean_hours: int  # hours × 100
    local_unit: str
    services: list[tuple[str, int, int | None]]  # code, days × 100, hours × 100
    remuns: list[tuple[str, int | None, int]]  # code, bonus frequency, cents
    contributions: list[tuple[str, int, int | None, int]]  # code, type, basis cents, amount cents
    deduction: int  # WorkerDeduction 0001 in cents, 0 = none
    car_862: int  # this worker's company-car solidarity contribution (employer-level 862), cents


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up, both non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)


def _percent(basis: int, rate: int) -> int:
    """basis (cents) × rate (hundredths of a percent), rounded half-up to the cent (CALCULATIONS §0)."""
    return _div_half_up(basis * rate, 10_000)


def _weekdays(first: date, last: date) -> int:
    weeks, extra = divmod((last - first).days + 1, 7)
    start = first.weekday()
    return weeks * 5 + sum(1 for k in range(extra) if (start + k) % 7 < 5)


def _insz_at(plan: _Plan, i: int) -> tuple[str, date]:
    # An affine permutation of (birth date, sequence) pairs: unique within the declaration, no memory.
    k = (plan.insz_step * i + plan.insz_offset) % (plan.birth_days * _SEQ_PER_DAY)
    birth = plan.first_birth + timedelta(days=k // _SEQ_PER_DAY)
    return make_insz(birth, k % _SEQ_PER_DAY + 1), birth


def _spoil_insz(insz: str) -> str:
    valid = {insz_check(insz[:9], born_2000_or_later=c) for c in (False, True)}
    check = int(insz[9:])
    while check in valid:
        check = check % 97 + 1
    return f"{insz[:9]}{check:02d}"


def _special_856(gross: int) -> int:
    """Approximate quarterly special social-security contribution in cents (amount taken as declared)."""
    if gross <= 583_614:
        return 0
    if gross <= 657_054:
        return 2_280
    if gross <= 1_811_646:
        return min(15_492, 2_280 + _div_half_up((gross - 657_054) * 11, 1000))
    return min(18_282, 15_492 + _div_half_up((gross - 1_811_646) * 11, 1000))


def _draw_workers(plan: _Plan) -> Iterator[_Worker]:
    rng = random.Random(plan.seed_text)
    q_start, q_end = plan.quarter.start, plan.quarter.end
    q_length = (q_end - q_start).days
    is_q4 = plan.quarter.number == 4
    quarter_weekdays = _weekdays(q_start, q_end)
    is_small = plan.workers < 20
    for i in range(plan.workers):
        insz, birth = _insz_at(plan, i)
        white = rng.random() < 0.6
        ref = rng.choice((3800, 3800, 3800, 3900, 4000))
        if rng.random() < 0.25:
            num, den, days_system = rng.choice(_PART_TIME)
            mean, part_time = _div_half_up(ref * num, den), True
        else:
            mean, days_system, part_time = ref, 500, False
        if rng.random() < 0.04:
            hired = q_start + timedelta(days=rng.randrange(q_length - 20))
        else:
            adult = date(birth.year + 18, birth.month, min(birth.day, 28))
            earliest = max(adult, date(1990, 1, 1))
            hired = earliest + timedelta(days=rng.randrange(max(1, (q_start - earliest).days)))
        leaves = None
        if rng.random() < 0.03:
            begin = max(hired, q_start)
            leaves = begin + timedelta(days=7 + rng.randrange(max(1, (q_end - begin).days - 7)))
        period_days = _weekdays(max(hired, q_start), leaves or q_end)
        scheduled = _div_half_up(period_days * days_system, 5)
        sick = 0
        if rng.random() < 0.08 and scheduled >= 1000:
            sick = 100 * rng.randint(1, min(30, scheduled // 100 - 5))
        worked = scheduled - sick
        services: list[tuple[str, int, int | None]] = []
        for code, days in (("001", worked), ("050", sick)):
            if days:
                hours = _div_half_up(days * mean, days_system) if part_time else None
                services.append((code, days, hours))
        if white:
            monthly = 250_000 + 100 * int(4000 * rng.random() ** 2)
            gross = _div_half_up(monthly * 3 * mean * worked * 5, ref * quarter_weekdays * days_system)
            fte_monthly = monthly
        else:
            hourly = rng.randrange(1450, 2600)
            gross = _div_half_up(hourly * worked * mean, days_system * 100)
            fte_monthly = _div_half_up(hourly * ref * 13, 300)
        remuns: list[tuple[str, int | None, int]] = [("001", None, gross)]
        bonus = 0
        if is_q4 and rng.random() < 0.7:
            bonus = _div_half_up(fte_monthly * mean, ref)
        elif rng.random() < 0.1:
            bonus = _div_half_up(100 * rng.randrange(200, 1500) * mean, ref)
        if bonus:
            remuns.append(("002", 12, bonus))
        car = 0
        if white and not part_time and fte_monthly >= 400_000 and rng.random() < 0.6:
            remuns.append(
                ("010", None, _div_half_up(3 * rng.randrange(9_000, 32_000) * period_days, quarter_weekdays))
            )
            car = _div_half_up(3 * rng.randrange(3134, 16000) * period_days, quarter_weekdays)
        wages = gross + bonus  # codes 001 + 002; 010 stays out of the basis (CALCULATIONS §1.1)
        basis = wages if white else _div_half_up(wages * 108, 100)  # §1.2
        own = "495" if white else "015"
        contributions: list[tuple[str, int, int | None, int]] = [
            (own, 0 if white else 1, basis, _percent(basis, ORDINARY_RATE)),
            ("809", 0 if is_small else 5, basis, _percent(basis, RATE_809[is_small])),
            ("810", 0, basis, _percent(basis, RATE_810)),
        ]
        if white:  # joint committee 200
            contributions.append(("831", 0, basis, _percent(basis, RATE_831)))
        if plan.workers >= 10:
            contributions.append(("855", 0, basis, _percent(basis, RATE_855)))
        special = _special_856(wages)
        if special:
            contributions.append(("856", 0, None, special))
        contributions.append(("859", 0, basis, _percent(basis, RATE_859)))
        contributions.append(("255", 0, basis, _percent(basis, RATE_255)))
        if not is_q4:
            contributions.append(("256", 0, basis, _percent(basis, RATE_256)))
        deduction = 0
        if fte_monthly < 300_000:
            bonus_month = min(19_400, _div_half_up((300_000 - fte_monthly) * 30, 100))
            deduction = min(
                _percent(basis, WORKER_RATE),
                _div_half_up(3 * bonus_month * mean * period_days, ref * quarter_weekdays),
            )
        yield _Worker(
            insz=insz,
            is_white_collar=white,
            hired_on=hired,
            leaves_on=leaves,
            days_system=days_system,
            is_part_time=part_time,
            ref_hours=ref,
            mean_hours=mean,
            local_unit=plan.local_units[i % len(plan.local_units)],
            services=services,
            remuns=remuns,
            contributions=contributions,
            deduction=deduction,
            car_862=car,
        )


def _totals(plan: _Plan) -> tuple[int, int]:
    """(NetOwedAmount, the 862 amount) in cents: CALCULATIONS.md §1.6, floored at 0."""
    unrelated = plan.director_car_862
    total = 0
    for worker in _draw_workers(plan):
        total += sum(c[3] for c in worker.contributions) - worker.deduction
        unrelated += worker.car_862
    return max(0, total + unrelated), unrelated


# --- text ---------------------------------------------------------------------------------------


def _form_head(plan: _Plan, requested: Quarter, net_owed: int) -> str:
    created = requested.end + timedelta(days=10)
    hour = f"{8 + (plan.index - 1) // 60 % 10:02d}:{(plan.index - 1) % 60:02d}:00.000"
    return (
        "\t<Form>\n\t\t<Identification>DMFA</Identification>\n"
        f"\t\t<FormCreationDate>{created:%Y-%m-%d}</FormCreationDate>\n"
        f"\t\t<FormCreationHour>{hour}</FormCreationHour>\n"
        "\t\t<AttestationStatus>0</AttestationStatus>\n\t\t<TypeForm>SU</TypeForm>\n"
        "\t\t<Reference>\n\t\t\t<ReferenceType>1</ReferenceType>\n\t\t\t<ReferenceOrigin>1</ReferenceOrigin>\n"
        f"\t\t\t<ReferenceNbr>{plan.reference}</ReferenceNbr>\n\t\t</Reference>\n"
        f"\t\t<EmployerDeclaration>\n\t\t\t<Quarter>{plan.quarter}</Quarter>\n"
        f"\t\t\t<NOSSRegistrationNbr>{plan.noss}</NOSSRegistrationNbr>\n"
        f"\t\t\t<Trusteeship>0</Trusteeship>\n\t\t\t<CompanyID>{plan.company_id}</CompanyID>\n"
        f"\t\t\t<NetOwedAmount>{net_owed:011d}</NetOwedAmount>\n\t\t\t<System5>0</System5>\n"
    )


def _form_tail(unrelated: int) -> str:
    return (
        "\t\t\t<ContributionUnrelatedToNP>\n"
        f"\t\t\t\t<UnrelatedEmployerClass>{EMPLOYER_CLASS}</UnrelatedEmployerClass>\n"
        "\t\t\t\t<UnrelatedWorkerCode>862</UnrelatedWorkerCode>\n"
        f"\t\t\t\t<UnrelatedAmount>{unrelated:011d}</UnrelatedAmount>\n"
        "\t\t\t</ContributionUnrelatedToNP>\n\t\t</EmployerDeclaration>\n\t</Form>\n"
    )


def _natural_person(w: _Worker, seq: int, quarter_lines: str, *, swap: bool) -> str:
    t7 = "\t" * 7
    days_system = f"\t\t\t\t\t\t<WorkingDaysSystem>{w.days_system}</WorkingDaysSystem>\n"
    contract = f"\t\t\t\t\t\t<ContractType>{1 if w.is_part_time else 0}</ContractType>\n"
    ending = (
        f"\t\t\t\t\t\t<OccupationEndingDate>{w.leaves_on}</OccupationEndingDate>\n" if w.leaves_on else ""
    )
    parts = [
        f"\t\t\t<NaturalPerson>\n\t\t\t\t<NaturalPersonSequenceNbr>{seq:07d}</NaturalPersonSequenceNbr>\n"
        f"\t\t\t\t<INSS>{w.insz}</INSS>\n"
        f"\t\t\t\t<NaturalPersonUserReference>P{seq:07d}</NaturalPersonUserReference>\n"
        f"\t\t\t\t<WorkerRecord>\n\t\t\t\t\t<EmployerClass>{EMPLOYER_CLASS}</EmployerClass>\n"
        f"\t\t\t\t\t<WorkerCode>{'495' if w.is_white_collar else '015'}</WorkerCode>\n"
        f"{quarter_lines}"
        "\t\t\t\t\t<Border>0</Border>\n"
        "\t\t\t\t\t<Occupation>\n\t\t\t\t\t\t<OccupationSequenceNbr>01</OccupationSequenceNbr>\n"
        f"\t\t\t\t\t\t<OccupationStartingDate>{w.hired_on}</OccupationStartingDate>\n{ending}"
        f"\t\t\t\t\t\t<JointCommissionNbr>{'200' if w.is_white_collar else '100'}</JointCommissionNbr>\n"
        + (contract + days_system if swap else days_system + contract)
        + f"\t\t\t\t\t\t<RefMeanWorkingHours>{w.ref_hours}</RefMeanWorkingHours>\n"
        f"\t\t\t\t\t\t<MeanWorkingHours>{w.mean_hours}</MeanWorkingHours>\n"
        "\t\t\t\t\t\t<Retired>0</Retired>\n"
        f"\t\t\t\t\t\t<LocalUnitID>{w.local_unit}</LocalUnitID>\n"
    ]
    for n, (code, days, hours) in enumerate(w.services, start=1):
        parts.append(
            f"\t\t\t\t\t\t<Service>\n{t7}<ServiceSequenceNbr>{n:02d}</ServiceSequenceNbr>\n"
            f"{t7}<ServiceCode>{code}</ServiceCode>\n{t7}<ServiceNbrDays>{days:05d}</ServiceNbrDays>\n"
            + (f"{t7}<ServiceNbrHours>{hours}</ServiceNbrHours>\n" if hours is not None else "")
            + "\t\t\t\t\t\t</Service>\n"
        )
    for n, (code, frequency, amount) in enumerate(w.remuns, start=1):
        parts.append(
            f"\t\t\t\t\t\t<Remun>\n{t7}<RemunSequenceNbr>{n:02d}</RemunSequenceNbr>\n{t7}<RemunCode>{code}</RemunCode>\n"
            + (
                f"{t7}<BonusPaymentFrequency>{frequency:02d}</BonusPaymentFrequency>\n"
                if frequency is not None
                else ""
            )
            + f"{t7}<RemunAmount>{amount:011d}</RemunAmount>\n\t\t\t\t\t\t</Remun>\n"
        )
    parts.append("\t\t\t\t\t</Occupation>\n")
    for code, kind, basis, amount in w.contributions:
        parts.append(
            f"\t\t\t\t\t<WorkerContribution>\n\t\t\t\t\t\t<ContributionWorkerCode>{code}</ContributionWorkerCode>\n"
            f"\t\t\t\t\t\t<ContributionType>{kind}</ContributionType>\n"
            + (
                f"\t\t\t\t\t\t<ContributionCalculationBasis>{basis:011d}</ContributionCalculationBasis>\n"
                if basis is not None
                else ""
            )
            + f"\t\t\t\t\t\t<ContributionAmount>{amount:011d}</ContributionAmount>\n"
            + "\t\t\t\t\t</WorkerContribution>\n"
        )
    if w.deduction:
        parts.append(
            "\t\t\t\t\t<WorkerDeduction>\n\t\t\t\t\t\t<DeductionCode>0001</DeductionCode>\n"
            f"\t\t\t\t\t\t<DeductionAmount>{w.deduction:011d}</DeductionAmount>\n\t\t\t\t\t</WorkerDeduction>\n"
        )
    parts.append("\t\t\t\t</WorkerRecord>\n\t\t\t</NaturalPerson>\n")
    return "".join(parts)


# --- output -------------------------------------------------------------------------------------


class _ChunkWriter:
    """Collects text and writes it as UTF-8 in chunks of about one megabyte."""

    def __init__(self, out: BinaryIO, limit: int = 1 << 20) -> None:
        self.out, self.limit = out, limit
        self.pending: list[str] = []
        self.size = 0
        self.written = 0

    def add(self, text: str) -> None:
        self.pending.append(text)
        self.size += len(text)
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        data = "".join(self.pending).encode("utf-8")
        self.out.write(data)
        self.written += len(data)
        self.pending.clear()
        self.size = 0


def _write_atomic(path: Path, source: BinaryIO, size: int) -> Path:
    """Copy ``size`` bytes from ``source`` to ``path`` via ``path.part`` and a rename."""
    temp = path.with_name(path.name + ".part")
    with temp.open("wb") as target:
        remaining = size
        while remaining:
            block = source.read(min(remaining, 1 << 20))
            if not block:
                raise ValueError(f"source ended {remaining} bytes early while writing {path.name}")
            target.write(block)
            remaining -= len(block)
    os.replace(temp, path)
    return path
