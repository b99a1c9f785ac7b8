"""Named crash points for the crash tests: the process dies there when the test-only setting names it.

``CBSS_TEST_CRASH_AT=<point>`` in the environment makes ``crash_point("<point>")`` end the process at
once with ``os._exit`` (no cleanup, no flush: what a power cut or SIGKILL leaves). Without the
variable a crash point does nothing.
"""

from __future__ import annotations

import os

CRASH_ENV = "CBSS_TEST_CRASH_AT"
CRASH_EXIT_CODE = 86


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os._exit(CRASH_EXIT_CODE)
