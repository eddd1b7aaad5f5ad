"""`por`'s own public documents: the commitment and the customer inclusion proof.

Schemas: docs/formats/commitment.schema.json, docs/formats/inclusion-proof.schema.json.
Amounts are canonical decimal strings keyed by asset symbol; hashes are
lower-case hex. Parsing is strict and names the field at fault. Format 2 (what
`por publish` writes) carries every label its root binds (`tree.Header`);
format 1 documents are still read, as legacy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from por.amounts import Asset, check_asset_symbol, format_amount
from por.errors import InputError
from por.liabilities.rows import check_account_id
from por.liabilities.tree import (
    HASH_BYTES,
    HASH_NAME,
    MAX_ASSETS,
    MAX_HEIGHT,
    MAX_LEAVES,
    VERSION,
    VERSIONS,
    Header,
    TreeError,
    check_snapshot_time,
)
from por.strictjson import Fields

COMMITMENT_FORMAT = "por-commitment"
PROOF_FORMAT = "por-inclusion-proof"
MAX_COMMITMENT_BYTES = 16 << 20  # a commitment is kilobytes: a pipe or a device is never read past this


@dataclass
class Commitment:
    exchange: str
    snapshot_id: str
    snapshot_time: str
    root: bytes
    height: int
    leaf_count: int
    assets: list[Asset]
    totals: list[int]  # base units, in `assets` order
    tree_file: str | None = None
    tree_sha256: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # signature, previous link (issue 6)
    version: int = VERSION
    # anchor.json beside it (not part of the commitment): proofs cut from the publication carry it
    carried_anchor: dict[str, Any] | None = field(default=None, compare=False)

    def header(self) -> Header:
        """The labels this commitment's root binds (format 2)."""
        return Header(
            self.version,
            self.exchange if self.version >= VERSION else None,
            self.snapshot_id,
            self.snapshot_time if self.version >= VERSION else None,
            self.leaf_count,
            self.height,
            tuple(self.assets),
        )

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": COMMITMENT_FORMAT,
            "version": self.version,
            "exchange": self.exchange,
            "snapshot_id": self.snapshot_id,
            "snapshot_time": self.snapshot_time,
            "hash": HASH_NAME,
            "root": self.root.hex(),
            "height": self.height,
            "leaf_count": self.leaf_count,
            "assets": assets_json(self.assets),
            "totals": sums_json(self.assets, self.totals),
        }
        if self.tree_file:
            if self.tree_sha256 is None:
                raise ValueError("a commitment that names its tree file holds the file's SHA-256 too")
            doc["tree"] = {"file": self.tree_file, "sha256": self.tree_sha256.hex()}
        doc.update(self.extra)
        return doc


@dataclass
class PathStep:
    height: int
    hash: bytes
    sums: list[int]
    padding: bool = False


@dataclass
class ProofLeaf:
    index: int
    piece: int
    sums: list[int]
    path: list[PathStep]


@dataclass
class InclusionProof:
    snapshot_id: str
    account_id: str
    nonce: bytes
    assets: list[Asset]
    leaves: list[ProofLeaf]
    root: bytes
    root_height: int
    root_sums: list[int]
    leaf_count: int
    version: int = VERSION
    exchange: str | None = None  # format 2: bound into the root with the other labels
    snapshot_time: str | None = None  # format 2
    anchor: dict[str, Any] | None = None  # anchor.json as the exchange wrote it: a claim, bound by nothing

    def balances(self) -> list[int]:
        return [sum(leaf.sums[a] for leaf in self.leaves) for a in range(len(self.assets))]

    def header(self) -> Header:
        """The labels the proof's root must bind (format 2)."""
        return Header(
            self.version,
            self.exchange,
            self.snapshot_id,
            self.snapshot_time,
            self.leaf_count,
            self.root_height,
            tuple(self.assets),
        )

    def to_json(self) -> dict[str, Any]:
        labels: dict[str, Any] = {"exchange": self.exchange} if self.version >= VERSION else {}
        labels["snapshot_id"] = self.snapshot_id
        if self.version >= VERSION:
            labels["snapshot_time"] = self.snapshot_time
        return {
            "format": PROOF_FORMAT,
            "version": self.version,
            "hash": HASH_NAME,
            **labels,
            "account_id": self.account_id,
            "nonce": self.nonce.hex(),
            "assets": assets_json(self.assets),
            "balances": sums_json(self.assets, self.balances()),
            "leaves": [
                {
                    "index": leaf.index,
                    "piece": leaf.piece,
                    "balances": sums_json(self.assets, leaf.sums),
                    "path": [
                        {
                            "height": s.height,
                            "hash": s.hash.hex(),
                            "sums": sums_json(self.assets, s.sums),
                            **({"padding": True} if s.padding else {}),
                        }
                        for s in leaf.path
                    ],
                }
                for leaf in self.leaves
            ],
            "root": {
                "hash": self.root.hex(),
                "height": self.root_height,
                "sums": sums_json(self.assets, self.root_sums),
            },
            "leaf_count": self.leaf_count,
            **({"anchor": self.anchor} if self.anchor is not None else {}),
        }


