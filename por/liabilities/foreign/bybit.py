"""Bybit's inclusion proofs (bybit-exchange/merkle-proof, Java; rules read at 3f0e2da).

- leaf = sha256(userHash + the self balance texts concatenated, in the asset table's order),
  exactly as written (`generic/Self.java`, `Balance.concatBalances`); nonce and auditId unhashed;
- parent = sha256(left + right + sum texts + height), each sum (a + b) set to the table's
  scale rounding DOWN, `toPlainString()`, over the table's online assets only; the first
  parent has height 2 (`generic/Path.java`, `Balance40V5.add`, `GenericMerkleTree.java`);
- one asset table per period (Asset20 ... Asset40V5, Asset50, and the original four coins):
  Bybit's tool tries them newest first. Here the table is the one the file's asset names
  fit, and the verdict names it.

Beyond Bybit's tool: every amount in the one spelling Bybit writes (the table's scale, no
leading zeros: the leaf joins the texts with no separator), no negative amount, sibling
heights and sides, an offline asset in the leaf must be zero (it is hashed, never summed),
and a sibling that repeats the node's hash is padding with zero balances.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from por.liabilities.foreign.common import (
    EXACT,
    SUMS_PARENT_ONLY,
    Customer,
    Design,
    ProofOnlyFormat,
    compare_root,
    compare_totals,
    decimal_of,
    describe,
    pinned_of,
    pinned_root,
    plain,
    read_json,
    scale_down,
    sha256_hex,
)
from por.liabilities.pins import Pins
from por.strictjson import Fields
from por.verdict import Verdict

__all__ = ["TABLES", "AssetTable", "BybitProof", "parse_bybit", "verify_bybit", "FORMAT"]

DESIGN = Design(
    hash="SHA-256",
    bits=256,
    sums=SUMS_PARENT_ONLY,
    labels="by position in the asset table (names are not hashed, and the file does not say which "
    "table: two tables of one size read one root with other names)",
    root_binds_totals=True,
    root_binds_labels=False,
)
LEFT, RIGHT, ROOT = 1, 2, 3
_HASH = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class AssetTable:
    name: str
    assets: tuple[str, ...]  # enum order (ordinal)
    offline: frozenset[str]  # in the enum, hashed in a leaf when present, never summed
    scales: dict[str, int]  # sum scale by asset (8 unless stated)

    @property
    def online(self) -> tuple[str, ...]:
        return tuple(a for a in self.assets if a not in self.offline)

    def scale(self, asset: str) -> int:
        return self.scales.get(asset, 8)


def _table(name: str, assets: str, offline: str = "", **scales: int) -> AssetTable:
    return AssetTable(name, tuple(assets.split()), frozenset(offline.split()), scales)


_A20 = "AGLA APT ATOM AVAX BIT BTC BUSD DAI DOGE DOT DYDX EOS ETH FTM LTC MATIC SOL USDC USDT XRP"
_A32 = _A20.replace("BIT", "MNT") + " SHIB OP SAND LDO LINK COMP UNI MANA CRV BLUR SUSHI PEPE"
_A40 = _A32 + " WLD BEAM AGI FET IMX RNDR GALA APEX SHRAP"
_A40V2 = _A40.replace(" DAI", "").replace("RNDR", "RENDER") + " USDE"
_A40V3 = _A40V2.replace("MATIC", "POL")
_A40V4 = _A40V3.replace("FTM", "S")
_A40V5 = _A40V4.replace("EOS", "A")
_A50 = _A40V5.replace(" BUSD", "") + " GRAM XAUT HYPE STABLE ENA ARB ASTER ONDO AAVE USD1"
# Newest first, as Bybit's MerkleProofValidator tries them.
TABLES: tuple[AssetTable, ...] = (
    _table("Asset50", _A50),
    _table("Asset40V5", _A40V5, "BUSD"),
    _table("Asset40V4", _A40V4, "BUSD"),
    _table("Asset40V3", _A40V3, "BUSD"),
    _table("Asset40V2", _A40V2, "BUSD"),
    _table("Asset40", _A40, "BUSD"),
    _table("Asset32", _A32),
    _table("AssetMnt20", _A20.replace("BIT", "MNT")),
    _table("Asset20", _A20),
    _table("MerkleTree (4 coins)", "BTC ETH USDT USDC", USDT=4, USDC=4),
)


@dataclass(frozen=True)
class Node:
    where: str
    hash: str
    height: int
    type: int
    texts: dict[str, str]
    audit_id: str | None
    nonce: str | None


@dataclass(frozen=True)
class BybitProof:
    source: str
    user_hash: str
    leaf: Node
    path: list[Node]  # the leaf's sibling first, the root last


def _node(f: Fields, where: str, *, leaf: bool = False) -> Node:
    f.only("auditId", "balance", "type", "hash", "height", "nonce", *(("userHash",) if leaf else ()))
    h = f.str("hash", max_len=64)
    if not _HASH.match(h):
        raise f.error("hash", "expected 64 lower-case hex digits")
    balance = f.get("balance", dict)
    texts = {}
    for asset, value in balance.items():
        if not isinstance(value, str):
            raise f.error(f"balance.{asset[:40]}", "Bybit writes amounts as strings")
        decimal_of(value, f"{where}.balance.{asset[:40]}")
        texts[asset] = value
    return Node(
        where=where,
        hash=h,
        height=f.int("height", minimum=1, maximum=256),
        type=f.int("type", minimum=1, maximum=4),
        texts=texts,
        audit_id=f.str("auditId", optional=True, max_len=256),
        nonce=f.str("nonce", optional=True, max_len=256),
    )


def parse_bybit(raw: bytes, source: str) -> BybitProof:
    doc = Fields(read_json(raw, source), source).only("self", "path")
    me = doc.obj("self")
    leaf = _node(me, "self", leaf=True)
    user_hash = me.str("userHash", max_len=256)
    entries = doc.objects("path", max_items=256)
    if len(entries) < 2:
        raise doc.error("path", "needs at least the sibling and the root")
    return BybitProof(
        source=source, user_hash=user_hash, leaf=leaf, path=[_node(f, f"path[{i}]") for i, f in enumerate(entries)]
    )


def fitting_tables(proof: BybitProof) -> list[AssetTable]:
    """The tables whose assets name every amount in the file and whose online assets each node holds."""
    nodes = [proof.leaf, *proof.path]
    return [t for t in TABLES if all(set(n.texts) <= set(t.assets) and set(t.online) <= set(n.texts) for n in nodes)]


def _spelling(table: AssetTable, text: str, asset: str) -> bool:
    scale = table.scale(asset)
    return re.fullmatch(rf"-?(0|[1-9][0-9]*)\.[0-9]{{{scale}}}", text) is not None and text != "-" + "0." + "0" * scale


def verify_bybit(
    proof: BybitProof, expected_root: str | None = None, *, pins: Pins | None = None, table: AssetTable | None = None
) -> Verdict:
    """The leaf, every parent and the root under the asset table the file's names fit (or `table`)."""
    pinned = pinned_of(expected_root, pins)
    root = proof.path[-1]
    v = Verdict.start(
        root=root.hash,
        height=root.height,
        user_hash=proof.user_hash,
        audit_id=proof.leaf.audit_id,
        balances=dict(proof.leaf.texts),
        root_balances=dict(root.texts),
    )
    pin = pinned_root(pinned.root, 64, "Bybit", v)
    tables = fitting_tables(proof)
    if table is not None:
        tables = [table] if table in tables else []
    if not tables:
        v.fail(
            "no Bybit asset table names exactly these assets (tried "
            + ", ".join(t.name for t in ([table] if table else TABLES))
            + ")"
        )
        return _describe(v, None, pin, False)
    table = tables[0]
    v.facts["asset_table"] = table.name
    v.facts["asset_table_chosen_by"] = (
        "the asset names in the file (the only table they fit)"
        if len(tables) == 1
        else f"the asset names in the file (they fit {', '.join(t.name for t in tables)}: the newest is used)"
    )
    _check_nodes(v, proof, table)
    node_hash, sums = _walk(v, proof, table)
    compare_root(v, node_hash, pin, stated=root.hash)
    shown = {a: sums[a] for a in table.online}
    texts = {a: plain(scale_down(sums[a], table.scale(a))) for a in table.online}
    if texts != {a: root.texts.get(a) for a in table.online} or set(root.texts) != set(table.online):
        v.fail(f"{root.where}: root balances are not the sums along the path (recomputed {texts})")
    v.facts["computed_root_balances"] = texts
    totals = compare_totals(v, shown, pinned)
    return _describe(v, table, pin, totals)


