"""Plain merkletreejs trees: Bitso, Gate.io 2020-22, The Network Firm / Armanino.

The file is the full leaf list: `Level\\tHash`, then `<layers>,<i>\\t<16 hex>` per leaf (LF or
CRLF). The tree is merkletreejs's default (Bitso `merkle-tree-verify.js`, Gate `app.js`,
TNF `cli.js`): each 16-hex leaf is 8 bytes, a parent is SHA-256(left ‖ right) over the raw
bytes, an odd last node is carried up unchanged; no sums anywhere.

The leaf rule is the exchange's, and the file does not say which; a customer's leaf is
computed under each and the one found is reported (`--account ID --balance ASSET=AMOUNT`):

- `bitso`: SHA-256(account + hex(SHA-256(v)) for each "asset=v" sorted as text)[:16], v with
  trailing zeros stripped by Bitso's regex, which is buggy ("10" -> "1"): tried as Bitso's tool
  computes it and as typed (bitsoex/proof-of-solvency-verification `merkle-tree-calculate-leaf-hash.js`);
- `tnf` (also Gate 2020-22, one balance): SHA-256(hex(SHA-256(uid)) + hex(SHA-256(b1‖b2‖...)))[:16],
  balances in the order given; Gate's verifier also tries Number(balance).toFixed(8)
  (thenetworkfirm/proof-of-reserves-merkle-tree-tool `jobHandler.js`; gateio/proof-of-reserves `app.js`);
- `tnf-concatenate`: SHA-256("uid,ASSET:v,...")[:16], v without trailing zeros, integers with ".0".

Beyond those tools: the whole list is read (layer count and positions must be right), the root is
compared with the one the user pinned (Bitso's tool only prints it; Gate's 2020 tool rebuilt it
from the same file), a leaf listed twice is refused, and the 64-bit leaf width is stated.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO

from por.errors import InputError
from por.liabilities.foreign.common import (
    SUMS_NONE,
    Customer,
    Design,
    check_customer,
    compare_root,
    describe,
    pinned_of,
    pinned_root,
    root_binding,
    sha256_hex,
)
from por.liabilities.pins import Pins
from por.verdict import RootBinding, Verdict

__all__ = ["merkle_root", "customer_leaves", "tnf_tree", "verify_merkletreejs", "FORMAT"]

DESIGN = Design(
    hash="SHA-256, leaves truncated to 64 bits",
    bits=64,
    sums=SUMS_NONE,
    labels="the customer's own balances only (Bitso hashes no currency code, only their order)",
    root_binds_totals=True,
    root_binds_labels=True,
)
_HEADER = re.compile(rb"Level\tHash\r?\n?\Z")
_LINE = re.compile(rb"([1-9][0-9]{0,2}),(0|[1-9][0-9]{0,11})\t([0-9a-f]{16})(\r?\n)?\Z")
MAX_LINE = 100


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class RootBuilder:
    """merkletreejs's root (odd node carried up, no sorting), streaming in O(log n) memory:
    the layered tree equals the binary decomposition of the leaves folded from the right."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []  # (height, node)
        self.count = 0

    def add(self, leaf: bytes) -> None:
        node, height = leaf, 0
        while self.stack and self.stack[-1][0] == height:
            node, height = _sha(self.stack.pop()[1] + node), height + 1
        self.stack.append((height, node))
        self.count += 1

    def root(self) -> bytes:
        node = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            node = _sha(left + node)
        return node


def merkle_root(leaves: list[bytes]) -> bytes:
    """The layered definition, for tests and small lists."""
    layer = list(leaves)
    while len(layer) > 1:
        layer = [_sha(layer[i] + layer[i + 1]) if i + 1 < len(layer) else layer[i] for i in range(0, len(layer), 2)]
    return layer[0]


def layers(n: int) -> int:
    count = 1
    while n > 1:
        n, count = (n + 1) // 2, count + 1
    return count


def _bitso_strip(value: str) -> str:
    return re.sub(r"([0-9]+(\.[0-9]+[1-9])?)(\.?0+$)", r"\1", value, count=1)


def _tnf_strip(value: str) -> str:
    text = re.sub(r"(\.[0-9]*[1-9])0+$|\.0*$", lambda m: m.group(1) or "", value, count=1)
    return text if "." in text else text + ".0"


