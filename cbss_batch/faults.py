"""Named crash points for the crash tests: the process dies (or freezes) there when a test-only setting names it.

``CBSS_TEST_CRASH_AT=<point>`` in the environment makes ``crash_point("<point>")`` end the process at
once with ``os._exit`` (no cleanup, no flush: what a power cut leaves). ``CBSS_TEST_PAUSE_AT=<point>``
makes it write the file named by ``CBSS_TEST_PAUSE_FILE`` and stop there for good, so that a test can
kill it with SIGKILL at that exact point. Without these variables a crash point does nothing.
"""

from __future__ import annotations

import os
import time

CRASH_ENV = "CBSS_TEST_CRASH_AT"
PAUSE_ENV = "CBSS_TEST_PAUSE_AT"
PAUSE_FILE_ENV = "CBSS_TEST_PAUSE_FILE"
CRASH_EXIT_CODE = 86


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os._exit(CRASH_EXIT_CODE)
    if os.environ.get(PAUSE_ENV) == name:
        marker = os.environ.get(PAUSE_FILE_ENV)
        if marker:
            with open(marker, "w", encoding="ascii") as handle:
                handle.write(f"{os.getpid()}\n")
        while True:
            time.sleep(3600)