def _check_nodes(v: Verdict, proof: BybitProof, table: AssetTable) -> None:
    leaf, root, siblings = proof.leaf, proof.path[-1], proof.path[:-1]
    order = [a for a in table.assets if a in leaf.texts]
    if sha256_hex(proof.user_hash + "".join(leaf.texts[a] for a in order)) != leaf.hash:
        v.fail("self: leaf hash does not recompute from userHash and the balances")
    if leaf.height != 1 or leaf.type not in (LEFT, RIGHT):
        v.fail(f"self: a leaf has height 1 and type 1 or 2, not height {leaf.height} type {leaf.type}")
    if siblings[0].type == leaf.type:
        v.fail(f"{siblings[0].where}: type {siblings[0].type} is self's own side (they are siblings)")
    for asset in sorted(table.offline & set(leaf.texts)):
        if Decimal(leaf.texts[asset]):
            v.fail(
                f"self: {asset} {leaf.texts[asset]} is hashed in your leaf but {table.name} never sums it "
                "into the tree's totals"
            )
    for i, n in enumerate(proof.path):
        if n is not root and (n.type not in (LEFT, RIGHT) or n.height != i + 1):
            v.fail(
                f"{n.where}: a sibling at this step has type 1 or 2 and height {i + 1}, "
                f"not type {n.type} height {n.height}"
            )
        if n.audit_id is not None and n.audit_id != leaf.audit_id:  # newer files leave it out of the path
            v.fail(f"{n.where}: auditId {n.audit_id!r} differs from self's {leaf.audit_id!r}")
    if root.type != ROOT or root.height != len(proof.path):
        v.fail(
            f"{root.where}: the root has type 3 and height {len(proof.path)}, not type {root.type} height {root.height}"
        )
    for n in [leaf, *proof.path]:
        for asset, text in n.texts.items():
            if not _spelling(table, text, asset):
                v.fail(
                    f"{n.where}: {asset} {text[:40]!r} is not written as Bybit writes amounts "
                    f"({table.scale(asset)} decimals, no leading zeros)"
                )
            elif Decimal(text) < 0:
                v.facts.setdefault("negative", []).append(f"{n.where} {asset} {text}")
                v.fail(
                    f"{n.where}: negative amount {asset} {text} (a liabilities sum with a negative part can "
                    "hide what is owed)"
                )


