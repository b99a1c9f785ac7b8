"""Pytest plugin: every log line the test session writes is scanned for national numbers in clear.

Loaded for the whole suite (``-p tests.log_scan`` in setup.cfg). Each record goes through the same
masking filter as the program's own handlers, is formatted with its extra fields and traceback, and
is searched for anything shaped like an INSZ (11 digits, or written 85.07.30-033.28 / 85 07 30 033 28)
that passes the INSZ check digits. Any such line fails the session, naming the test and the line.
"""

from __future__ import annotations

import logging
import re

import pytest

from cbss_batch import logging_setup
from cbss_batch.ids import is_valid_insz
from cbss_batch.logging_setup import JsonFormatter, MaskInsz

_SHAPE = re.compile(r"(?<!\d)(\d{2})[ .]?(\d{2})[ .]?(\d{2})[-. ]?(\d{3})[-. ]?(\d{2})(?!\d)")


class _Scanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.addFilter(MaskInsz())
        self.setFormatter(JsonFormatter())
        self.lines = 0
        self.leaks: list[tuple[str, str]] = []
        self.test = "(collection)"

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("cbss_batch"):
            return  # the libraries' own records are not ours to scan (and paramiko's debug is huge)
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is not ours to judge here
            return
        self.lines += 1
        for match in _SHAPE.finditer(text):
            if is_valid_insz("".join(match.groups())):
                self.leaks.append((self.test, text[:300]))


_scanner = _Scanner()


_configure = logging_setup.configure_logging


def _configure_and_see_everything(verbosity: int, log_format: str = "text") -> None:
    """The program's own set-up, then: its handler keeps its level while the program's loggers pass
    debug records on, so the scan sees every record cbss_batch emits (patched before cbss_batch.cli
    imports it). Other libraries keep the program's level."""
    _configure(verbosity, log_format)
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_cbss", False):
            handler.setLevel(root.level)
    logging.getLogger("cbss_batch").setLevel(logging.DEBUG)


logging_setup.configure_logging = _configure_and_see_everything


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_scanner)
    logging.getLogger("cbss_batch").setLevel(logging.DEBUG)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # type: ignore[no-untyped-def]
    _scanner.test = item.nodeid
    yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_scanner)
    if _scanner.leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"log scan: {len(_scanner.leaks)} log line(s) with a national number in clear:",
                                red=True)
            for test, line in _scanner.leaks[:20]:
                reporter.write_line(f"  {test}: {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _scanner.leaks:
        terminalreporter.write_line(f"log scan: {_scanner.lines} log lines, no national number in clear")