def assets_json(assets: list[Asset]) -> list[dict[str, Any]]:
    return [{"symbol": a.symbol, "decimals": a.decimals} for a in assets]


def sums_json(assets: list[Asset], sums: list[int]) -> dict[str, str]:
    return {a.symbol: format_amount(v, a.decimals) for a, v in zip(assets, sums)}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def value_difference(value: Any, proof: InclusionProof) -> str | None:
    """Where a proof document's parsed value departs from the one value `por prove` writes for the
    proof it parses to, or None.

    The value, not the bytes: a proof re-saved with CRLF line ends, a byte order mark, other
    indentation, key order or string escapes is the same proof. What it must not do is say one
    thing two ways: duplicate keys, `-0` and floats are refused by the strict reader, and any
    value that parses but is not spelled as `por` spells it (an amount, a hash, a flag) is named here.
    """
    return _first_difference(value, proof.to_json(), "")


def _first_difference(got: Any, want: Any, at: str) -> str | None:
    where = at or "the document"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return f"{where}: not an object"
        for key in sorted(set(got) | set(want)):
            here = f"{at}.{key}" if at else key
            if key not in want:
                return f"{here}: not a member of this proof"
            if key not in got:
                return f"{here}: missing"
            found = _first_difference(got[key], want[key], here)
            if found:
                return found
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return f"{where}: not the list this proof's fields give"
        for i, (g, w) in enumerate(zip(got, want)):
            found = _first_difference(g, w, f"{at}[{i}]")
            if found:
                return found
        return None
    if type(got) is not type(want) or got != want:
        return f"{where}: {str(got)[:40]!r} is not how por writes this value ({str(want)[:40]!r})"
    return None


# --- parsing -----------------------------------------------------------------


def _header(f: Fields, fmt: str) -> int:
    """The document's format version (1: legacy, 2: current)."""
    got = f.str("format")
    if got != fmt:
        raise f.error("format", f"expected {fmt!r}, got {got[:40]!r}")
    version = f.int("version", maximum=2**32)
    if version not in VERSIONS:
        raise f.error("version", "unsupported version (this por reads versions 1 and 2)")
    if f.str("hash") != HASH_NAME:
        raise f.error("hash", f"unsupported hash (this por uses {HASH_NAME})")
    return version


def _snapshot_time(f: Fields, version: int) -> str:
    text = f.str("snapshot_time", max_len=64)
    if version >= VERSION:
        try:
            check_snapshot_time(text)
        except TreeError as exc:
            raise f.error("snapshot_time", str(exc)) from None
    return text


def _assets(f: Fields) -> list[Asset]:
    assets = []
    for item in f.objects("assets", max_items=MAX_ASSETS):
        item.only("symbol", "decimals")
        symbol = item.str("symbol")
        try:
            check_asset_symbol(symbol)
        except InputError as exc:
            raise item.error("symbol", exc.reason) from None
        assets.append(Asset(symbol, item.int("decimals", maximum=36)))
    symbols = [a.symbol for a in assets]
    if not assets:
        raise f.error("assets", "no assets")
    if symbols != sorted(set(symbols)):
        raise f.error("assets", "symbols must be unique and sorted")
    return assets


def _sums(f: Fields, key: str, assets: list[Asset]) -> list[int]:
    obj = f.obj(key)
    symbols = [a.symbol for a in assets]
    if sorted(obj.data) != symbols:
        missing = sorted(set(symbols) - set(obj.data))
        extra = sorted(set(obj.data) - set(symbols))
        what = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
        raise f.error(key, f"assets differ from the declared list ({what[:80]})")
    return [obj.amount(a.symbol, a.decimals) for a in assets]


def parse_commitment(data: Any, source: str) -> Commitment:
    f = Fields(data, source)
    version = _header(f, COMMITMENT_FORMAT)
    assets = _assets(f)
    tree = f.obj("tree", optional=True)
    known = {
        "format",
        "version",
        "hash",
        "exchange",
        "snapshot_id",
        "snapshot_time",
        "root",
        "height",
        "leaf_count",
        "assets",
        "totals",
        "tree",
    }
    extra = {k: v for k, v in f.data.items() if k not in known}
    commitment = Commitment(
        exchange=f.str("exchange", max_len=200),
        snapshot_id=f.str("snapshot_id", max_len=200),
        snapshot_time=_snapshot_time(f, version),
        root=f.hex("root", HASH_BYTES),
        height=f.int("height", minimum=1, maximum=MAX_HEIGHT),
        leaf_count=f.int("leaf_count", minimum=1, maximum=MAX_LEAVES),
        assets=assets,
        totals=_sums(f, "totals", assets),
        tree_file=tree.str("file", max_len=255) if tree else None,
        tree_sha256=tree.hex("sha256", 32) if tree else None,
        extra=extra,
        version=version,
    )
    if tree:
        tree.only("file", "sha256")
    return commitment