def _walk(v: Verdict, proof: BybitProof, table: AssetTable) -> tuple[str, dict[str, Decimal]]:
    node_hash = proof.leaf.hash
    sums = {a: Decimal(proof.leaf.texts.get(a, "0")) for a in table.online}
    steps = []
    for i, sib in enumerate(proof.path[:-1]):
        sib_amounts = {a: Decimal(sib.texts.get(a, "0")) for a in table.online}
        if sib.hash == node_hash and any(sib_amounts.values()):
            v.fail(f"{sib.where}: repeats the node's hash (padding) but holds amounts")
        padding = sib.hash == node_hash
        own_left = proof.leaf.type == LEFT if i == 0 else sib.type != LEFT
        left, right = (node_hash, sib.hash) if own_left else (sib.hash, node_hash)
        sums = {a: scale_down(EXACT.add(sums[a], sib_amounts[a]), table.scale(a)) for a in table.online}
        height = i + 2
        node_hash = sha256_hex(left + right + "".join(plain(sums[a]) for a in table.online) + str(height))
        steps.append(
            {"height": sib.height, "side": "right" if own_left else "left", "hash": sib.hash, "padding": padding}
        )
    for a in table.online:
        if sums[a] < 0:
            v.fail(f"root: negative total {a} {plain(sums[a])}")
    v.facts["path"] = steps
    return node_hash, sums


def _describe(v: Verdict, table: AssetTable | None, pin: str | None, totals: bool) -> Verdict:
    offline = (
        f"; {', '.join(sorted(table.offline))} offline in {table.name}: hashed in a leaf, never summed"
        if table and table.offline
        else ""
    )
    return describe(
        v,
        DESIGN,
        fmt="bybit",
        variant=table.name if table else None,
        leaf="recomputed from Bybit's userHash and your balances (the userHash itself is Bybit's: you "
        "cannot recompute it from your UID)",
        path=f"recomputed to the root, sums set to the table's scale rounding down{offline}",
        non_negative="checked: every amount and sum on the path"
        if "negative" not in v.facts
        else f"violated: {len(v.facts['negative'])} negative amounts (listed in the reasons)",
        pinned=pin is not None,
        totals_pinned=totals,
    )


class BybitFormat(ProofOnlyFormat):
    name, exchange, design = "bybit", "Bybit", DESIGN

    def detect_proof(self, doc: Any) -> str | None:
        if (
            isinstance(doc, dict)
            and isinstance(doc.get("self"), dict)
            and "path" in doc
            and "userHash" in doc["self"]
            and "balance" in doc["self"]
        ):
            return "bybit"
        return None

    def verify_document(self, raw: bytes, source: str, pins: Pins, customer: Customer | None) -> Verdict:
        return verify_bybit(parse_bybit(raw, source), pins=pins)


FORMAT = BybitFormat()
