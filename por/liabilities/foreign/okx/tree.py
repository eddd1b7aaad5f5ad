"""Streaming verifier for OKX's V2 full liabilities tree (full-liabilities-merkle-tree.txt).

One node a line: `hash,height,{"BTC":"..",...}`. The root comes first, then each
level top-down; within a level the nodes run right to left (the reverse of the
order they were built), so the children of the k-th non-padding node of a level
are lines 2k (right) and 2k+1 (left) of the level below, and a level's padding
(a right node repeating its left sibling's hash, zero balances, no children) is
its first line.

OKX's own validator only adds up the leaves. Here every internal node's hash and
sums are recomputed from its two children. Two cursors walk the same file: one
reads each node as a parent, the other reads ahead as its children. Memory holds
two read buffers, one padding mark per level and a bounded batch of leaf hashes
for the duplicate check (spilled to sorted runs on disk and merged).
"""

from __future__ import annotations

import hashlib
import heapq
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from por.errors import InputError
from por.liabilities.foreign.okx.anchor import anchor, as_pins
from por.liabilities.foreign.okx.rules import (
    COINS,
    SCALE,
    UNIT,
    add,
    balances_dict,
    balances_json,
    negatives,
    parent_hash,
    parse_balances,
)
from por.liabilities.pins import Pins
from por.strictjson import loads
from por.verdict import Verdict

if TYPE_CHECKING:
    from _hashlib import HASH

BLOCK = 1 << 20
MAX_LINE = 1 << 16
MAX_REASONS = 50
DEDUPE_BATCH = 1 << 19
_LINE = re.compile(rb"([0-9a-f]{64}),([1-9][0-9]{0,3}),(.*)\Z", re.S)

Node = tuple[int, str, int, tuple[int, ...]]  # line number, hash, height, units
_CANONICAL = rb"-?(?:0|[1-9][0-9]{0,29})(?:\.[0-9]{0,7}[1-9])?"
# The one spelling of a node's balances: OKX's coins in its order, compact. Built from constants only:
# no pattern is ever built from input (a coin name such as "B.C" would be a wildcard).
_BALANCES = re.compile(
    b"\\{" + b",".join(b'"%s":"(%s)"' % (re.escape(c.encode()), _CANONICAL) for c in COINS) + b"\\}\\Z"
)


def _fast_units(text: bytes) -> int | None:
    """The hot path of okx_rules.parse_units for text the line pattern already vetted."""
    whole, _, frac = text.partition(b".")
    units = abs(int(whole)) * UNIT + (int(frac.ljust(SCALE, b"0")) if frac else 0)
    if text[:1] == b"-":
        return -units if units else None  # "-0" is not how OKX writes zero
    return units


class _Cursor:
    """Reads lines of a shared seekable handle from its own offset, in blocks."""

    def __init__(self, handle: BinaryIO, hasher: HASH | None = None) -> None:
        self.handle, self.offset, self.buf, self.pos, self.line, self.eof = handle, 0, b"", 0, 0, False
        self.hasher = hasher  # sees every byte once, in order, when this cursor reads to the end

    def next(self) -> tuple[int, bytes] | None:
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0 or (self.eof and self.pos < len(self.buf)):
                end = len(self.buf) if end < 0 else end
                raw, self.pos = self.buf[self.pos : end], end + 1
                self.line += 1
                return self.line, raw
            if self.eof:
                return None
            if len(self.buf) - self.pos > MAX_LINE:
                raise InputError(f"line longer than {MAX_LINE} bytes", line=self.line + 1)
            self.handle.seek(self.offset)
            chunk = self.handle.read(BLOCK)
            self.offset += len(chunk)
            if self.hasher is not None:
                self.hasher.update(chunk)
            self.eof = not chunk
            self.buf, self.pos = self.buf[self.pos :] + chunk, 0


class _Parser:
    """Parses node lines, each exactly as OKX writes it: `hash,height,{"BTC":"..","ETH":"..","USDT":".."}`.

    Line ends (LF or CRLF) and a byte-order mark before line 1 are the layout a file transfer can
    change, and are accepted; inside a line only OKX's own spelling is."""

    assets = COINS

    def __call__(self, number: int, raw: bytes) -> Node:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        match = _LINE.match(raw)
        if not match:
            raise InputError(self._why(raw), line=number)
        hash_, height, body = match.groups()
        try:
            units = self._units(body)
        except InputError as exc:
            raise exc.at(line=number, field="balances") from None
        return number, hash_.decode(), int(height), units

    @staticmethod
    def _units(body: bytes) -> tuple[int, ...]:
        if m := _BALANCES.match(body):
            fast = [_fast_units(text) for text in m.groups()]
            units = tuple(u for u in fast if u is not None)
            if len(units) == len(fast):
                return units  # else the slow path below names the coin at fault
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text") from None
        try:
            doc = loads(text, "")  # only the reason is kept: the caller names line and field
        except InputError as exc:
            raise InputError(exc.reason) from None
        _, units = parse_balances(doc)
        raise InputError(f"not as OKX writes it: compact JSON with no spaces or escapes, {balances_json(COINS, units)}")

    @staticmethod
    def _why(raw: bytes) -> str:
        parts = raw.split(b",", 2)
        if not raw:
            return "empty line"
        if not re.fullmatch(rb"[0-9a-f]{64}", parts[0]):
            return "hash: expected 64 lower-case hex digits"
        if len(parts) < 3 or not re.fullmatch(rb"[1-9][0-9]{0,3}", parts[1]):
            return "height: expected a whole number from 1"
        return "expected hash,height,balances"


