"""Which format a document is, from its first bytes and top-level shape: por's own, or a foreign one.

Order matters: the most specific shapes are tried first. OKX V1 is a bare `{path: [...]}`,
and Bybit, Bitget and CoinEx files have a `path` too (with `self` or `root` beside it),
so OKX is tried last. A JSON document no reader recognises is bad input (exit 2) naming
every format tried; one a reader recognises but finds defective is a failed verification.
"""

from __future__ import annotations

from functools import cache

from por.errors import InputError
from por.liabilities.foreign.base import ForeignFormat
from por.strictjson import loads


@cache
def formats() -> tuple[ForeignFormat, ...]:
    """Every foreign format, in detection order; imported on first use (a por proof needs none:
    the customer's `verify-inclusion` starts without them)."""
    from por.liabilities.foreign import bitget, bitmex, bybit, coinex, merkletreejs, mexc, okx, okx_stark, zk

    return (
        bybit.FORMAT,
        bitget.FORMAT,
        mexc.FORMAT,
        coinex.FORMAT,
        okx_stark.FORMAT,
        zk.FORMAT,
        bitmex.FORMAT,
        merkletreejs.FORMAT,
        okx.FORMAT,
    )


def __getattr__(name: str):
    if name == "FORMATS":
        return formats()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The members of a por inclusion proof (por.liabilities.porjson:parse_proof): a document with any of
# them is a por proof, defective if it does not parse.
POR_PROOF_KEYS = {
    "format",
    "version",
    "hash",
    "snapshot_id",
    "account_id",
    "nonce",
    "assets",
    "balances",
    "leaves",
    "root",
    "leaf_count",
}


def names() -> list[str]:
    """Every foreign `--format` name, proofs and trees, once each, in detection order."""
    out: list[str] = []
    for fmt in formats():
        for n in (*fmt.proof_formats, *fmt.tree_formats):
            if n not in out:
                out.append(n)
    return out


def foreign_format(name: str) -> ForeignFormat:
    """The foreign format that answers to a `--format` name."""
    for fmt in formats():
        if name in fmt.proof_formats or name in fmt.tree_formats:
            return fmt
    raise InputError(f"unknown format {name!r}", field="--format")


def _first_line(raw: bytes) -> bytes:
    return raw.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")


def proof_format(raw: bytes, source: str) -> str:
    """'por' or a foreign format's name; a document under test that is JSON-ish but broken is
    left to the por parser, which names the defect (a failed verification, exit 1). A full-tree
    text file that holds customers' leaves (BitMEX, merkletreejs) is its format's name too."""
    text = raw.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text.startswith(b"{"):
        first = _first_line(raw)
        for fmt in formats():
            name = fmt.detect_tree(first)
            if name and name in fmt.proof_formats:
                return name
        raise InputError(
            "not an inclusion proof (expected a JSON object, or a full-tree file of "
            f"{', '.join(n for f in formats() for n in f.tree_formats if n in f.proof_formats)})",
            file=source,
        )
    try:
        doc = loads(raw.decode("utf-8-sig"), source)
    except (InputError, UnicodeDecodeError, RecursionError):  # a defect (duplicate key, NaN, nesting) for
        return "por"  # the parser to name: exit 1
    if isinstance(doc, dict) and "format" in doc:
        return "por"
    for fmt in formats():
        name = fmt.detect_proof(doc)
        if name:
            return name
    if not isinstance(doc, dict) or not doc or POR_PROOF_KEYS & set(doc):
        return "por"  # a por proof with a broken member: the por parser names it
    raise InputError(
        'no reader recognises this JSON document; tried por (a "format" member) and '
        f"{', '.join(names())}: name one with --format",
        file=source,
    )


def tree_format(head: bytes, source: str) -> str:
    """'por' for a tree.bin (JSON header line), else the foreign tree format it starts like."""
    first = _first_line(head)  # OKX's reader accepts a BOM
    if first.startswith(b"{"):
        return "por"
    for fmt in formats():
        name = fmt.detect_tree(first)
        if name:
            return name
    raise InputError(
        f"not a liabilities tree: tried a por tree.bin and {', '.join(n for f in formats() for n in f.tree_formats)}",
        file=source,
        line=1,
    )
