"""The command line as operators and senders meet it: every command, text and --json, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cbss_batch.cli import cli
from cbss_batch.store.session import SCHEMA_HEAD
from tests.builders import drop_set, make_dmfa
from tests.conftest import PROJECT, TODAY, NewDbUrl, Workspace, write_config

NAME_DAY = TODAY.replace(day=20)


def _run_json(ws: Workspace, *args: str) -> object:
    result = ws.cli("--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_init_is_safe_to_repeat(workspace: Workspace) -> None:
    first = _run_json(workspace, "init")
    second = _run_json(workspace, "init")
    assert first == second
    assert isinstance(first, dict) and first["schema"] == SCHEMA_HEAD
    assert (workspace.root / "var" / "archive").is_dir()
    for private in ("var/archive", "var/work"):
        assert (workspace.root / private).stat().st_mode & 0o777 == 0o700


@pytest.mark.backend("sqlite", reason="the file mode of the embedded database file")
def test_init_creates_the_sqlite_database_owner_only(workspace: Workspace) -> None:
    assert (workspace.root / "var" / "cbss.db").stat().st_mode & 0o777 == 0o600


@pytest.mark.backend("sqlite", reason="the page size of the embedded database file")
def test_init_creates_the_sqlite_database_with_8_kib_pages(workspace: Workspace) -> None:
    assert workspace.sql("PRAGMA page_size") == [(8192,)]
    assert workspace.sql("PRAGMA journal_mode") == [("wal",)]


def test_run_reports_a_summary_in_json(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=NAME_DAY)
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253", seed=3, faults=["bad_insz"]),
             day=NAME_DAY, seq=2)
    summary = _run_json(workspace, "run")
    assert isinstance(summary, dict)
    assert (summary["sets"], summary["sets_accepted"], summary["declarations_accepted"],
            summary["declarations_refused"], summary["answers_written"]) == (2, 2, 1, 1, 4)


def test_validate_reports_every_anomaly_with_location_and_exit_code(workspace: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(make_dmfa(workers=5, quarter="20253", faults=["bad_insz", "duplicate_insz", "net_owed_off"]))
    good = tmp_path / "good.xml"
    good.write_bytes(make_dmfa(workers=5, quarter="20253"))
    result = workspace.cli("--json", "validate", str(bad), str(good))
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    bad_report, good_report = report["files"]
    codes = sorted(a["code"] for a in bad_report["declarations"][0]["anomalies"])
    assert codes == ["00015-007", "00024-004", "90017-006"]
    assert all(a["line"] and a["column"] for a in bad_report["declarations"][0]["anomalies"])
    assert good_report["valid"] is True
    text = workspace.cli("validate", str(good))
    assert text.exit_code == 0
    assert "would be accepted" in text.output


def test_validate_reports_schema_problems_with_lines(workspace: Workspace, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_bytes(make_dmfa(workers=2, quarter="20253", faults=["schema"]))
    result = workspace.cli("--json", "validate", str(broken))
    assert result.exit_code == 1
    problems = json.loads(result.output)["files"][0]["file_problems"]
    assert [p["code"] for p in problems] == ["ACRF-091"]
    assert problems[0]["line"] > 0


def test_validate_needs_no_database(tmp_path: Path) -> None:
    write_config(tmp_path)
    good = tmp_path / "good.xml"
    good.write_bytes(make_dmfa(workers=1, quarter="20253"))
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "config" / "cbss.toml"), "validate", str(good)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "var").exists()


def test_validate_starts_without_the_database_layer(tmp_path: Path) -> None:
    """validate is timed against bare lxml: it imports neither SQLAlchemy nor the pipeline (0.3 s of start)."""
    write_config(tmp_path)
    good = tmp_path / "good.xml"
    good.write_bytes(make_dmfa(workers=2, quarter="20253"))
    script = ("import sys\nfrom cbss_batch.cli import main\n"
              f"sys.argv = ['cbss-batch', '--json', 'validate', {str(good)!r}]\n"
              "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
              "loaded = [m for m in ('sqlalchemy', 'cbss_batch.pipeline', 'cbss_batch.loading', 'cryptography')"
              " if m in sys.modules]\n"
              "print('LOADED', code, loaded, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            check=True)
    assert json.loads(result.stdout)["valid"] is True
    assert result.stderr.strip().splitlines()[-1] == "LOADED 0 []"


def test_status_files_and_show_follow_a_set_to_its_lines(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=3, quarter="20253", faults=["bad_insz"]), day=NAME_DAY)
    assert workspace.cli("run").exit_code == 0
    status = _run_json(workspace, "status")
    assert isinstance(status, dict)
    assert status["sets_by_state"] == {"accepted": 1}
    assert status["last_run"]["status"] == "ok"
    sets = _run_json(workspace, "files")
    assert isinstance(sets, list) and len(sets) == 1
    assert sets[0]["declarations_refused"] == 1
    shown = _run_json(workspace, "show", sets[0]["ticket"])
    assert isinstance(shown, dict)
    assert shown["state"] == "accepted"
    assert [f["name"] for f in shown["files"]] == ["FI.DMFA.006400.20261120.00001.T.1.1",
                                                   "GO.DMFA.006400.20261120.00001.T.1"]
    assert all(Path(f["archive"]).is_file() for f in shown["files"])
    assert [a["kind"] for a in shown["answers"]] == ["ACRF", "NOTI"]
    declaration = _run_json(workspace, "show", shown["declarations"][0]["ticket"])
    assert isinstance(declaration, dict)
    assert declaration["set_ticket"] == sets[0]["ticket"]
    assert [a["code"] for a in declaration["anomalies"]] == ["00024-004"]
    assert declaration["anomalies"][0]["line"] > 0
    # No full national number in what operators see.
    assert "INSS" not in json.dumps(declaration["anomalies"][0]["path"])
    for command in (["status"], ["files"], ["show", sets[0]["ticket"]]):
        assert workspace.cli(*command).exit_code == 0


def test_show_unknown_ticket_is_a_clear_error(workspace: Workspace) -> None:
    result = subprocess.run([sys.executable, "-m", "cbss_batch", "--db", workspace.db_url, "show", "NOPE"],
                            cwd=workspace.root, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no set or declaration has ticket 'NOPE'")


def test_missing_config_and_unreachable_database_exit_1_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "cbss_batch", "status"], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "config/cbss.toml not found" in result.stderr
    write_config(tmp_path)
    result = subprocess.run([sys.executable, "-m", "cbss_batch", "--db",
                             "postgresql+psycopg://nobody@127.0.0.1:1/none", "status"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot reach the database")


def test_uninitialised_database_says_to_run_init(tmp_path: Path) -> None:
    write_config(tmp_path)
    result = subprocess.run([sys.executable, "-m", "cbss_batch", "run"], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert "run `cbss-batch init`" in result.stderr


def test_bad_config_value_names_file_and_key(tmp_path: Path) -> None:
    write_config(tmp_path, "[intake]\nmax_parts = 12\n")
    result = subprocess.run([sys.executable, "-m", "cbss_batch", "status"], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert "intake.max_parts" in result.stderr and "cbss.toml" in result.stderr


def test_usage_error_exits_2(workspace: Workspace) -> None:
    result = subprocess.run([sys.executable, "-m", "cbss_batch", "no-such-command"], cwd=workspace.root,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2


def test_db_current_and_upgrade(workspace: Workspace) -> None:
    assert _run_json(workspace, "db", "current") == {"current": SCHEMA_HEAD, "head": SCHEMA_HEAD}
    assert _run_json(workspace, "db", "upgrade") == {"schema": SCHEMA_HEAD}


def test_sample_mailbox_runs_as_shipped(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = Workspace(tmp_path, new_db_url(tmp_path))
    write_config(tmp_path)
    shutil.copytree(PROJECT / "inbox", tmp_path / "inbox")
    assert ws.cli("init").exit_code == 0
    summary = _run_json(ws, "run")
    assert isinstance(summary, dict)
    assert (summary["sets"], summary["sets_accepted"], summary["sets_rejected"]) == (7, 6, 1)
    assert (summary["declarations_accepted"], summary["declarations_refused"]) == (4, 3)


def test_validate_handles_dimona_and_social_risk_files(workspace: Workspace, tmp_path: Path, official: Path) -> None:
    from datetime import date

    from cbss_batch.dimona_builder import DimonaForm, make_dimona

    dimona = tmp_path / "FI.DIMN.006400.20261120.00001.T.1.1"
    dimona.write_bytes(make_dimona([
        DimonaForm(action="IN", starting_date=date(2026, 12, 1)),
        DimonaForm(action="IN", worker_type="STU", starting_date=date(2026, 12, 1), ending_date=date(2027, 1, 5)),
    ]))
    result = workspace.cli("--json", "validate", str(dimona), str(official / "examples" / "VBLV001_20231_1.xml"))
    report = json.loads(result.output)
    forms = report["files"][0]["declarations"]
    assert [(f["kind"], f["accepted"]) for f in forms] == [("Dimona IN", True), ("Dimona IN", False)]
    assert sorted(a["code"] for a in forms[1]["anomalies"]) == ["01135-001", "90373-421"]
    assert report["files"][1]["declarations"][0]["kind"] == "VBLV001 risk 001"
    mislabelled = tmp_path / "FI.DMFA.006400.20261120.00002.T.1.1"
    mislabelled.write_bytes(dimona.read_bytes())
    result = workspace.cli("--json", "validate", str(mislabelled))
    assert result.exit_code == 1
    assert [p["code"] for p in json.loads(result.output)["files"][0]["file_problems"]] == ["ACRF-158"]