class _Duplicates:
    """Finds repeated leaf hashes in bounded memory: sorted batches spilled to disk, merged."""

    _REC = struct.Struct(">32sQ")

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.items: list[bytes] = []
        self.runs: list[str] = []
        self.dir: tempfile.TemporaryDirectory[str] | None = None

    def add(self, hash_hex: str, line: int) -> None:
        self.items.append(self._REC.pack(bytes.fromhex(hash_hex), line))
        if len(self.items) >= self.batch:
            self._spill()

    def _spill(self) -> None:
        if self.dir is None:
            self.dir = tempfile.TemporaryDirectory(prefix="por-okx-")
        self.items.sort()
        path = os.path.join(self.dir.name, f"run{len(self.runs)}")
        with open(path, "wb") as out:
            out.write(b"".join(self.items))
        self.runs.append(path)
        self.items = []

    def _read(self, path: str) -> Iterator[bytes]:
        with open(path, "rb") as handle:
            while block := handle.read(self._REC.size * 4096):
                yield from (block[i : i + self._REC.size] for i in range(0, len(block), self._REC.size))

    def repeats(self) -> Generator[tuple[str, int, int], None, None]:
        """(hash, first line, repeating line) for every repeat, in hash order."""
        stream: Iterator[bytes]
        if self.runs:
            self._spill()
            stream = heapq.merge(*(self._read(p) for p in self.runs))
        else:
            stream = iter(sorted(self.items))
        prev = None
        for rec in stream:
            h, line = self._REC.unpack(rec)
            if prev is not None and prev[0] == h:
                yield h.hex(), prev[1], line
            else:
                prev = (h, line)

    def close(self) -> None:
        self.items = []
        if self.dir is not None:
            self.dir.cleanup()


@dataclass
class TreeScan:
    """What a full check of the tree found (its verdict), and the root's numbers to anchor."""

    verdict: Verdict
    found: dict[str, tuple[int, dict[str, str]]]  # watched leaf hash -> (line, balances by coin)
    root: str
    root_units: tuple[int, ...]
    height: int
    leaf_count: int
    sha256: bytes | None  # of the whole file, when asked for and read to the end


def verify_okx_v2_tree(
    tree: str | Path | BinaryIO, pins: Pins | str | None = None, *, progress: Callable[[int], None] | None = None
) -> Verdict:
    """Recomputes every node of an OKX V2 full tree, then compares its root with the pins
    (a bare string is a root alone); facts: root, totals, leaf count, height."""
    pins = as_pins(pins)
    scan = scan_okx_v2_tree(tree, progress=progress, digest=wants_digest(pins))
    anchor(
        scan.verdict,
        pins,
        root=scan.root,
        root_units=scan.root_units,
        height=scan.height,
        leaf_count=scan.leaf_count,
        file_sha256=scan.sha256,
        customer=False,
    )
    return scan.verdict


def scan_okx_v2_tree(
    tree: str | Path | BinaryIO,
    *,
    watch: dict[str, tuple[int, ...]] | None = None,
    progress: Callable[[int], None] | None = None,
    dedupe_batch: int = DEDUPE_BATCH,
    digest: bool = False,
) -> TreeScan:
    """The full check, anchored to nothing; `found` holds the leaves named in `watch`."""
    source = str(tree) if isinstance(tree, (str, Path)) else getattr(tree, "name", "tree")
    source = source if isinstance(source, str) else "tree"
    with ExitStack() as stack:
        handle = _open(tree, stack, source)
        try:
            return _scan(handle, watch or {}, progress, dedupe_batch, digest)
        except InputError as exc:
            raise exc.at(file=source) from None


def wants_digest(pins: Pins) -> bool:
    return pins.commitment is not None and pins.commitment.tree_sha256 is not None


def _open(tree: str | Path | BinaryIO, stack: ExitStack, source: str) -> BinaryIO:
    if isinstance(tree, (str, Path)):
        try:
            return stack.enter_context(open(tree, "rb"))
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=source) from None
    if getattr(tree, "seekable", lambda: False)():
        return tree
    spool = stack.enter_context(tempfile.TemporaryFile(prefix="por-okx-"))
    shutil.copyfileobj(tree, spool, BLOCK)
    return spool


class _Stop(Exception):
    """The tree's shape is broken: parents and children no longer line up."""


