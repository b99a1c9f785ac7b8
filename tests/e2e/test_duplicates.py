"""A repeated INSZ in a big declaration: found with only the INSZ in memory, the first line read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, Workspace


@pytest.mark.parametrize("batch_rows", [1, 100000])  # the first occurrence already staged, or still buffered
def test_the_repeat_names_the_line_of_the_first_occurrence(tmp_path: Path, new_db_url: NewDbUrl,
                                                           batch_rows: int) -> None:
    root = tmp_path / "ws"
    (root / "config").mkdir(parents=True)
    (root / "config" / "cbss.toml").write_text(
        f'[runtime]\ntoday = "{TODAY.isoformat()}"\nbatch_rows = {batch_rows}\n', encoding="utf-8")
    ws = Workspace(root, new_db_url(root))
    assert ws.cli("init").exit_code == 0
    content = make_dmfa(workers=30, quarter="20253", seed=4, faults=["duplicate_insz"])
    persons = list(etree.fromstring(content).iter("NaturalPerson"))
    inszs = [p.findtext("INSS") for p in persons]
    repeated = next(i for i, insz in enumerate(inszs) if insz in inszs[:i])
    first = inszs.index(inszs[repeated])
    drop_set(ws.inbox, "006400", content, day=TODAY.replace(day=20))
    assert ws.cli("run").exit_code == 0
    [(message, line)] = ws.sql("select message, line from anomalies where code = '90017-006'")
    assert line == persons[repeated].sourceline
    assert f"already declared at line {persons[first].sourceline} " in message
    assert f"(NaturalPerson {int(persons[first].findtext('NaturalPersonSequenceNbr') or 0)})" in message
