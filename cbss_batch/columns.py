"""Columns for findings: lxml reports the line of an element, a reader wants the column too."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from cbss_batch.records import Finding


class HasFindings(Protocol):
    findings: list[Finding]


def fill_columns(paths: list[Path], outcomes: Iterable[HasFindings]) -> None:
    """Give every finding that has a line the column of its element's start tag on that line.

    lxml reports lines, not columns, while streaming; this reads the document once more, only
    when there are findings, and only looks at the lines needed.
    """
    outcomes = list(outcomes)
    wanted: dict[int, set[str]] = {}
    for outcome in outcomes:
        for f in outcome.findings:
            if f.line and not f.column:
                wanted.setdefault(f.line, set()).add(f.tag or "")
    if not wanted:
        return
    columns: dict[tuple[int, str], int] = {}
    last = max(wanted)
    line_no = 0
    for path_line in _lines(paths):
        line_no += 1
        if line_no in wanted:
            text = path_line.decode("utf-8", "replace")
            for tag in wanted[line_no]:
                pos = text.find(f"<{tag}") if tag else -1
                if pos < 0:
                    pos = len(text) - len(text.lstrip())
                columns[(line_no, tag)] = pos + 1
        if line_no >= last:
            break
    for outcome in outcomes:
        outcome.findings = [dataclasses.replace(f, column=columns.get((f.line, f.tag or ""), 1))
                            if f.line and not f.column else f for f in outcome.findings]


def _lines(paths: list[Path]) -> Iterable[bytes]:
    carry = b""
    for path in paths:
        with path.open("rb") as handle:
            for chunk_line in handle:
                if not chunk_line.endswith(b"\n"):
                    carry += chunk_line
                    continue
                yield carry + chunk_line
                carry = b""
    if carry:
        yield carry
