"""BitMEX's liabilities trees (BitMEX/proof-of-reserves-liabilities, Python; rules read at c0c9c71).

A full tree, one node a line: `block_height:N`, then `hash_hex,sats` per node, root first,
breadth first, left to right, 2^(k+1) - 1 nodes (`validate_liabilities.py` `read_tree`):

- sub-nonce = sha256(account nonce (32 bytes) ‖ u64le(block height) ‖ u64le(account id));
- leaf = HMAC-SHA256(key = sub-nonce, u64le(sats) ‖ u64le(leaf index)) (`leaf_hash`);
- node = sha256(L.hash ‖ u64le(L.sats) ‖ R.hash ‖ u64le(R.sats)), sats = L + R: both
  children's values are bound (`merkleize_nodes`, BitMEX's fix of Maxwell's scheme).

BitMEX splits each balance over random leaves, so a customer finds theirs by HMAC with their
nonce (`verify-inclusion FILE --account ID --nonce HEX`: the proof's sub-nonce, or the account
nonce, derived with the file's block height; the verdict says which matched). BitMEX's tool
checks only the matched leaves' paths and silently drops an incomplete last row; here every
node is recomputed, streaming (two read positions, constant memory), the line count must be
exact, and a value that is not a u64 is a finding, not a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from por.errors import InputError
from por.liabilities.foreign.common import (
    SUMS_EACH_CHILD,
    Customer,
    Design,
    check_customer,
    compare_root,
    compare_totals,
    describe,
    pinned_of,
    pinned_root,
    plain,
    root_binding,
)
from por.liabilities.pins import Pins
from por.verdict import RootBinding, Verdict

__all__ = ["sub_nonce", "leaf_hash", "node_hash", "verify_bitmex_tree", "FORMAT"]

DESIGN = Design(
    hash="HMAC-SHA256 leaves, SHA-256 nodes",
    bits=256,
    sums=SUMS_EACH_CHILD,
    labels="one asset: BTC in satoshis",
    root_binds_totals=True,
    root_binds_labels=True,
)
_HEADER = re.compile(rb"block_height:(0|[1-9][0-9]{0,18})\r?\n?\Z")
_LINE = re.compile(rb"([0-9a-f]{64}),(-?(?:0|[1-9][0-9]{0,25}))\r?\n?\Z")
U64 = 2**64
MAX_LINE = 200
SAT = Decimal("0.00000001")


def sub_nonce(account_nonce: bytes, block_height: int, account: int) -> bytes:
    return hashlib.sha256(account_nonce + struct.pack("<Q", block_height) + struct.pack("<Q", account)).digest()


def leaf_hash(key: bytes, sats: int, index: int) -> bytes:
    return hmac.new(key, struct.pack("<Q", sats) + struct.pack("<Q", index), hashlib.sha256).digest()


def node_hash(left: tuple[bytes, int], right: tuple[bytes, int]) -> bytes:
    return hashlib.sha256(left[0] + struct.pack("<Q", left[1]) + right[0] + struct.pack("<Q", right[1])).digest()


def _nodes(handle: BinaryIO, first_line: int, count: int, source: str) -> Iterator[tuple[int, bytes, int]]:
    """(line number, hash, sats) of `count` node lines from the handle's position."""
    for line_no in range(first_line, first_line + count):
        line = handle.readline(MAX_LINE + 1)
        match = _LINE.match(line)
        if not match:
            what = (
                "the file ends early"
                if not line
                else ("expected `64 lower-case hex digits,sats`" if len(line) <= MAX_LINE else "line too long")
            )
            raise InputError(what, file=source, line=line_no)
        yield line_no, bytes.fromhex(match[1].decode()), int(match[2])


