"""Hostile and broken input: each case gets a negative ACRF with the right code, its bytes are archived,
the run completes and a valid set sent alongside is unaffected."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from tests.builders import drop_set, make_dmfa
from tests.conftest import TODAY, Workspace, write_config

DAY = "20261120"
SENDER = "006400"
GOOD = make_dmfa(workers=2, quarter="20253", seed=99)
VALID = make_dmfa(workers=2, quarter="20253", seed=7)


def _fi(ws: Workspace, name: str, data: bytes, folder: str = "INTEST") -> None:
    path = ws.inbox / SENDER / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _set(data: bytes, seq: str = "00001", env: str = "T", folder: str = "INTEST", ftype: str = "DMFA",
         sender: str = SENDER) -> Callable[[Workspace], None]:
    def drop(ws: Workspace) -> None:
        _fi(ws, f"FI.{ftype}.{sender}.{DAY}.{seq}.{env}.1.1", data, folder)
        _fi(ws, f"GO.{ftype}.{sender}.{DAY}.{seq}.{env}.1", b"", folder)
    return drop


def _swap_first(content: bytes, a: bytes, b: bytes) -> bytes:
    """Swap the first occurrences of two elements (given as whole element texts)."""
    return content.replace(a, b"\0", 1).replace(b, a, 1).replace(b"\0", b, 1)


def _element(content: bytes, tag: str) -> bytes:
    start = content.index(f"<{tag}>".encode())
    end = content.index(f"</{tag}>".encode(), start) + len(tag) + 3
    return content[start:end]


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE DmfAOriginal [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<DmfAOriginal><Form><Identification>&xxe;</Identification></Form></DmfAOriginal>"""
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<DmfAOriginal>&lol3;</DmfAOriginal>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE DmfAOriginal [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<DmfAOriginal/>"""
DEEP = b"<DmfAOriginal>" + b"<Form>" * 3000 + b"</Form>" * 3000 + b"</DmfAOriginal>"
UTF16_DOCTYPE = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><DmfAOriginal/>'.encode(
    "utf-16")
UNDEFINED_ENTITY = GOOD.replace(b"<Identification>DMFA</Identification>",
                                b"<Identification>&undefined;</Identification>", 1)
OUT_OF_ORDER = _swap_first(GOOD, _element(GOOD, "Trusteeship"), _element(GOOD, "CompanyID"))
UNKNOWN_ELEMENT = GOOD.replace(b"<Trusteeship>", b"<Intruder>1</Intruder><Trusteeship>", 1)
TOO_LONG = GOOD.replace(b"<Quarter>20253</Quarter>", b"<Quarter>202533</Quarter>", 1)
NOT_NUMERIC = GOOD.replace(b"<Trusteeship>0</Trusteeship>", b"<Trusteeship>x</Trusteeship>", 1)
MISSING_MANDATORY = GOOD.replace(_element(GOOD, "Trusteeship"), b"", 1)


@dataclass(frozen=True)
class Case:
    name: str
    drop: Callable[[Workspace], None]
    codes: tuple[str, ...]
    config: str = ""


def _files(*files: tuple[str, bytes, str]) -> Callable[[Workspace], None]:
    def drop(ws: Workspace) -> None:
        for name, data, folder in files:
            _fi(ws, name, data, folder)
    return drop


def _dated(day: str) -> Callable[[Workspace], None]:
    def drop(ws: Workspace) -> None:
        _fi(ws, f"FI.DMFA.{SENDER}.{day}.00001.T.1.1", GOOD)
        _fi(ws, f"GO.DMFA.{SENDER}.{day}.00001.T.1", b"")
    return drop


def _duplicate_name(ws: Workspace) -> None:
    _set(GOOD, seq="00001")(ws)
    assert ws.cli("run").exit_code == 0
    _set(make_dmfa(workers=2, quarter="20253", seed=5), seq="00001")(ws)


def _duplicate_content(ws: Workspace) -> None:
    _set(GOOD, seq="00001")(ws)
    assert ws.cli("run").exit_code == 0
    _set(GOOD, seq="00002")(ws)


CASES = [
    Case("not-xml", _set(b"this is not XML at all\n"), ("102",)),
    Case("truncated", _set(GOOD[: len(GOOD) // 2]), ("102",)),
    Case("binary", _set(bytes(range(256)) * 4), ("102",)),
    Case("external-entity", _set(XXE), ("102",)),
    Case("entity-bomb", _set(BOMB), ("102",)),
    Case("parameter-entity", _set(PARAMETER_ENTITY), ("102",)),
    Case("utf16-doctype", _set(UTF16_DOCTYPE), ("102",)),
    Case("undefined-entity", _set(UNDEFINED_ENTITY), ("102",)),
    Case("deeply-nested", _set(DEEP), ("102",)),
    Case("empty-file", _set(b""), ("134",)),
    Case("go-without-fi", _files((f"GO.DMFA.{SENDER}.{DAY}.00001.T.1", b"", "INTEST")), ("120",)),
    Case("missing-part", _files((f"FI.DMFA.{SENDER}.{DAY}.00001.T.2.1", GOOD[:100], "INTEST"),
                                (f"GO.DMFA.{SENDER}.{DAY}.00001.T.2", b"", "INTEST")), ("120",)),
    Case("part-numbering", _files((f"FI.DMFA.{SENDER}.{DAY}.00001.T.2.1", GOOD[:100], "INTEST"),
                                  (f"FI.DMFA.{SENDER}.{DAY}.00001.T.3.3", GOOD[100:], "INTEST"),
                                  (f"GO.DMFA.{SENDER}.{DAY}.00001.T.2", b"", "INTEST")), ("123",)),
    Case("bad-go-name", _files((f"GO.DMFA.{SENDER}.2026112.00001.T.1", b"", "INTEST")), ("109",)),
    Case("bad-fi-sequence", _files((f"FI.DMFA.{SENDER}.{DAY}.0000A.T.1.1", GOOD, "INTEST")), ("113",)),
    Case("zero-sequence", _files((f"GO.DMFA.{SENDER}.{DAY}.00000.T.1", b"", "INTEST")), ("127",)),
    Case("bad-environment", _files((f"GO.DMFA.{SENDER}.{DAY}.00001.X.1", b"", "INTEST")), ("117",)),
    Case("zero-parts", _files((f"GO.DMFA.{SENDER}.{DAY}.00001.T.0", b"", "INTEST")), ("116",)),
    Case("wrong-prefix", _files((f"FO.ACRF.{SENDER}.{DAY}.00001.T", b"<ACRF/>", "INTEST")), ("129",)),
    Case("invalid-date", _files((f"GO.DMFA.{SENDER}.20261340.00001.T.1", b"", "INTEST")), ("110",)),
    Case("future-date", _dated("20261229"), ("111",)),
    Case("too-old-date", _dated("20241120"), ("126",)),
    Case("production-file-in-intest", _set(GOOD, env="R", folder="INTEST"), ("118",)),
    Case("test-file-in-in", _set(GOOD, env="T", folder="IN"), ("119",)),
    Case("sender-not-owning-mailbox", _set(GOOD, sender="006401"), ("108",)),
    Case("type-mismatch", _set(GOOD, ftype="DIMN"), ("158",)),
    Case("unknown-root", _set(b"<?xml version='1.0'?><Payroll><Form/></Payroll>"), ("089",)),
    Case("oversize-part", _set(make_dmfa(workers=40, quarter="20253")), ("093",),
         config=f"[intake]\nmax_part_bytes = {len(VALID) + 100}\n"),
    Case("schema-order", _set(OUT_OF_ORDER), ("091",)),
    Case("schema-unknown-element", _set(UNKNOWN_ELEMENT), ("092",)),
    Case("schema-length", _set(TOO_LONG), ("093", "003")),  # too many digits, and not the YYYYQ pattern
    Case("schema-missing-element", _set(MISSING_MANDATORY), ("090",)),
    Case("schema-not-numeric", _set(NOT_NUMERIC), ("002",)),
    Case("duplicate-name", _duplicate_name, ("133",)),
    Case("duplicate-content", _duplicate_content, ("133",)),
]


@pytest.mark.parametrize("parallel", [True, False], ids=["parallel-check", "in-stream-check"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_negative_acrf_and_loses_nothing(case: Case, parallel: bool, workspace: Workspace) -> None:
    mode = f"parallel_validation = {str(parallel).lower()}\nparallel_validation_min_bytes = 0\n"
    write_config(workspace.root, mode + case.config)
    case.drop(workspace)
    # A valid production set from another sender travels alongside and must be unaffected.
    drop_set(workspace.inbox, "007700", VALID, env="R", day=TODAY.replace(day=20))
    result = workspace.cli("run")
    assert result.exit_code == 0, result.output
    refused = _negative_acrfs(workspace.out(SENDER, "OUT")) + _negative_acrfs(workspace.out(SENDER, "OUTTEST"))
    assert len(refused) == 1, refused
    assert refused[0] == [f"ACRF-{c}" for c in case.codes]
    good = workspace.out("007700", "OUT")
    positive = [p for p in good.glob("FO.ACRF.*")]
    assert len(positive) == 1
    assert etree.parse(str(positive[0])).findtext("Form/ReceptionResult/ResultCode") == "1"
    for _name, sha, path in workspace.sql("select name, sha256, archive_path from received_files"):
        assert hashlib.sha256(Path(str(path)).read_bytes()).hexdigest() == sha
    leftovers = [p for p in (workspace.inbox / SENDER).rglob("*") if p.is_file()]
    # Only files still waiting for their GO (a bad GO name leaves its FI parts waiting) may stay.
    assert all(not p.name.startswith("GO.") for p in leftovers)


def _negative_acrfs(folder: Path) -> list[list[str]]:
    result: list[list[str]] = []
    for path in sorted(folder.glob("FO.ACRF.*")):
        root = etree.parse(str(path)).getroot()
        if root.findtext("Form/ReceptionResult/ResultCode") == "0":
            result.append([e.text for e in root.iterfind("Form/ReceptionResult/ErrorID")])
    return result
