"""Log handlers, set up once by the command line; national numbers are masked on the way out."""

from __future__ import annotations

import logging
import re
import sys

_INSZ = re.compile(r"(?<!\d)(\d{6})(\d{5})(?!\d)")


class MaskInsz(logging.Filter):
    """Mask anything shaped like a national number (11 digits) in every record, whatever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _INSZ.sub(r"\1-***-**", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(verbosity: int) -> None:
    """One stderr handler: warnings by default, info with -v, debug with -vv, errors only with -q."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cbss", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._cbss = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskInsz())
    root.addHandler(handler)
    root.setLevel(level)