def _layout(handle: BinaryIO, source: str) -> tuple[int, list[int]]:
    """(block height, byte offset of each row), after checking the line count is 2^(k+1) - 1."""
    header = handle.readline(MAX_LINE + 1)
    match = _HEADER.match(header)
    if not match:
        raise InputError("expected `block_height:N` (a BitMEX liabilities file)", file=source, line=1)
    offsets, count, row, in_row = [handle.tell()], 0, 1, 0
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            break
        if len(line) > MAX_LINE:
            raise InputError("line too long", file=source, line=count + 2)
        count, in_row = count + 1, in_row + 1
        if in_row == row:
            offsets.append(handle.tell())
            row, in_row = row * 2, 0
        if len(offsets) > 41:
            raise InputError("more than 2^40 leaves", file=source)
    if count == 0 or in_row != 0:
        raise InputError(
            f"{count} nodes: a full BitMEX tree has 2^(k+1) - 1 (the last row is incomplete; "
            "BitMEX's tool would silently drop it)",
            file=source,
        )
    return int(match[1]), offsets[:-1]


def verify_bitmex_tree(
    path: Path,
    expected_root: str | None = None,
    *,
    pins: Pins | None = None,
    customer: Customer | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verdict:
    """Every node from its two children, the root; with `customer`, their leaves found by HMAC."""
    pinned = pinned_of(expected_root, pins)
    source = str(path)
    v = Verdict.start()
    pin = pinned_root(pinned.root, 64, "BitMEX", v)
    with open(path, "rb") as parents, open(path, "rb") as children:
        height, offsets = _layout(parents, source)
        rows = len(offsets)
        v.facts.update(block_height=height, height=rows, leaf_count=2 ** (rows - 1))
        for depth in range(rows - 1):
            parents.seek(offsets[depth])
            children.seek(offsets[depth + 1])
            kids = _nodes(children, 2 ** (depth + 1) + 1, 2 ** (depth + 1), source)
            last = depth == rows - 2
            for line_no, h, sats in _nodes(parents, 2**depth + 1, 2**depth, source):
                (l_line, lh, ls), (r_line, rh, rs) = next(kids), next(kids)
                if depth == 0:
                    v.facts.update(root=h.hex(), total_sats=sats)
                bad = [
                    (n, x)
                    for n, x in ((line_no, sats), *(((l_line, ls), (r_line, rs)) if last else ()))
                    if not 0 <= x < U64
                ]
                for n, x in bad:
                    v.fail(f"{source}:{n}: value {x} is not a u64 (negative or too large: BitMEX's tool crashes on it)")
                if not bad and not (0 <= ls < U64 and 0 <= rs < U64):
                    pass  # reported where the child is a parent
                elif not bad:
                    if node_hash((lh, ls), (rh, rs)) != h:
                        v.fail(f"{source}:{line_no}: node hash does not recompute from its two children")
                    if ls + rs != sats:
                        v.fail(f"{source}:{line_no}: {sats} sats, its children hold {ls + rs}")
                if progress:
                    progress(1)
                if len(v.reasons) > 20:
                    v.fail("more than 20 defects: stopped")
                    return _describe(v, pin, False, customer)
        if rows == 1:
            parents.seek(offsets[0])
            _, h, sats = next(_nodes(parents, 2, 1, source))
            v.facts.update(root=h.hex(), total_sats=sats)
        if customer is not None and customer.given:
            _find_leaves(v, children, offsets[-1], 2 ** (rows - 1), height, customer, source)
    compare_root(v, v.facts.get("root"), pin)
    v.facts["totals"] = {"BTC": plain(Decimal(v.facts.get("total_sats", 0)) * SAT)}
    totals = compare_totals(v, {"BTC": Decimal(v.facts.get("total_sats", 0)) * SAT}, pinned)
    return _describe(v, pin, totals, customer)


def _keys(customer: Customer, height: int) -> list[tuple[str, bytes]]:
    account, given = customer.account, customer.nonce
    if account is None or given is None:  # check_customer asks for both first: refused there too
        raise InputError(
            "a BitMEX file holds every customer's leaves: give --account and --nonce to find yours",
            field="--account" if account is None else "--nonce",
        )
    text = given.strip().lower().removeprefix("0x")
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise InputError("expected 64 hex digits (BitMEX's nonce)", field="--nonce")
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", account) or int(account) >= U64:
        raise InputError("a BitMEX account id is a number", field="--account")
    nonce = bytes.fromhex(text)
    return [
        ("the proof's nonce (--nonce, BitMEX's per-proof sub-nonce)", nonce),
        (
            f"the account nonce, derived for account {account} at block height {height}",
            sub_nonce(nonce, height, int(account)),
        ),
    ]


def _find_leaves(
    v: Verdict, handle: BinaryIO, offset: int, count: int, height: int, customer: Customer, source: str
) -> None:
    keys = _keys(customer, height)
    handle.seek(offset)
    found: dict[str, list[tuple[int, int]]] = {name: [] for name, _ in keys}
    for index, (_, h, sats) in enumerate(_nodes(handle, count + 1, count, source)):
        if 0 <= sats < U64:
            for name, key in keys:
                if hmac.compare_digest(leaf_hash(key, sats, index), h):
                    found[name].append((index, sats))
    matched = [(name, leaves) for name, leaves in found.items() if leaves]
    v.facts["account_id"] = customer.account
    if not matched:
        v.fail(
            f"account {customer.account}: no leaf matches this nonce, neither as the proof's nonce nor as the "
            "account nonce (0 sats found)"
        )
        v.facts["balances"] = {"BTC": "0"}
        return
    name, leaves = matched[0]
    total = sum(s for _, s in leaves)
    v.facts.update(
        nonce_used=name,
        leaves=[{"index": i, "sats": s} for i, s in leaves],
        account_sats=total,
        balances={"BTC": plain(Decimal(total) * SAT)},
    )


def _describe(v: Verdict, pin: str | None, totals: bool, customer: Customer | None) -> Verdict:
    mine = customer is not None and customer.given
    return describe(
        v,
        DESIGN,
        fmt="bitmex",
        variant=None,
        leaf=(
            "your leaves found by HMAC with your nonce, each leaf's value bound in its hash"
            if mine
            else "every leaf is an HMAC only its account's nonce opens: not recomputed "
            "(give --account and --nonce to find yours)"
        ),
        path="every node of the tree recomputed from its two children (hashes and sums), the line count exact",
        non_negative="checked: every value is a u64 (values are unsigned in every hash)"
        if not any("not a u64" in r for r in v.reasons)
        else "violated: see the reasons",
        pinned=pin is not None,
        totals_pinned=totals,
        extra_not_checked=[
            "block height: no tree hash binds it; only the leaves of a customer who "
            "derives the proof nonce from the account nonce depend on it"
        ],
    )


class BitmexFormat:
    proof_formats = ("bitmex",)  # a customer's leaves in the full tree (verify-inclusion)
    tree_formats = ("bitmex",)

    def root_binding(self, name: str) -> RootBinding:
        return root_binding(DESIGN, "BitMEX")

    def check_customer(self, name: str, customer: Customer | None) -> None:
        check_customer(customer, "BitMEX", ("--account", "--nonce"), ())
        _keys(customer or Customer(), 0)  # a bad nonce or account id is bad input

    def detect_proof(self, doc: Any) -> str | None:
        return None

    def detect_tree(self, first_line: bytes) -> str | None:
        return "bitmex" if _HEADER.match(first_line) else None

    def verify_proof(
        self,
        name: str,
        raw: bytes,
        source: str,
        *,
        pins: Pins,
        tree: Path | None = None,
        customer: Customer | None = None,
        config: Path | None = None,
    ) -> Verdict:
        return verify_bitmex_tree(Path(source), pins=pins, customer=customer)

    def verify_tree(
        self,
        name: str,
        path: Path,
        *,
        pins: Pins,
        progress: Callable[[int], None] | None = None,
        config: Path | None = None,
    ) -> Verdict:
        return verify_bitmex_tree(path, pins=pins, progress=progress)


FORMAT = BitmexFormat()
