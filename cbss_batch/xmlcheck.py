"""Stream validation of a document against a schema, runnable as its own process.

The intake validates a set in a child process (``python -m cbss_batch.xmlcheck SCHEMA PART…``)
while the parent extracts and stages the same bytes: on two cores the schema check then costs no
wall time. The set commits only when both agree; the child prints one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from cbss_batch.xmlsafe import PARSER_OPTIONS, ChainedReader, load_schema


def stream_validate(schema_path: Path, paths: list[Path], root: str, blocks: tuple[str, ...]) -> str | None:
    """None when the parts form one schema-valid ``root`` document, else the first error message.

    ``blocks`` are the repeating elements cleared once read, which keeps memory flat.
    """
    schema = load_schema(schema_path)
    etree.clear_error_log()
    reader = ChainedReader(paths)
    closed = False
    try:
        # Blank text between elements is left out of the tree (the validator still sees it): less to build.
        context = etree.iterparse(reader, events=("end",), tag=(root, *blocks), schema=schema, remove_blank_text=True,
                                  **PARSER_OPTIONS)
        for _event, element in context:
            if element.tag == root and element.getparent() is None:
                closed = True
                continue
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    except etree.XMLSyntaxError as exc:
        return str(exc) or "not a valid document"
    finally:
        reader.close()
    return None if closed else "the document ended before its root element was closed"


@dataclass
class ParallelCheck:
    """A running child validation; ``result()`` waits for it."""

    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, schema_path: Path, paths: list[Path], root: str, blocks: tuple[str, ...]) -> ParallelCheck:
        """Start validating in a child process."""
        argv = [sys.executable, "-m", "cbss_batch.xmlcheck", str(schema_path), root, ",".join(blocks),
                *map(str, paths)]
        return cls(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))

    def result(self) -> str | None:
        """None when valid, else the reason; a crashed child counts as invalid (the diagnosis tells why)."""
        out, _ = self.process.communicate()
        try:
            answer = json.loads(out.decode() or "{}")
        except ValueError:
            answer = {}
        if self.process.returncode != 0 or "valid" not in answer:
            return f"the validation process ended with code {self.process.returncode}"
        return None if answer["valid"] else str(answer.get("error") or "not valid")

    def cancel(self) -> None:
        """Stop the child if it still runs and reap it (harmless after ``result``)."""
        if self.process.returncode is not None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def main(argv: list[str]) -> int:
    """Entry point of the child process (SCHEMA ROOT BLOCK,… PART…): print {"valid": bool, "error": …}."""
    schema, root, blocks, *parts = argv
    error = stream_validate(Path(schema), [Path(p) for p in parts], root, tuple(filter(None, blocks.split(","))))
    sys.stdout.write(json.dumps({"valid": error is None, "error": error}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
