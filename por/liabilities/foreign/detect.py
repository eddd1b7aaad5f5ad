"""Which format a document is, from its first bytes and top-level shape."""

from __future__ import annotations

import json

from por.errors import InputError


def proof_format(raw: bytes, source: str) -> str:
    """'por', 'okx-v1' or 'okx-v2'; a document under test that is JSON-ish but broken is
    left to the por parser, which names the defect (a failed verification, exit 1)."""
    text = raw.lstrip()
    if not text.startswith((b"{", b"\xef\xbb\xbf")):
        raise InputError("not an inclusion proof (expected a JSON object)", file=source)
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):   # deep nesting is a defect for the parser to name
        return "por"
    if isinstance(doc, dict):
        if "path" in doc and "format" not in doc:
            return "okx-v1"
        if "nodes" in doc and "totalBalances" in doc:
            return "okx-v2"
    return "por"


def tree_format(head: bytes, source: str) -> str:
    """'por' for a tree.bin (JSON header line), 'okx-v2' for `hash,height,balances` lines."""
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]   # OKX's reader accepts a BOM
    if first.startswith(b'{"format":"por-tree"') or first.startswith(b"{"):
        return "por"
    if b"," in first and first.split(b",", 1)[0].strip().isalnum():
        return "okx-v2"
    raise InputError("not a liabilities tree (neither a por tree.bin nor an OKX V2 tree)", file=source, line=1)
