"""Verifiers for OKX's published proof-of-reserves formats (hash rules: okx_rules).

- V1 inclusion proof (merkle_proof_file.json): the user's leaf with nonce and the
  sibling path up to the root; checked leaf to root, every sum exact.
- V2 user file (user_info_file.json): the user hash and the split leaves carrying
  the user's balance; with the full tree (okx_tree) both leaves must be in it.

Parsing errors are InputError naming file and field; verification failures are a
Verdict with ok False and reasons naming the place. No floats anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from por.errors import InputError
from por.liabilities.foreign.okx.anchor import anchor, as_pins
from por.liabilities.foreign.okx.rules import (
    COINS,
    add,
    balances_dict,
    check_audit_id,
    check_hash,
    check_nonce,
    leaf_hash,
    negatives,
    parent_hash,
    parse_balances,
    split_hash,
)
from por.liabilities.foreign.okx.tree import TreeScan, scan_okx_v2_tree, wants_digest
from por.liabilities.pins import Pins
from por.strictjson import Fields, loads
from por.verdict import Verdict

__all__ = [
    "OkxNode",
    "OkxV1Proof",
    "OkxV2User",
    "parse_okx_v1_proof",
    "parse_okx_v2_user",
    "verify_okx_v1",
    "verify_okx_v2_user",
]

LEFT, RIGHT, ROOT, PADDING = 1, 2, 3, 4
_SIDE = {LEFT: "left", RIGHT: "right", ROOT: "root", PADDING: "padding"}
_V1_KEYS = ("auditId", "balances", "type", "nonce", "hash", "height")


@dataclass
class OkxNode:
    where: str  # "self" or "path[3]": names the place in reasons
    hash: str
    height: int
    type: int
    units: tuple[int, ...]
    nonce: str | None = None
    audit_id: str | None = None


@dataclass
class OkxV1Proof:
    source: str
    assets: tuple[str, ...]
    leaf: OkxNode
    path: list[OkxNode]  # siblings from height 1 up, then the root


@dataclass
class OkxV2User:
    source: str
    assets: tuple[str, ...]
    hash: str
    nonce: str
    total: tuple[int, ...]
    nodes: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)  # (hash, units)


def _document(data: bytes | str, source: str) -> Fields:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", file=source) from None
    if "\\" in data:  # Go's encoder escapes nothing in hex, digits and coin names: OKX writes no escape
        at = data.index("\\")
        raise InputError(
            f"a JSON escape (\\) at column {at - data.rfind(chr(10), 0, at)}: not as OKX writes it",
            file=source,
            line=data.count("\n", 0, at) + 1,
        )
    return Fields(loads(data, source), source)


def _hash(f: Fields, key: str) -> str:
    try:
        return check_hash(f.get(key, str))
    except InputError as exc:
        raise exc.at(file=f.source, field=f._at(key)) from None


def _balances(f: Fields, key: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    try:
        return parse_balances(f.get(key, dict))
    except InputError as exc:
        raise exc.at(file=f.source, field=f._at(key)) from None


def _nonce(f: Fields) -> str:
    try:
        return check_nonce(f.get("nonce", str))
    except InputError as exc:
        raise exc.at(file=f.source, field=f._at("nonce")) from None


def _optional_nonce(f: Fields) -> str | None:
    return _nonce(f) if f.has("nonce") else None


def _audit_id(f: Fields) -> str | None:
    value = f.get("auditId", str, optional=True)
    try:
        return None if value is None else check_audit_id(value)
    except InputError as exc:
        raise exc.at(file=f.source, field=f._at("auditId")) from None


def parse_okx_v1_proof(data: bytes | str, source: str) -> OkxV1Proof:
    doc = _document(data, source).only("self", "path")

    def node(f: Fields, where: str) -> OkxNode:
        f.only(*_V1_KEYS)
        _, units = _balances(f, "balances")
        return OkxNode(
            where=where,
            hash=_hash(f, "hash"),
            height=f.int("height", minimum=1, maximum=256),
            type=f.int("type", minimum=1, maximum=4),
            units=units,
            nonce=_optional_nonce(f),
            audit_id=_audit_id(f),
        )

    leaf = node(doc.obj("self"), "self")
    entries = doc.objects("path", max_items=256)
    if len(entries) < 2:
        raise doc.error("path", "needs at least one sibling and the root")
    path = [node(f, f"path[{i}]") for i, f in enumerate(entries)]
    if leaf.nonce is None:
        raise doc.error("self.nonce", "missing")
    return OkxV1Proof(source=source, assets=COINS, leaf=leaf, path=path)


def _check_entries(proof: OkxV1Proof, v: Verdict) -> None:
    """Each entry's own rules: no negative amount, one audit id, a nonce only on a leaf, the root last,
    the leaf and its sibling leaf recomputed from their nonces."""
    assets, leaf, root, first = proof.assets, proof.leaf, proof.path[-1], proof.path[0]
    for n in [leaf, *proof.path]:
        if bad := negatives(assets, n.units):
            v.fail(f"{n.where}: negative amount {', '.join(bad)}")
        if n.audit_id != leaf.audit_id:
            v.fail(f"{n.where}: auditId {n.audit_id!r} differs from self's {leaf.audit_id!r}")
        if n.nonce is not None and n is not leaf and n is not first:
            v.fail(f"{n.where}: only a leaf carries a nonce")
        if n.type == ROOT and n is not root:
            v.fail(f"{n.where}: type 3 (root) before the end of the path")
    if leaf.height != 1 or leaf.type not in (LEFT, RIGHT):
        v.fail(f"self: a leaf has height 1 and type 1 or 2, not height {leaf.height} type {leaf.type}")
    if leaf.nonce is None or leaf_hash(leaf.nonce, assets, leaf.units) != leaf.hash:
        v.fail("self: leaf hash does not recompute from nonce and balances")
    if root.type != ROOT:
        v.fail(f"{root.where}: the last entry must be the root (type 3), not type {root.type}")
    if first.type not in ({RIGHT, PADDING} if leaf.type == LEFT else {LEFT}):
        v.fail(f"{first.where}: type {first.type} does not fit self's type {leaf.type} (they are siblings)")
    if first.nonce is not None and leaf_hash(first.nonce, assets, first.units) != first.hash:
        v.fail(f"{first.where}: sibling leaf hash does not recompute from its nonce and balances")


def _climb(proof: OkxV1Proof, v: Verdict) -> tuple[str, tuple[int, ...], list[dict[str, Any]]]:
    """From the leaf up the path, each parent recomputed: the hash and sums reached, and the steps."""
    assets, node_hash, sums = proof.assets, proof.leaf.hash, proof.leaf.units
    steps: list[dict[str, Any]] = []
    for i, sib in enumerate(proof.path[:-1]):
        if sib.height != i + 1:
            v.fail(f"{sib.where}: height {sib.height}, the sibling at this step has height {i + 1}")
        repeats = sib.hash == node_hash
        if sib.type == PADDING:
            if not repeats or any(sib.units):
                v.fail(f"{sib.where}: padding must repeat the node's hash with zero balances")
            left, right = node_hash, sib.hash
        elif sib.type in (LEFT, RIGHT):
            if repeats:
                v.fail(f"{sib.where}: sibling repeats the node's hash but is not marked padding (type 4)")
            left, right = (sib.hash, node_hash) if sib.type == LEFT else (node_hash, sib.hash)
        else:
            v.fail(f"{sib.where}: type {sib.type} is not a sibling type (1, 2 or 4)")
            left, right = node_hash, sib.hash
        steps.append(
            {
                "height": sib.height,
                "side": _SIDE.get(sib.type, str(sib.type)),
                "hash": sib.hash,
                "balances": balances_dict(assets, sib.units),
            }
        )
        sums = add(sums, sib.units)
        node_hash = parent_hash(left, right, sums, i + 2)
    return node_hash, sums, steps


def verify_okx_v1(proof: OkxV1Proof, pins: Pins | str | None = None) -> Verdict:
    """Recomputes the leaf from nonce and balances, then every parent up to the root, then
    compares the root with the pins (a bare string is a root alone, which is not enough)."""
    pins = as_pins(pins)
    assets, leaf, root, siblings = proof.assets, proof.leaf, proof.path[-1], proof.path[:-1]
    v = Verdict.start(
        format="okx-v1",
        root=root.hash,
        balances=balances_dict(assets, leaf.units),
        root_balances=balances_dict(assets, root.units),
        height=root.height,
        leaf_hash=leaf.hash,
        audit_id=leaf.audit_id,
        anchored=pins.anchored,
    )
    _check_entries(proof, v)
    node_hash, sums, steps = _climb(proof, v)
    v.facts["path"] = steps
    if root.height != len(siblings) + 1:
        v.fail(f"{root.where}: root height {root.height}, the path reaches height {len(siblings) + 1}")
    if node_hash != root.hash:
        v.fail(f"{root.where}: root hash does not recompute from the leaf and its path")
    if sums != root.units:
        v.fail(f"{root.where}: root balances are not the sum along the path (recomputed {balances_dict(assets, sums)})")
    leaf_range = _leaf_count_range(siblings, len(siblings) + 1)
    if leaf_range is None:
        v.fail("path: its sibling types (left, right, padding) fit no tree OKX builds")
    else:
        v.facts["leaf_count_range"] = list(leaf_range)
    anchor(v, pins, root=root.hash, root_units=root.units, height=root.height, leaf_range=leaf_range)
    return v


def _leaf_count_range(siblings: list[OkxNode], height: int) -> tuple[int, int] | None:
    """How many leaves a tree can have for this path: OKX pads each odd level with one node,
    so level k (leaves at 1) has ceil(n / 2^(k-1)) nodes; a padding sibling says the node is
    the last of its level, a right sibling that one more follows, and the root's two children
    that 2^(height-2) < n <= 2^(height-1). None when no n fits."""
    low, high = 2 ** (height - 2) + 1, 2 ** (height - 1)
    index = 0
    for k, sib in enumerate(siblings):
        if sib.type == LEFT:
            index |= 1 << k
    for k, sib in enumerate(siblings, start=1):
        at, span = index >> (k - 1), 2 ** (k - 1)  # the node's place in level k; leaves per node there
        if sib.type == PADDING:  # exactly at + 1 nodes at level k
            low, high = max(low, at * span + 1), min(high, (at + 1) * span)
        else:  # at least at + 1 (+1 for a right sibling) nodes
            low = max(low, (at + (1 if sib.type == RIGHT else 0)) * span + 1)
    return (low, high) if low <= high else None


def parse_okx_v2_user(data: bytes | str, source: str) -> OkxV2User:
    doc = _document(data, source).only("hash", "nodes", "nonce", "totalBalances")
    assets, total = _balances(doc, "totalBalances")
    user = OkxV2User(source=source, assets=assets, hash=_hash(doc, "hash"), nonce=_nonce(doc), total=total)
    entries = doc.objects("nodes", max_items=1024)
    if not entries:
        raise doc.error("nodes", "no split leaves")
    for f in entries:
        f.only("balances", "hash")
        user.nodes.append((_hash(f, "hash"), _balances(f, "balances")[1]))
    return user


def _check_user_leaves(v: Verdict, user: OkxV2User) -> None:
    """The user hash from nonce and totals, each split leaf from the user hash and its balances, no negative
    amount, no leaf twice, and the splits summing exactly to the totals."""
    assets = user.assets
    if leaf_hash(user.nonce, assets, user.total) != user.hash:
        v.fail("hash: user hash does not recompute from nonce and totalBalances")
    if bad := negatives(assets, user.total):
        v.fail(f"totalBalances: negative amount {', '.join(bad)}")
    sums, seen = tuple(0 for _ in assets), set()
    for i, (h, units) in enumerate(user.nodes):
        if split_hash(user.hash, units) != h:
            v.fail(f"nodes[{i}]: hash does not recompute from the user hash and its balances")
        if bad := negatives(assets, units):
            v.fail(f"nodes[{i}]: negative amount {', '.join(bad)}")
        if h in seen:
            v.fail(f"nodes[{i}]: the same leaf is listed twice")
        seen.add(h)
        sums = add(sums, units)
    if sums != user.total:
        v.fail(f"nodes: split balances sum to {balances_dict(assets, sums)}, not totalBalances")


def _against_tree(
    v: Verdict, user: OkxV2User, tree: str | Path | BinaryIO, pins: Pins, progress: Callable[[int], None] | None
) -> TreeScan:
    """The full tree scanned: its faults, totals and shape into the verdict, and every split found in it
    with the same balances coin by coin; returns the scan (for its root)."""
    assets = user.assets
    watch = {h: units for h, units in user.nodes}
    scan = scan_okx_v2_tree(tree, watch=watch, progress=progress, digest=wants_digest(pins))
    where = str(tree) if isinstance(tree, (str, Path)) else "tree"
    v.reasons.extend(f"{where}: {r}" for r in scan.verdict.reasons)
    v.ok = v.ok and scan.verdict.ok
    tree_totals = scan.verdict.facts.get("totals") or {}
    v.facts.update(
        inclusion_checked=True,
        root=scan.root,
        tree_totals=tree_totals,
        tree_leaf_count=scan.leaf_count,
        height=scan.height,
    )
    if set(tree_totals) != set(assets):
        v.fail(f"{where}: the tree owes {', '.join(tree_totals)}, the user file {', '.join(assets)}")
    for i, (h, units) in enumerate(user.nodes):
        if h not in scan.found:
            v.fail(f"nodes[{i}]: leaf {h} is not a leaf of {where}")
        elif scan.found[h][1] != balances_dict(assets, units):  # coin by coin, by name
            v.fail(f"nodes[{i}]: leaf {h} has other balances in {where} (line {scan.found[h][0]})")
    return scan


def verify_okx_v2_user(
    user: OkxV2User, tree: str | Path | BinaryIO | None, pins: Pins | str | None = None, *, progress=None
) -> Verdict:
    """User hash from nonce + totals; each split leaf from the user hash + its balances;
    splits sum exactly to the totals; with the tree, every split is a leaf of it, with
    the same balances coin by coin; then the tree's root against the pins."""
    pins = as_pins(pins)
    assets = user.assets
    v = Verdict.start(
        format="okx-v2-user",
        user_hash=user.hash,
        balances=balances_dict(assets, user.total),
        leaves=[{"hash": h, "balances": balances_dict(assets, u)} for h, u in user.nodes],
        anchored=False,
    )
    _check_user_leaves(v, user)
    if tree is None:
        v.facts["inclusion_checked"] = False
        if pins.anchored:
            v.fail("a V2 user file holds no root: give the full tree to check inclusion under the published root")
        return v
    scan = _against_tree(v, user, tree, pins, progress)
    v.facts["leaf_lines"] = {h: line for h, (line, _) in scan.found.items()}
    anchor(
        v,
        pins,
        root=scan.root,
        root_units=scan.root_units,
        height=scan.height,
        leaf_count=scan.leaf_count,
        file_sha256=scan.sha256,
    )
    return v
