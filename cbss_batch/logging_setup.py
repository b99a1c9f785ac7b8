"""Log handlers, set up once by the command line; national numbers are masked on the way out.

Two formats: ``text`` (one line: time, level, logger, message) and ``json`` (one JSON object per line:
``time``, ``level``, ``logger``, ``message``, the ``extra`` fields given to the call such as ``ticket``
and ``stage``, and ``exception`` with the traceback). Either way every INSZ-shaped number is masked —
in the message, its arguments, the extra fields and the exception text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime
from typing import Any

# 11 digits, or the written form 85.07.30-123.45 / 850730-123-45 / 850730 123 45.
_INSZ = re.compile(r"(?<!\d)(\d{2}\.?\d{2}\.?\d{2})[-. ]?(\d{3})[-. ]?(\d{2})(?!\d)")
LOG_FORMATS = ("text", "json")
# What every LogRecord carries; anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


def mask_text(text: str) -> str:
    """``text`` with every national number reduced to its birth-date part (``850730-***-**``)."""
    return _INSZ.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    return match.group(1).replace(".", "") + "-***-**"


class MaskInsz(logging.Filter):
    """Mask anything shaped like a national number in every record, whatever logged it: the message with its
    arguments, the extra fields, the exception and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: log what was given rather than fail
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = mask_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD:
                setattr(record, key, _mask_value(value))
        return True


def _mask_value(value: Any) -> Any:
    """An extra field with national numbers masked; a number that looks like one becomes the masked text."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        masked = mask_text(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _mask_value(item) for key, item in value.items()}
    return value


# Line breaks, terminal escapes and lone surrogates from a sender's file name would forge or garble log lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape", "backslashreplace").decode("ascii")


class TextFormatter(logging.Formatter):
    """One line per record (time, level, logger, message); control characters in the message shown escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _CONTROL.sub(_escape, super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        entry.update((key, value) for key, value in record.__dict__.items() if key not in _STANDARD)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(verbosity: int, log_format: str = "text") -> None:
    """One stderr handler: warnings by default, info with -v, debug with -vv, errors only with -q;
    ``log_format`` is ``text`` or ``json`` (one object per line)."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cbss", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._cbss = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format == "json"
                         else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskInsz())
    root.addHandler(handler)
    root.setLevel(level)
