"""Which format a document is, from its first bytes and top-level shape: por's own, or a foreign one."""

from __future__ import annotations

import json

from por.errors import InputError
from por.liabilities.foreign import okx
from por.liabilities.foreign.base import ForeignFormat

FORMATS: tuple[ForeignFormat, ...] = (okx.FORMAT,)


def foreign_format(name: str) -> ForeignFormat:
    """The foreign format that answers to a `--format` name."""
    for fmt in FORMATS:
        if name in fmt.proof_formats or name in fmt.tree_formats:
            return fmt
    raise InputError(f"unknown format {name!r}", field="--format")


def proof_format(raw: bytes, source: str) -> str:
    """'por' or a foreign format's name; a document under test that is JSON-ish but broken is
    left to the por parser, which names the defect (a failed verification, exit 1)."""
    text = raw.lstrip()
    if not text.startswith((b"{", b"\xef\xbb\xbf")):
        raise InputError("not an inclusion proof (expected a JSON object)", file=source)
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):   # deep nesting is a defect for the parser to name
        return "por"
    for fmt in FORMATS:
        name = fmt.detect_proof(doc)
        if name:
            return name
    return "por"


def tree_format(head: bytes, source: str) -> str:
    """'por' for a tree.bin (JSON header line), else the foreign tree format it starts like."""
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]   # OKX's reader accepts a BOM
    if first.startswith(b"{"):
        return "por"
    for fmt in FORMATS:
        name = fmt.detect_tree(first)
        if name:
            return name
    raise InputError("not a liabilities tree (neither a por tree.bin nor an OKX V2 tree)", file=source, line=1)
