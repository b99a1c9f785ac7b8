"""The ``stats`` command: quarterly figures as CSV and Parquet files and PNG charts (stats.py holds the figures).

pyarrow and matplotlib are imported by this command only, when it writes their files.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cbss_batch.cli import Context, _print_table, pass_context
from cbss_batch.errors import BatchError
from cbss_batch.records import Quarter

if TYPE_CHECKING:
    from cbss_batch.stats import QuarterlyStats, StatsTable

log = logging.getLogger(__name__)

FORMATS = {"csv": ("csv",), "parquet": ("parquet",), "both": ("csv", "parquet")}


def _check_quarters(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            Quarter.parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
    return values


@click.command()
@click.option("--quarter", "quarters", multiple=True, callback=_check_quarters, metavar="YYYYQ",
              help="Only this quarter, e.g. 20253 (repeatable); default: every quarter in the database.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("var/stats"),
              show_default=True, help="Folder for the files (created when missing).")
@click.option("--format", "file_format", type=click.Choice(sorted(FORMATS)), default="both", show_default=True,
              help="Table files to write.")
@click.option("--charts/--no-charts", default=True, show_default=True, help="Draw the PNG charts.")
@pass_context
def stats(ctx: Context, quarters: tuple[str, ...], out_dir: Path, file_format: str, charts: bool) -> None:
    """Quarterly figures of the accepted declarations: employment (persons, worker lines, FTE) and wages by
    joint committee and worker code, contributions due, social-risk declarations and their benefits."""
    from cbss_batch.stats import collect_stats
    from cbss_batch.store.session import open_database

    engine = open_database(ctx.settings.database_url)
    try:
        with engine.connect() as conn:
            figures = collect_stats(conn, quarters)
    finally:
        engine.dispose()
    written: list[Path] = []
    if not figures.is_empty:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            for table in figures.tables:
                for suffix in FORMATS[file_format]:
                    written.append(write_table(table, out_dir / f"{table.name}.{suffix}"))
            if charts:
                written.extend(draw_charts(figures, out_dir))
        except OSError as exc:
            raise BatchError(f"cannot write the figures to {out_dir}: {exc}; choose another folder with --out") \
                from exc
        log.info("stats: %d quarters, %d files written to %s", len(figures.quarters.rows), len(written), out_dir)
    asked = sorted(set(quarters))
    scope = f"quarter{'s' if len(asked) > 1 else ''} {', '.join(asked)}" if asked else "any quarter"
    data = {"out": str(out_dir), "quarters_asked": asked, "files": [str(p) for p in written],
            "quarters": figures.quarters.as_dicts(), "totals": figures.totals,
            "message": None if written else f"no accepted declaration for {scope} in the database: no file written"}
    ctx.emit(data, _render)


def _render(d: dict[str, Any]) -> None:
    if d["message"]:
        click.echo(d["message"])
        return
    _print_table("quarterly figures", (
        "quarter", "persons", "lines", "FTE", "wages EUR", "contrib. due EUR", "risk decl.", "benefits",
        "benefits EUR/day"), [(str(row["quarter"]) or "no date", *(str(v) for k, v in row.items() if k != "quarter"))
                              for row in d["quarters"]])
    click.echo(f"{len(d['files'])} files written to {d['out']}")


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write through ``name.part`` and rename, so a reader never sees half a file."""
    part = path.with_name(path.name + ".part")
    write(part)
    os.replace(part, path)
    return path


def write_table(table: StatsTable, path: Path) -> Path:
    """The table as CSV (UTF-8, header line, amounts as plain decimals) or Parquet, by the path's suffix."""
    if path.suffix == ".csv":
        def write_csv(part: Path) -> None:
            with part.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(table.column_names)
                writer.writerows(table.rows)

        return _atomic(path, write_csv)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cbss_batch.stats import FTE_DIGITS

    types = {"text": pa.string(), "count": pa.int64(), "eur": pa.decimal128(18, 2),
             "fte": pa.decimal128(18, FTE_DIGITS)}
    schema = pa.schema([(name, types[kind]) for name, kind in table.columns])
    arrow = pa.Table.from_pylist(table.as_dicts(), schema=schema)
    return _atomic(path, lambda part: pq.write_table(arrow, part))


def draw_charts(figures: QuarterlyStats, out_dir: Path) -> list[Path]:
    """PNG charts of the main series over the quarters: employment, money, social risks (those with data)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [r for r in figures.quarters.as_dicts() if r["quarter"]]
    dmfa = [r for r in rows if r["worker_lines"]]
    labels = [_label(str(r["quarter"])) for r in dmfa]
    written = []
    charts: list[tuple[str, str, str, list[tuple[str, list[float]]]]] = []
    if dmfa:
        # float only to plot: the files carry the exact figures
        charts.append(("employment", "Employment per quarter", "persons / FTE", [
            ("persons", [float(r["persons"]) for r in dmfa]), ("FTE", [float(r["fte"]) for r in dmfa])]))
        charts.append(("wages", "Wages and contributions due per quarter", "EUR", [
            ("wages", [float(r["wages_eur"]) for r in dmfa]),
            ("contributions due", [float(r["contributions_due_eur"]) for r in dmfa])]))
    for name, title, unit, series in charts:
        figure, axes = plt.subplots(figsize=(8, 4.5))
        width = 0.8 / len(series)
        for index, (series_label, values) in enumerate(series):
            axes.bar([i + (index - (len(series) - 1) / 2) * width for i in range(len(labels))], values, width,
                     label=series_label)
        written.append(_save(plt, figure, axes, out_dir / f"{name}.png", title, unit, labels))
    risk_rows = [r for r in figures.risks.as_dicts() if r["quarter"]]
    if risk_rows:
        quarters = sorted({str(r["quarter"]) for r in risk_rows})
        figure, axes = plt.subplots(figsize=(8, 4.5))
        bottom = [0.0] * len(quarters)
        for scenario in sorted({str(r["scenario"]) for r in risk_rows}):
            counts = {str(r["quarter"]): float(r["risk_declarations"]) for r in risk_rows if r["scenario"] == scenario}
            values = [counts.get(q, 0.0) for q in quarters]
            axes.bar(range(len(quarters)), values, 0.6, bottom=bottom, label=scenario)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        from matplotlib.ticker import MaxNLocator

        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        written.append(_save(plt, figure, axes, out_dir / "risks.png",
                             "Social-risk declarations per quarter, by scenario", "declarations",
                             [_label(q) for q in quarters]))
    return written


def _label(quarter: str) -> str:
    return f"{quarter[:4]} Q{quarter[4:]}"


def _save(plt: Any, figure: Any, axes: Any, path: Path, title: str, unit: str, labels: list[str]) -> Path:
    axes.set_title(title)
    axes.set_ylabel(unit)
    axes.set_xticks(range(len(labels)), labels)
    axes.legend()
    figure.tight_layout()
    try:
        return _atomic(path, lambda part: figure.savefig(part, format="png", dpi=100))
    finally:
        plt.close(figure)