def _to_fixed_8(value: str) -> str | None:
    """JavaScript Number(value).toFixed(8), for the values a double holds exactly enough."""
    try:
        d = Decimal(value)
    except InvalidOperation:
        return None
    return format(Decimal(float(d)).quantize(Decimal("1e-8")), "f") if d.is_finite() else None


def customer_leaves(customer: Customer) -> dict[str, str]:
    """The customer's leaf under each rule the file may use: rule name -> 16 hex."""
    uid, pairs = customer.account, list(customer.balances)
    if uid is None:  # check_customer asks for it first: refused there too
        raise InputError(
            "a merkletreejs file holds every customer's leaves: give --account to find yours", field="--account"
        )
    values = [v for _, v in pairs]
    h = lambda text: sha256_hex(text)  # noqa: E731
    out = {}
    items = sorted(f"{a}={v}" for a, v in pairs)
    out["bitso (as Bitso's tool strips zeros)"] = h(uid + "".join(h(_bitso_strip(i.split("=", 1)[1])) for i in items))[
        :16
    ]
    out["bitso (balances as typed)"] = h(uid + "".join(h(i.split("=", 1)[1]) for i in items))[:16]
    out["tnf / gate-2020 (balances as typed, in the order given)"] = h(h(uid) + h("".join(values)))[:16]
    if len(values) == 1 and (fixed := _to_fixed_8(values[0])):
        out["gate-2020 (Number(balance).toFixed(8), Gate's verifier)"] = h(h(uid) + h(fixed))[:16]
    out["tnf-concatenate"] = h(f"{uid}," + ",".join(f"{a}:{_tnf_strip(v)}" for a, v in pairs))[:16]
    return out