def _account_id(f: Fields) -> str:
    """The id rule `publish` applies (por.liabilities.rows), so a proof cannot carry an id no
    publication could hold: hidden characters, another normal form."""
    value = f.str("account_id", max_len=1024)
    try:
        return check_account_id(value)
    except InputError as exc:
        raise f.error("account_id", exc.reason) from None


PROOF_MEMBERS = ("account_id", "nonce", "assets", "balances", "leaves", "root", "leaf_count", "anchor")


def _leaf(leaf: Fields, assets: list[Asset]) -> ProofLeaf:
    """One leaf of a proof: its index, piece, balances and path, each step strict (padding written only when true)."""
    leaf.only("index", "piece", "balances", "path")
    path = []
    for step in leaf.objects("path", max_items=MAX_HEIGHT):
        step.only("height", "hash", "sums", "padding")
        padding = step.get("padding", bool, optional=True, default=False)
        if step.has("padding") and not padding:
            raise step.error("padding", "is written only when true")
        path.append(
            PathStep(
                step.int("height", maximum=MAX_HEIGHT),
                step.hex("hash", HASH_BYTES),
                _sums(step, "sums", assets),
                padding,
            )
        )
    return ProofLeaf(
        leaf.int("index", maximum=MAX_LEAVES),
        leaf.int("piece", maximum=2**32 - 1),
        _sums(leaf, "balances", assets),
        path,
    )


def parse_proof(data: Any, source: str) -> InclusionProof:
    f = Fields(data, source)
    version = _header(f, PROOF_FORMAT)
    labels = ("exchange", "snapshot_id", "snapshot_time") if version >= VERSION else ("snapshot_id",)
    f.only("format", "version", "hash", *labels, *PROOF_MEMBERS)
    assets = _assets(f)
    leaves = [_leaf(leaf, assets) for leaf in f.objects("leaves", max_items=1024)]
    if not leaves:
        raise f.error("leaves", "no leaves")
    root = f.obj("root").only("hash", "height", "sums")
    proof = InclusionProof(
        snapshot_id=f.str("snapshot_id", max_len=200),
        account_id=_account_id(f),
        nonce=f.hex("nonce", 32),
        assets=assets,
        leaves=leaves,
        root=root.hex("hash", HASH_BYTES),
        root_height=root.int("height", minimum=1, maximum=MAX_HEIGHT),
        root_sums=_sums(root, "sums", assets),
        leaf_count=f.int("leaf_count", minimum=1, maximum=MAX_LEAVES),
        version=version,
        exchange=f.str("exchange", max_len=200) if version >= VERSION else None,
        snapshot_time=_snapshot_time(f, version) if version >= VERSION else None,
        anchor=parse_anchor(f.data["anchor"], source, "anchor") if f.has("anchor") else None,
    )
    declared = _sums(f, "balances", assets)
    if declared != proof.balances():
        raise f.error("balances", "do not equal the sum of the leaves' balances")
    return proof


ANCHOR_FORMAT = "por-anchor"
ANCHOR_KEYS = (
    "format",
    "version",
    "chain",
    "registry",  # EVM: the PorAnchorRegistry contract
    "address",  # Bitcoin: the anchor address the transaction spends from
    "exchange",
    "snapshot_id",
    "digest",
    "transaction",
    "block",
    "block_hash",
)


def parse_anchor(data: Any, source: str, path: str = "") -> dict[str, Any]:
    """anchor.json (docs/formats/anchor.md), alone or as the `anchor` a proof carries: its shape
    checked, its value kept as written. What it claims is checked on chain (`verify-inclusion --anchor`)."""
    f = Fields(data, source, path)
    f.only(*ANCHOR_KEYS)
    if f.str("format", max_len=64) != ANCHOR_FORMAT or f.int("version", maximum=2**32) != 1:
        raise f.error("format", f"expected {ANCHOR_FORMAT!r} version 1")
    f.str("chain", max_len=64)
    f.hex("digest", HASH_BYTES)
    transaction = f.str("transaction", max_len=66).removeprefix("0x")
    if len(transaction) != 64 or not all(c in "0123456789abcdef" for c in transaction):
        raise f.error("transaction", "expected a transaction hash: 64 lower-case hex digits (0x for EVM)")
    f.int("block")
    f.str("block_hash", max_len=66)
    for key, size in (("registry", 42), ("address", 90), ("exchange", 200), ("snapshot_id", 200)):
        f.str(key, optional=True, max_len=size)
    if f.has("registry") == f.has("address"):
        raise f.error("registry", "an anchor names a registry (EVM) or an address (Bitcoin), not both or neither")
    return dict(f.data)
