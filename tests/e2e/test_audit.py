"""The audit log is a hash chain: `cbss-batch audit verify` finds any altered, removed or reordered entry."""

from __future__ import annotations

import json
import stat
from datetime import date

import pytest

from cbss_batch.dimona_builder import DimonaForm, make_dimona
from cbss_batch.errors import BatchError
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, Workspace

DAY = TODAY.replace(day=20)


@pytest.fixture
def audited(workspace: Workspace) -> Workspace:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY, seq=1)
    drop_set(workspace.inbox, "006400", b"not xml", day=DAY, seq=2)
    drop_set(workspace.inbox, "006400", make_dimona([DimonaForm(action="IN", starting_date=date(2026, 9, 1))]),
             day=DAY, seq=3, file_type="DIMN")
    assert workspace.cli("run").exit_code == 0
    return workspace


def test_the_chain_of_a_normal_history_holds(audited: Workspace) -> None:
    result = audited.cli("--json", "audit", "verify")
    assert result.exit_code == 0
    data = json.loads(result.output)
    events = [e for (e,) in audited.sql("select event from audit_events order by id")]
    assert data["holds"] is True and data["entries"] == len(events)
    assert {"received", "accepted", "rejected", "answer-written"} <= set(events)
    assert data["head"] == audited.sql("select chain_hash from audit_events order by id desc limit 1")[0][0]


@pytest.mark.parametrize(("tamper", "broken"), [
    ("update audit_events set detail = 'nothing happened' where id = 3", 3),
    ("update audit_events set event = 'cancelled' where id = 2", 2),
    ("update audit_events set at = '2026-01-01 00:00:00.000000' where id = 4", 4),
    ("delete from audit_events where id = 3", 4),
    ("update audit_events set id = -id where id in (2, 3); update audit_events set id = 5 + id where id < 0", 2),
])
def test_any_tampering_breaks_the_chain(audited: Workspace, tamper: str, broken: int) -> None:
    audited.sql_script(tamper)
    with pytest.raises(BatchError, match=f"from entry {broken}"):
        audited.cli("audit", "verify")


@pytest.mark.backend("sqlite", reason="the file mode of the embedded database file")
def test_the_sqlite_database_is_readable_by_the_owner_only(audited: Workspace) -> None:
    assert stat.S_IMODE((audited.root / "var" / "cbss.db").stat().st_mode) == 0o600


def test_the_archive_is_readable_by_the_owner_only(audited: Workspace) -> None:
    archive = audited.root / "var" / "archive"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o700
    for path in archive.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o400), path