def tnf_tree(input_text: str, *, concatenate: bool = False) -> tuple[list[str], str]:
    """The leaves and root The Network Firm's tool builds from its input (`#ID,balance1,...`):
    what to compare a published tree with, never a verification in itself."""
    lines = [line.strip() for line in input_text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("#"):
        raise InputError("expected TNF input: a `#ID,balance1,...` header")
    tokens = [c.strip() for c in lines[0].split(",")][1:]
    leaves = []
    for n, line in enumerate(lines[1:], start=2):
        uid, *balances = [c.strip() for c in line.split(",")]
        if len(balances) != len(tokens):
            raise InputError(f"{len(balances) + 1} columns, the header has {len(tokens) + 1}", line=n)
        leaves.append(
            customer_leaves(Customer(account=uid, balances=tuple(zip(tokens, balances))))[
                "tnf-concatenate" if concatenate else "tnf / gate-2020 (balances as typed, in the order given)"
            ]
        )
    return leaves, merkle_root([bytes.fromhex(x) for x in leaves]).hex()


def verify_merkletreejs(
    path: Path,
    expected_root: str | None = None,
    *,
    pins: Pins | None = None,
    customer: Customer | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verdict:
    """Every leaf line read, the root rebuilt; with `customer`, their leaf found under a named rule."""
    pinned = pinned_of(expected_root, pins)
    source = str(path)
    v = Verdict.start()
    pin = pinned_root(pinned.root, (16, 64), "merkletreejs", v)
    wanted = customer_leaves(customer) if customer is not None and customer.given else {}
    with open(path, "rb") as handle:
        builder, declared, found = _read_leaves(handle, source, v, wanted, progress)
    if builder.count == 0:
        raise InputError("no leaves", file=source)
    if declared != layers(builder.count):
        v.fail(f"{source}: the lines say {declared} layers, {builder.count} leaves make {layers(builder.count)}")
    root = builder.root().hex()
    v.facts.update(root=root, leaf_count=builder.count, height=layers(builder.count))
    compare_root(v, root, pin)
    if customer is not None and wanted:
        _customer_facts(v, customer, wanted, found)
    return describe(
        v,
        DESIGN,
        fmt="merkletreejs",
        variant=next(iter(found), None),
        leaf=_leaf_text(found, wanted),
        path="the root rebuilt from every leaf of the file (layer count and positions checked)",
        non_negative="not checkable: the tree holds no amounts, only hashes",
        pinned=pin is not None,
        extra_not_checked=["totals: a plain tree has none; it proves membership only"],
    )


def _read_leaves(
    handle: BinaryIO, source: str, v: Verdict, wanted: dict[str, str], progress: Callable[[int], None] | None
) -> tuple[RootBuilder, int | None, dict[str, tuple[int, str]]]:
    """Every leaf line after the header, into the root builder: returns it, the layer count the first line
    declares, and the customer's leaves found (rule -> (position, leaf)). A line that breaks the shape
    is bad input; a wrong layer count, position or a leaf listed twice fails the verdict."""
    if not _HEADER.match(handle.readline(MAX_LINE + 1)):
        raise InputError("expected the header `Level<TAB>Hash` (a merkletreejs leaf list)", file=source, line=1)
    found: dict[str, tuple[int, str]] = {}
    builder, seen = RootBuilder(), set()
    declared: int | None = None
    ending: bytes | None = None
    for line_no, line in enumerate(iter(lambda: handle.readline(MAX_LINE + 1), b""), start=2):
        match = _LINE.match(line)
        if not match:
            raise InputError("expected `<layers>,<position><TAB><16 lower-case hex digits>`", file=source, line=line_no)
        if ending is not None and match[4] not in (ending, None):
            raise InputError("mixed line endings", file=source, line=line_no)
        ending = ending or match[4]
        if declared is None:
            declared = int(match[1])
        elif int(match[1]) != declared:
            v.fail(f"{source}:{line_no}: {match[1].decode()} layers, the first line says {declared}")
        if int(match[2]) != builder.count:
            v.fail(f"{source}:{line_no}: position {match[2].decode()}, expected {builder.count}")
        leaf = match[3].decode()
        if leaf in seen:
            v.fail(f"{source}:{line_no}: leaf {leaf} listed twice (one leaf would stand for two customers)")
        seen.add(leaf)
        for rule, mine in wanted.items():
            if mine == leaf and rule not in found:
                found[rule] = (builder.count, leaf)
        builder.add(bytes.fromhex(leaf))
        if progress:
            progress(1)
    return builder, declared, found


def _leaf_text(found: dict[str, tuple[int, str]], wanted: dict[str, str]) -> str:
    if found:
        return "your leaf recomputed from your id and balances and found in the list"
    if wanted:
        return "your leaf was not found"
    return "not recomputed: give --account and --balance to find yours"


def _customer_facts(v: Verdict, customer: Customer, wanted: dict[str, str], found: dict) -> None:
    v.facts["account_id"] = customer.account
    v.facts["balances"] = {a: x for a, x in customer.balances}
    if not found:
        v.fail(
            "your leaf is not in the file under any known rule ("
            + "; ".join(f"{rule}: {leaf}" for rule, leaf in wanted.items())
            + ")"
        )
        return
    rule, (index, leaf) = next(iter(found.items()))
    v.facts.update(leaf_rule=rule, leaf=leaf, leaf_position=index)
    if len(found) > 1:
        v.facts.setdefault("notes", []).append(f"your leaf matches under several rules: {', '.join(found)}")


class MerkletreejsFormat:
    proof_formats = ("merkletreejs",)  # a customer's leaf in the full list (verify-inclusion)
    tree_formats = ("merkletreejs",)

    def root_binding(self, name: str) -> RootBinding:
        return root_binding(DESIGN, "merkletreejs")

    def check_customer(self, name: str, customer: Customer | None) -> None:
        check_customer(customer, "merkletreejs", ("--account", "--balance"), ())

    def detect_proof(self, doc: Any) -> str | None:
        return None

    def detect_tree(self, first_line: bytes) -> str | None:
        if _HEADER.match(first_line):
            return "merkletreejs"
        if first_line.startswith(b"#ID,"):
            raise InputError(
                "The Network Firm generator input (`#ID,balance...`), not a published tree: "
                "verify the exchange's output file (`Level<TAB>Hash` ...) instead"
            )
        return None

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
        return verify_merkletreejs(Path(source), pins=pins, customer=customer)

    def verify_tree(
        self,
        name: str,
        path: Path,
        *,
        pins: Pins,
        progress: Callable[[int], None] | None = None,
        config: Path | None = None,
    ) -> Verdict:
        return verify_merkletreejs(path, pins=pins, progress=progress)


FORMAT = MerkletreejsFormat()
