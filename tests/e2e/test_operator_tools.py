"""Operators' tools: `status` (backlog, ages, last and next runs, failures), `show` lineage both ways,
shell completion, and logs (JSON lines with stage and ticket, national numbers masked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from lxml import etree
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cbss_batch.cli import cli
from cbss_batch.dimona_builder import DimonaForm, make_dimona
from cbss_batch.store import queries
from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, NewDbUrl, Workspace, write_config

DAY = TODAY.replace(day=20)
NOON = datetime.combine(TODAY, datetime.min.time()).replace(hour=12)  # the fixed processing clock of the tests
FI_1 = "FI.DMFA.006400.20261120.00001.T.1.1"


def _json(ws: Workspace, *args: str) -> Any:
    result = ws.cli("--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _run(ws: Workspace) -> None:
    result = ws.cli("run")
    assert result.exit_code == 0, result.output


def _cbss(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m cbss_batch`` in the workspace, as the console script runs (errors become one line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBSS_")}
    return subprocess.run([sys.executable, "-m", "cbss_batch", "--db", ws.db_url, *args], cwd=ws.root, env=env,
                          capture_output=True, text=True, check=False)


def _sql(ws: Workspace, statement: str, **params: Any) -> None:
    engine = create_engine(ws.db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(statement), params)
    engine.dispose()


def _institutions_workspace(tmp_path: Path, new_db_url: NewDbUrl) -> Workspace:
    """A workspace with two institutions: every DmfA fact, and Dimona facts only."""
    root = tmp_path / "ws"
    write_config(root)
    folder = root / "config" / "institutions"
    folder.mkdir(parents=True)
    (folder / "pensions.toml").write_text('name = "pensions"\n[[subscriptions]]\nkind = "dmfa"\n', encoding="utf-8")
    (folder / "accidents.toml").write_text('name = "accidents"\nfile_type = "EXAC"\n[[subscriptions]]\n'
                                           'kind = "dimona"\n', encoding="utf-8")
    ws = Workspace(root, new_db_url(root))
    assert ws.cli("init").exit_code == 0
    return ws


def _line_at(path: Path, line: int) -> str:
    return path.read_text(encoding="utf-8").splitlines()[line - 1]


# --- status ------------------------------------------------------------------------------------------


def test_status_reports_backlog_by_state_with_ages_pending_push_and_failures(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY)
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY, seq=2)  # same content
    _run(workspace)
    # Three days ago the first set arrived, two hours ago its answers were written.
    _sql(workspace, "UPDATE file_sets SET received_at = :at WHERE id = 1", at=NOON - timedelta(days=3))
    _sql(workspace, "UPDATE outbound_messages SET created_at = :at WHERE set_id = 1", at=NOON - timedelta(hours=2))
    # The sender gets an SFTP mailbox: its answers, written locally, still wait for their push.
    senders = workspace.root / "config" / "senders"
    senders.mkdir(parents=True)
    (senders / "006400.toml").write_text('number = "006400"\n[mandates]\nall_employers = true\n[mailbox]\n'
                                         'host = "sftp.example.org"\nuser = "u006400"\nkey_env = "CBSS_TEST_KEY"\n',
                                         encoding="utf-8")
    # A set waiting in the inbox since an hour, and a nightly job whose run failed.
    waiting = drop_set(workspace.inbox, "006400", make_dmfa(workers=1, quarter="20253", seed=7), day=DAY, seq=3)
    hour_ago = time.time() - 3600
    for path in waiting:
        os.utime(path, (hour_ago, hour_ago))
    engine = create_engine(workspace.db_url, poolclass=NullPool)
    with engine.begin() as conn:
        run_id = queries.start_run(conn, "run", NOON, job="nightly")
        queries.finish_run(conn, run_id, now=NOON, sets=0, accepted=0, refused=0, status="failed",
                           message="cannot list IN on sftp.example.org: connection refused")
    engine.dispose()

    status = _json(workspace, "status")

    assert status["sets_by_state"] == {"accepted": 1, "rejected": 1}
    sets = status["backlog"]["sets"]
    assert sets["accepted"]["oldest_age_seconds"] == 3 * 86400
    assert sets["accepted"]["oldest_received_at"] == "2026-11-25 12:00:00"
    assert sets["rejected"]["oldest_age_seconds"] == 0
    inbox = status["backlog"]["inbox"]
    assert inbox["files"] == status["inbox_files_waiting"] == 2
    assert 3590 <= inbox["oldest_age_seconds"] <= 3700
    push = status["backlog"]["answers_pending_push"]
    assert (push["count"], push["by_mailbox"], push["failing"]) == (3, {"006400": 3}, 0)
    assert push["oldest_age_seconds"] == 7200
    assert status["backlog"]["answers_pending_delivery"]["count"] == status["answers_pending"] == 0
    assert status["backlog"]["extracts_pending_delivery"]["count"] == 0
    assert status["last_run"]["job"] == "nightly" and status["last_run"]["status"] == "failed"
    assert status["last_run"]["host"] and status["last_run"]["pid"]
    [failed_run] = status["failed_runs"]
    assert failed_run["message"] == "cannot list IN on sftp.example.org: connection refused"
    [refused] = status["failures"]
    assert (refused["state"], refused["error_codes"]) == ("rejected", "ACRF-133")
    assert refused["reason"].startswith("the same content was accepted before")
    assert status["scheduler_has_run"] is False and status["next_scheduled_runs"] == []

    shown = workspace.cli("status")
    assert shown.exit_code == 0, shown.output
    assert "3 d 0 h" in shown.output and "answers waiting for an SFTP push" in shown.output
    assert "no scheduler has run" in shown.output
    assert "ACRF-133" in shown.output


def test_status_lists_the_next_runs_of_the_scheduler_job_store(workspace: Workspace) -> None:
    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger

    from cbss_batch.jobs import JOB_FUNCTION
    from cbss_batch.store.session import make_engine

    assert _json(workspace, "status")["scheduler_has_run"] is False
    # The job store as the scheduler leaves it, written by APScheduler itself (no scheduler running).
    engine = make_engine(workspace.db_url)
    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    scheduler = BackgroundScheduler()
    store.start(scheduler, "default")
    now = datetime.now(UTC)
    for name, every, next_run in (("mailboxes", timedelta(hours=6), now + timedelta(hours=2)),
                                  ("tidy", timedelta(days=1), now - timedelta(minutes=30))):
        store.add_job(Job(scheduler, id=name, func=JOB_FUNCTION, trigger=IntervalTrigger(seconds=every.seconds
                                                                                         + every.days * 86400),
                          executor="default", args=("config/cbss.toml", None, name), kwargs={}, name=name,
                          misfire_grace_time=60, coalesce=True, max_instances=1, next_run_time=next_run))
    store.shutdown()
    engine.dispose()

    status = _json(workspace, "status")

    assert status["scheduler_has_run"] is True
    tidy, mailboxes = status["next_scheduled_runs"]
    assert (tidy["job"], mailboxes["job"]) == ("tidy", "mailboxes")
    assert -1900 <= tidy["due_in_seconds"] <= -1790  # overdue: no active scheduler ran it
    assert 7100 <= mailboxes["due_in_seconds"] <= 7200
    local = (now + timedelta(hours=2)).astimezone().replace(tzinfo=None)
    assert mailboxes["next_run_time"] == local.isoformat(sep=" ", timespec="seconds")
    shown = workspace.cli("status")
    assert shown.exit_code == 0, shown.output
    assert "overdue by 30 min" in shown.output and "in 1 h 59 min" in shown.output


# --- show: lineage ---------------------------------------------------------------------------------------


def test_show_follows_an_answer_back_to_the_declarations_staging_rows_and_archived_file(
        workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=3, quarter="20253", faults=["bad_insz"]), day=DAY)
    _run(workspace)
    [noti] = [p.name for p in workspace.out().glob("FO.NOTI.*")]

    answer = _json(workspace, "show", noti)

    assert (answer["kind"], answer["type"], answer["state"]) == ("answer", "NOTI", "written")
    assert answer["set_state"] == "accepted" and answer["set_name"] == "GO.DMFA.006400.20261120.00001.T.1"
    [declaration] = answer["declarations"]
    assert declaration["type"] == "dmfa" and declaration["accepted"] is False
    assert declaration["set_ticket"] == answer["set_ticket"]
    staging = declaration["staging"]
    assert (staging["declarations"], staging["natural_persons"], staging["worker_records"]) == (1, 3, 3)
    assert staging["occupations"] >= 3 and staging["anomalies"] == 1
    # Counted through the worker lines plus the employer-level contribution (the only ones indexed by declaration).
    assert workspace.sql("select count(*) from contributions where worker_record_id is null") == [(1,)]
    assert [(staging["contributions"],)] == workspace.sql(
        "select count(*) from contributions where declaration_id = (select id from declarations)")
    source = declaration["source"]
    assert source["file"] == FI_1
    archived = Path(source["archive"])
    assert archived.is_file() and archived.name == source["sha256"]
    assert _line_at(archived, source["line"])[source["column"] - 1:].startswith("<Form>")
    assert [f["name"] for f in answer["files"]] == [FI_1, "GO.DMFA.006400.20261120.00001.T.1"]

    # The declaration by its ticket carries the same staging rows and place.
    by_ticket = _json(workspace, "show", declaration["ticket"])
    assert (by_ticket["staging"], by_ticket["source"]) == (staging, source)

    text_view = workspace.cli("show", noti)
    assert text_view.exit_code == 0, text_view.output
    assert f"source: {FI_1} line {source['line']} column {source['column']}" in text_view.output
    assert "natural_persons 3" in text_view.output


def test_an_answer_name_given_to_two_senders_needs_the_sender(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=1, quarter="20253"), day=DAY)
    drop_set(workspace.inbox, "006401", make_dmfa(workers=1, quarter="20253", seed=5), day=DAY)
    _run(workspace)
    name = "FO.ACRF.999999.20261128.00001.T"  # each sender's first answer of the day
    ambiguous = _cbss(workspace, "show", name)
    assert ambiguous.returncode == 1
    assert ambiguous.stderr == (f"Error: {name} names 2 files: 006400/{name}, 006401/{name}; give one of these\n")
    answer = _json(workspace, "show", f"006401/{name}")
    assert (answer["mailbox"], answer["type"]) == ("006401", "ACRF")


def test_show_follows_a_set_forward_to_declarations_answers_facts_and_extracts(tmp_path: Path,
                                                                               new_db_url: NewDbUrl) -> None:
    ws = _institutions_workspace(tmp_path, new_db_url)
    drop_set(ws.inbox, "006400", make_dmfa(workers=3, quarter="20253", seed=3), day=DAY)
    _run(ws)
    drop_set(ws.inbox, "006400", make_dimona([DimonaForm(action="IN", starting_date=date(2026, 9, 1))]), day=DAY,
             seq=2, file_type="DIMN")
    _run(ws)
    assert ws.cli("extract").exit_code == 0
    [dmfa_set, dimona_set] = sorted(_json(ws, "files"), key=lambda s: s["ticket"])

    shown = _json(ws, "show", dmfa_set["ticket"])

    [declaration] = shown["declarations"]
    assert [a["kind"] for a in shown["answers"]] == ["ACRF", "NOTI"]
    assert all(a["written_at"] for a in shown["answers"])
    [fact] = shown["facts"]
    assert (fact["kind"], fact["mutation"], fact["ticket"]) == ("dmfa", "new", declaration["ticket"])
    # The accidents extract covers this event's number but takes Dimona facts only: not listed.
    assert fact["extracts"] == ["pensions/FO.EXTR.999999.20261128.00001.T"]
    [extract] = shown["extracts"]
    assert (extract["institution"], extract["records"], extract["events"]) == ("pensions", 3, [fact["event"]])
    dimona = _json(ws, "show", dimona_set["ticket"])
    assert dimona["facts"][0]["extracts"] == ["accidents/FO.EXAC.999999.20261128.00001.T"]

    # A received file name leads to the same set.
    by_file = _json(ws, "show", FI_1)
    assert by_file["ticket"] == dmfa_set["ticket"] and by_file["other_sets_with_this_file"] == []
    assert by_file["facts"] == shown["facts"]

    text_view = ws.cli("show", dmfa_set["ticket"])
    assert text_view.exit_code == 0, text_view.output
    assert "extract pensions/FO.EXTR.999999.20261128.00001.T (written): 3 records of this set" in text_view.output


def test_show_follows_an_extract_and_one_of_its_records_back_to_the_archived_line(tmp_path: Path,
                                                                                  new_db_url: NewDbUrl) -> None:
    ws = _institutions_workspace(tmp_path, new_db_url)
    content = make_dmfa(workers=3, quarter="20253", seed=3)
    drop_set(ws.inbox, "006400", content, day=DAY)
    _run(ws)
    assert ws.cli("extract").exit_code == 0
    name = "FO.EXTR.999999.20261128.00001.T"

    extract = _json(ws, "show", name)
    assert (extract["kind"], extract["institution"], extract["records"]) == ("extract", "pensions", 3)
    [event] = extract["events"]
    assert event["records"] == 3 and event["set_name"] == "GO.DMFA.006400.20261120.00001.T.1"
    [declaration] = extract["declarations"]
    assert declaration["ticket"] == event["ticket"] and declaration["staging"]["worker_records"] == 3

    record = _json(ws, "show", f"pensions/{name}:2")
    assert (record["kind"], record["record"], record["event"], record["mutation"]) == (
        "extract_record", 2, event["event"], "new")
    assert record["lineage"]["declaration_ticket"] == event["ticket"]
    inss = [e.text for e in etree.fromstring(content).iter("INSS")]
    assert record["payload"]["fields"]["INSS"].endswith("-***-**")
    assert record["payload"]["fields"]["INSS"][:6] in {i[:6] for i in inss if i}
    source = record["declaration"]["source"]
    assert source["line"] == record["lineage"]["line"] and source["file"] == FI_1
    assert _line_at(Path(source["archive"]), source["line"])[source["column"] - 1:].startswith("<WorkerRecord>")

    text_view = ws.cli("show", f"{name}:2")
    assert text_view.exit_code == 0, text_view.output
    assert f"line {source['line']} column {source['column']}" in text_view.output
    assert not any(i and i in text_view.output for i in inss)
    missing = _cbss(ws, "show", f"{name}:9")
    assert missing.returncode == 1
    assert missing.stderr == f"Error: {name} has no record 9; it holds records 1 to 3\n"


def test_show_of_an_unknown_name_says_what_it_looks_for(workspace: Workspace) -> None:
    result = _cbss(workspace, "show", "FO.NOTI.999999.20261128.00042.T")
    assert result.returncode == 1
    assert "nor the name of an answer, an extract or a received file" in result.stderr


# --- shell completion ------------------------------------------------------------------------------------


def test_completion_prints_clicks_script_for_each_shell() -> None:
    runner = CliRunner()
    bash = runner.invoke(cli, ["completion", "bash"])
    assert bash.exit_code == 0, bash.output
    assert "_CBSS_BATCH_COMPLETE=bash_complete" in bash.output
    assert "complete -o nosort -F _cbss_batch_completion cbss-batch" in bash.output
    assert "#compdef cbss-batch" in runner.invoke(cli, ["completion", "zsh"]).output
    assert "_CBSS_BATCH_COMPLETE=fish_complete" in runner.invoke(cli, ["completion", "fish"]).output
    assert runner.invoke(cli, ["completion", "tcsh"]).exit_code == 2


def test_completion_answers_for_the_installed_command(tmp_path: Path) -> None:
    env = {**os.environ, "_CBSS_BATCH_COMPLETE": "bash_complete", "COMP_WORDS": "cbss-batch files --state ",
           "COMP_CWORD": "3"}
    result = subprocess.run([sys.executable, "-c", "from cbss_batch.cli import main; main()"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "plain,rejected" in result.stdout.splitlines()


# --- logs --------------------------------------------------------------------------------------------------


def test_json_logs_give_one_object_per_line_with_stage_and_ticket(workspace: Workspace) -> None:
    drop_set(workspace.inbox, "006400", make_dmfa(workers=2, quarter="20253"), day=DAY)
    drop_set(workspace.inbox, "006400", b"<DmfAOriginal><broken", day=DAY, seq=2)
    result = _cbss(workspace, "--log-format", "json", "-v", "run")
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    accepted, refused = sorted(_json(workspace, "files"), key=lambda s: s["ticket"])
    stages = {(e.get("ticket"), e["stage"]) for e in entries if "stage" in e}
    assert {(accepted["ticket"], s) for s in ("received", "checked", "queued", "staged")} <= stages
    assert (refused["ticket"], "refused") in stages
    delivered = [e for e in entries if e.get("stage") == "delivered"]
    assert len(delivered) == 3 and all(e["answer"].startswith("FO.") for e in delivered)
    [summary] = [e for e in entries if e.get("stage") == "run"]
    assert (summary["sets"], summary["sets_accepted"], summary["sets_rejected"], summary["answers_written"]) == (
        2, 1, 1, 3)
    archived = [e for e in entries if e.get("stage") == "archived"]
    assert [e["set_name"] for e in archived] == ["GO.DMFA.006400.20261120.00001.T.1",
                                                 "GO.DMFA.006400.20261120.00002.T.1"]


def test_a_full_cycle_with_debug_json_logs_shows_no_national_number(tmp_path: Path, new_db_url: NewDbUrl) -> None:
    ws = _institutions_workspace(tmp_path, new_db_url)
    content = make_dmfa(workers=4, quarter="20253", seed=11, faults=["bad_insz", "duplicate_insz"])
    drop_set(ws.inbox, "006400", content, day=DAY)
    # A set whose schema error quotes a national number (with a letter glued to it) in the logged reason.
    other = make_dmfa(workers=2, quarter="20253", seed=12)
    first = next(e.text for e in etree.fromstring(other).iter("INSS"))
    drop_set(ws.inbox, "006400", other.replace(f"<INSS>{first}</INSS>".encode(), f"<INSS>{first}X</INSS>".encode()),
             day=DAY, seq=2)
    inss = {e.text for doc in (content, other) for e in etree.fromstring(doc).iter("INSS") if e.text}
    assert len(inss) >= 5 and first in inss
    logs = []
    for command in (["run"], ["extract"], ["show", FI_1], ["--json", "status"]):
        result = _cbss(ws, "--log-format", "json", "-vv", *command)
        assert result.returncode == 0, result.stderr
        logs.append(result.stderr)
    assert f"'{first[:6]}-***-**X'" in result.stdout and first not in result.stdout  # status: reason masked
    log_text = "".join(logs)  # each ends with a newline, or is empty
    entries = [json.loads(line) for line in log_text.splitlines()]
    assert any(e["level"] == "DEBUG" for e in entries)
    refused = [e for e in entries if e.get("stage") == "refused"]
    assert len(refused) == 1 and f"'{first[:6]}-***-**X'" in refused[0]["message"]
    assert sorted(i for i in inss if i in log_text) == []