class _Walk:
    """One pass over the tree: each node read once as a parent by one cursor, its two children read
    ahead by the other; every problem goes to the verdict, and too many (or a broken shape) stop it."""

    def __init__(self, handle: BinaryIO, watch: dict[str, tuple[int, ...]], dedupe_batch: int, digest: bool) -> None:
        self.parse, self.v = _Parser(), Verdict.start(format="okx-v2-tree")
        self.parents = _Cursor(handle, hashlib.sha256() if digest else None)
        self.children = _Cursor(handle)
        self.watch, self.dupes = watch, _Duplicates(dedupe_batch)
        self.found: dict[str, tuple[int, dict[str, str]]] = {}
        self.padding: set[int] = set()  # line numbers of padding nodes not yet reached
        self.leaves: tuple[int, ...] | None = None  # the sum of every leaf so far
        self.leaf_count = 0
        self.child_height: int | None = None

    def root(self) -> Node:
        first = self.parents.next()
        if first is None:
            raise InputError("empty file")
        self.children.next()
        return self.parse(*first)

    def fail(self, reason: str) -> None:
        self.v.fail(reason)
        if len(self.v.reasons) >= MAX_REASONS:
            self.v.reasons.append(f"stopped after {MAX_REASONS} problems")
            raise _Stop

    def nodes(self, root: Node, progress: Callable[[int], None] | None) -> None:
        """Every node from the root down, in file order; then what is left over."""
        node: Node | None = root
        while node is not None:
            self.node(node)
            if progress is not None and node[0] % 65536 == 0:
                progress(65536)
            item = self.parents.next()
            node = self.parse(*item) if item is not None else None
        extra = self.children.next()
        if extra is not None:
            self.fail(f"line {extra[0]}: not under the root at line 1 (a second root or a stray node)")
        with closing(self.dupes.repeats()) as repeats:
            for h, first_line, line in repeats:
                self.fail(f"line {line}: duplicate leaf, same hash as line {first_line} ({h})")

    def node(self, node: Node) -> None:
        number, hash_, height, units = node
        if bad := negatives(COINS, units):
            self.fail(f"line {number}: negative amount {', '.join(bad)}")
        if number in self.padding:
            self.padding.discard(number)
        elif height == 1:
            self.leaf(number, hash_, units)
        else:
            self.parent(node)

    def leaf(self, number: int, hash_: str, units: tuple[int, ...]) -> None:
        self.leaf_count += 1
        self.leaves = units if self.leaves is None else add(self.leaves, units)
        self.dupes.add(hash_, number)
        if hash_ in self.watch:
            self.found.setdefault(hash_, (number, balances_dict(COINS, units)))

    def parent(self, node: Node) -> None:
        """An internal node: its hash and sums recomputed from its two children (right first in the file)."""
        number, hash_, height, units = node
        right, left = self.child(node), self.child(node)
        first_pair = right[2] != self.child_height
        self.child_height = right[2]
        if right[1] == left[1]:
            self.padding.add(right[0])
            if not first_pair:
                self.fail(
                    f"line {right[0]}: repeats its sibling's hash (padding) but is not "
                    f"the first node of height {right[2]}"
                )
            if any(right[3]):
                self.fail(f"line {right[0]}: padding node with non-zero balances")
        sums = add(left[3], right[3])
        if parent_hash(left[1], right[1], sums, height) != hash_:
            self.fail(
                f"line {number}: hash of node at height {height} does not recompute "
                f"from its children (lines {left[0]} and {right[0]})"
            )
        if sums != units:
            self.fail(
                f"line {number}: balances of node at height {height} are not the sum of "
                f"its children (lines {left[0]} and {right[0]})"
            )

    def child(self, parent: Node) -> Node:
        if self.children.line + 1 <= parent[0]:  # its children would be itself or above it
            self.fail(f"line {parent[0]}: not under the root at line 1 (a second root or a stray node)")
            raise _Stop
        item = self.children.next()
        if item is None:
            self.fail(f"line {parent[0]}: node at height {parent[2]} has no children (the file ends)")
            raise _Stop
        node = self.parse(*item)
        if node[2] != parent[2] - 1:
            self.fail(
                f"line {node[0]}: height {node[2]} where the children of line {parent[0]} have height {parent[2] - 1}"
            )
            raise _Stop
        return node

    def result(self, root: Node) -> TreeScan:
        v, hasher = self.v, self.parents.hasher
        v.facts.update(root=root[1], height=root[2], totals=balances_dict(COINS, root[3]), leaf_count=self.leaf_count)
        if v.ok and self.leaves != root[3]:
            v.fail("line 1: root balances differ from the sum of all leaves")
        sha256 = hasher.digest() if hasher is not None and self.parents.eof else None
        return TreeScan(v, self.found, root[1], root[3], root[2], self.leaf_count, sha256)


def _scan(
    handle: BinaryIO,
    watch: dict[str, tuple[int, ...]],
    progress: Callable[[int], None] | None,
    dedupe_batch: int,
    digest: bool,
) -> TreeScan:
    walk = _Walk(handle, watch, dedupe_batch, digest)
    root = walk.root()
    try:
        walk.nodes(root, progress)
    except _Stop:
        pass
    finally:
        walk.dupes.close()
    return walk.result(root)
