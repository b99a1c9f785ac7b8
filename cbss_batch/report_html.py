"""The HTML report of ``cbss-batch validate --html FILE``: one self-contained page a sender can open or pass on.

It is written from the same data as ``--json`` (``FileReport.as_dict``), so the two never disagree.
Inline CSS only: no script, no font, no image, nothing fetched. Every value from a file goes
through ``html.escape``: a declaration may hold any text, markup included.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

from cbss_batch.errors import BatchError
from cbss_batch.explain import CLASS_NAMES

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a1a1a; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; word-break: break-all; }
table { border-collapse: collapse; margin: 0.8em 0; width: 100%; }
th, td { border: 1px solid #c8c8c8; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; white-space: nowrap; }
code, .mono { font-family: ui-monospace, monospace; font-size: 0.92em; }
.path { word-break: break-all; color: #555; }
.verdict { display: inline-block; padding: 0.1em 0.6em; border-radius: 0.3em; font-weight: bold; }
.valid { background: #dff0d8; color: #1e5a1e; } .invalid { background: #f8d7da; color: #7a1c24; }
tr.B td.class { color: #7a1c24; font-weight: bold; }
.notes { color: #6a4a00; }
"""


def render_html(data: Mapping[str, Any], *, today: date) -> str:
    """The whole report as one HTML document; ``data`` is what ``validate --json`` prints."""
    files: list[Mapping[str, Any]] = list(data["files"])
    valid = sum(1 for f in files if f["valid"])
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f"<title>cbss-batch validate: {len(files)} file(s), {len(files) - valid} not valid</title>\n",
        f"<style>{_CSS}</style>\n</head>\n<body>\n<h1>Validation report</h1>\n",
        f"<p>Checked on {_e(today.isoformat())}: {len(files)} file(s), {valid} valid, {len(files) - valid} not "
        "valid. Only class B (blocking) anomalies refuse a declaration; the others are for information.</p>\n",
        _summary(files),
    ]
    parts.extend(_file_section(number, f) for number, f in enumerate(files, start=1))
    parts.append("</body>\n</html>\n")
    return "".join(parts)


def write_html(data: Mapping[str, Any], path: Path, *, today: date) -> None:
    """Write the report to ``path`` (via ``path.part`` and a rename); BatchError when it cannot be written."""
    temp = path.with_name(path.name + ".part")
    try:
        temp.write_text(render_html(data, today=today), encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        raise BatchError(
            f"cannot write the HTML report {path}: {exc.strerror or exc}; check that the folder exists and is writable"
        ) from exc


def _summary(files: list[Mapping[str, Any]]) -> str:
    head = "".join(f'<th title="{_e(name)}">{_e(cls)}</th>' for cls, name in CLASS_NAMES.items())
    rows = []
    for number, f in enumerate(files, start=1):
        counts = f.get("counts", {})
        cells = "".join(f'<td class="num">{counts.get(cls, 0)}</td>' for cls in CLASS_NAMES)
        rows.append(
            f'<tr><td><a href="#file-{number}">{_e(f["file"])}</a></td><td>{_verdict(f["valid"])}</td>{cells}</tr>\n'
        )
    return f"<table>\n<tr><th>file</th><th>verdict</th>{head}</tr>\n{''.join(rows)}</table>\n"


def _file_section(number: int, f: Mapping[str, Any]) -> str:
    counts = f.get("counts", {})
    counted = ", ".join(f"{n} {_e(CLASS_NAMES.get(cls, cls))} ({_e(cls)})" for cls, n in counts.items())
    parts = [
        f'<section id="file-{number}">\n<h2>{_e(f["file"])}</h2>\n',
        f"<p>{_verdict(f['valid'])} {counted or 'no anomaly'}</p>\n",
    ]
    if f.get("notes"):
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in f["notes"]) + "</ul>\n")
    if f["declarations"]:
        parts.append(_declarations(f["declarations"]))
    rows = [_anomaly_row("file", a) for a in f["file_problems"]]
    for d in f["declarations"]:
        rows.extend(_anomaly_row(f"declaration {d['form']}", a) for a in d["anomalies"])
    if rows:
        parts.append(
            "<table>\n<tr><th>where</th><th>code</th><th>class</th><th>line:column</th><th>element / path</th>"
            "<th>value</th><th>what was found</th><th>rule</th><th>how to fix it</th></tr>\n"
            + "".join(rows)
            + "</table>\n"
        )
    parts.append("</section>\n")
    return "".join(parts)


def _declarations(declarations: Iterable[Mapping[str, Any]]) -> str:
    rows = []
    for d in declarations:
        if d["accepted"]:
            state = "would be accepted"
        elif d.get("refused_with_file") and not any(a["class"] == "B" for a in d["anomalies"]):
            state = "refused with the file"
        else:
            state = "would be refused"
        rows.append(
            f"<tr><td>{_e(d['form'])}</td><td>{_e(d['kind'])}</td><td>{_e(d['noss_number'] or '-')}</td>"
            f'<td>{_e(d["quarter"] or "-")}</td><td class="num">{_e(d["persons"])}</td><td>{_e(state)}</td>'
            f'<td class="num">{_euros(d["net_owed_declared"])}</td>'
            f'<td class="num">{_euros(d["net_owed_computed"])}</td></tr>\n'
        )
    return (
        "<table>\n<tr><th>declaration</th><th>kind</th><th>NOSS number</th><th>quarter</th><th>persons</th>"
        "<th>verdict</th><th>net owed declared (EUR)</th><th>net owed computed (EUR)</th></tr>\n"
        + "".join(rows)
        + "</table>\n"
    )


def _anomaly_row(where: str, a: Mapping[str, Any]) -> str:
    position = f"{a['line']}:{a['column'] or 1}" if a.get("line") else "-"
    element = _e(a["element"] or "-")
    if a.get("xpath"):
        element += f'<br><span class="path mono">{_e(a["xpath"])}</span>'
    value = f"<code>{_e(a['value'])}</code>" if a.get("value") is not None else "-"
    return (
        f'<tr class="{_e(a["class"])}"><td>{_e(where)}</td><td><code>{_e(a["code"])}</code></td>'
        f'<td class="class" title="{_e(CLASS_NAMES.get(a["class"], ""))}">{_e(a["class"])}</td>'
        f'<td class="num mono">{_e(position)}</td><td>{element}</td><td>{value}</td><td>{_e(a["message"])}</td>'
        f"<td>{_e(a.get('rule') or '')}</td><td>{_e(a.get('fix') or '')}</td></tr>\n"
    )


def _verdict(valid: bool) -> str:
    return '<span class="verdict valid">valid</span>' if valid else '<span class="verdict invalid">NOT valid</span>'


def _euros(cents: int | None) -> str:
    """Cents as ``9 576.05`` (space-grouped euros); ``-`` when there is no amount."""
    if cents is None:
        return "-"
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{rest:02d}".replace(",", " ")


def _e(value: object) -> str:
    return escape(str(value), quote=True)
