"""cbss-batch: batch file-exchange processor for bulk social-security XML declarations."""

import os

__version__ = "0.1.0"

# Set to 1, the optional C extensions (the DmfA person reader, the SQLite staging writes) are not used:
# everything runs in Python, as where they could not be built.
PURE_PYTHON_ENV = "CBSS_PURE_PYTHON"


def pure_python() -> bool:
    """Whether ``CBSS_PURE_PYTHON`` asks for everything in Python (set, and neither empty nor 0)."""
    return os.environ.get(PURE_PYTHON_ENV, "") not in ("", "0")
