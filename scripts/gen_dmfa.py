#!/usr/bin/env python3
"""Generate a synthetic DmfA original: to a file (--out) or as a complete set in a mailbox (--inbox)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from cbss_batch.generator import FAULTS, GeneratedInfo, write_dmfa, write_set  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--workers", type=int, required=True, help="total workers (NaturalPerson) in the file"
    )
    parser.add_argument("--declarations", type=int, default=1, help="Forms (employers) sharing the workers")
    parser.add_argument("--quarter", default="20252", help="YYYYQ (default 20252)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault", action="append", default=[], choices=FAULTS, help="repeatable")
    parser.add_argument("--noss", help="NOSS number of the first declaration (9 digits)")
    parser.add_argument("--company-id", help="KBO number of the first declaration (10 digits)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="write the XML here ('-' = stdout)")
    target.add_argument("--inbox", type=Path, help="write FI parts + GO into INBOX/<sender>/IN|INTEST")
    parser.add_argument("--sender", default="006400", help="6-digit sender number (default 006400)")
    parser.add_argument("--env", default="T", choices=("R", "T", "S"), help="R → IN, T/S → INTEST")
    parser.add_argument("--parts", type=int, default=1, help="number of FI parts, 1-9")
    parser.add_argument("--seq", type=int, default=1, help="sequence number of the set (default 1 → 00001)")
    parser.add_argument(
        "--day",
        type=lambda text: datetime.strptime(text, "%Y%m%d").date(),
        default=date.today(),
        help="creation date in the file names, YYYYMMDD (default today)",
    )
    return parser.parse_args(argv)


def generate(args: argparse.Namespace, out_path: Path) -> GeneratedInfo:
    """Write the XML to ``out_path`` and return what was generated."""
    with out_path.open("wb") as out:
        return write_dmfa(
            out,
            workers=args.workers,
            declarations=args.declarations,
            quarter=args.quarter,
            seed=args.seed,
            faults=args.fault,
            noss=args.noss,
            company_id=args.company_id,
        )


def report(info: GeneratedInfo, seconds: float) -> None:
    """Print a short summary to stderr (stdout may carry the XML)."""
    print(
        f"{info.workers} workers, {len(info.declarations)} declaration(s), {info.bytes_written} bytes "
        f"in {seconds:.2f} s",
        file=sys.stderr,
    )
    for d in info.declarations:
        print(
            f"  form {d.index}: quarter {d.quarter} NOSS {d.noss} KBO {d.company_id} workers {d.workers} "
            f"NetOwedAmount {d.net_owed_amount} (declared {d.declared_net_owed_amount})",
            file=sys.stderr,
        )
    for f in info.faults:
        where = f"form {f.declaration}" + (f" worker {f.worker}" if f.worker else "")
        print(f"  fault {f.name}: {where}: {f.detail}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        if args.out is not None:
            if str(args.out) == "-":
                info = write_dmfa(
                    sys.stdout.buffer,
                    workers=args.workers,
                    declarations=args.declarations,
                    quarter=args.quarter,
                    seed=args.seed,
                    faults=args.fault,
                    noss=args.noss,
                    company_id=args.company_id,
                )
            else:
                info = generate(args, args.out)
            report(info, time.perf_counter() - started)
            return 0
        args.inbox.mkdir(parents=True, exist_ok=True)
        # A temporary file next to the mailboxes (same file system, invisible to the intake), not in memory.
        handle, temp_name = tempfile.mkstemp(prefix=".gen_dmfa-", dir=args.inbox)
        os.close(handle)
        temp = Path(temp_name)
        try:
            info = generate(args, temp)
            paths = write_set(
                args.inbox,
                sender=args.sender,
                env=args.env,
                seq=args.seq,
                day=args.day,
                parts=args.parts,
                content=temp,
            )
        finally:
            temp.unlink(missing_ok=True)
    except (ValueError, OSError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    report(info, time.perf_counter() - started)
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
