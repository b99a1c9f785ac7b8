"""Helpers shared by the schema tests."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


@cache
def build_xsd_script() -> ModuleType:
    """``scripts/build_xsd.py`` loaded as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("build_xsd", ROOT / "scripts" / "build_xsd.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look the module up while it loads
    spec.loader.exec_module(module)
    return module
