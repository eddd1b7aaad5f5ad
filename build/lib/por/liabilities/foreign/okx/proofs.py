"""Verifiers for OKX's published proof-of-reserves formats (hash rules: okx_rules).

- V1 inclusion proof (merkle_proof_file.json): the user's leaf with nonce and the
  sibling path up to the root; checked leaf to root, every sum exact.
- V2 user file (user_info_file.json): the user hash and the split leaves carrying
  the user's balance; with the full tree (okx_tree) both leaves must be in it.

Parsing errors are InputError naming file and field; verification failures are a
Verdict with ok False and reasons naming the place. No floats anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from por.errors import InputError
from por.liabilities.foreign.okx.rules import (
    add,
    balances_dict,
    check_hash,
    leaf_hash,
    negatives,
    parent_hash,
    parse_balances,
    split_hash,
)
from por.liabilities.foreign.okx.tree import scan_okx_v2_tree
from por.strictjson import Fields, loads
from por.verdict import Verdict

__all__ = ["OkxNode", "OkxV1Proof", "OkxV2User", "parse_okx_v1_proof", "parse_okx_v2_user",
           "verify_okx_v1", "verify_okx_v2_user"]

LEFT, RIGHT, ROOT, PADDING = 1, 2, 3, 4
_SIDE = {LEFT: "left", RIGHT: "right", ROOT: "root", PADDING: "padding"}
_V1_KEYS = ("auditId", "balances", "type", "nonce", "hash", "height")


@dataclass
class OkxNode:
    where: str                      # "self" or "path[3]": names the place in reasons
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
    path: list[OkxNode]             # siblings from height 1 up, then the root


@dataclass
class OkxV2User:
    source: str
    assets: tuple[str, ...]
    hash: str
    nonce: str
    total: tuple[int, ...]
    nodes: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)   # (hash, units)


def _document(data: bytes | str, source: str) -> Fields:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", file=source) from None
    return Fields(loads(data, source), source)


def _hash(f: Fields, key: str) -> str:
    try:
        return check_hash(f.get(key, str))
    except InputError as exc:
        raise exc.at(file=f.source, field=f._at(key)) from None


def _balances(f: Fields, key: str, assets: tuple[str, ...] | None) -> tuple[tuple[str, ...], tuple[int, ...]]:
    try:
        return parse_balances(f.get(key, dict), assets)
    except InputError as exc:
        raise exc.at(file=f.source, field=f._at(key)) from None


def _nonce(f: Fields, key: str = "nonce", optional: bool = False) -> str | None:
    value = f.str(key, optional=optional, max_len=1024)
    if value is not None and not value:
        raise f.error(key, "empty nonce")
    return value


def parse_okx_v1_proof(data: bytes | str, source: str) -> OkxV1Proof:
    doc = _document(data, source).only("self", "path")
    assets: tuple[str, ...] | None = None

    def node(f: Fields, where: str) -> OkxNode:
        nonlocal assets
        f.only(*_V1_KEYS)
        assets, units = _balances(f, "balances", assets)
        return OkxNode(where=where, hash=_hash(f, "hash"), height=f.int("height", minimum=1, maximum=256),
                       type=f.int("type", minimum=1, maximum=4), units=units,
                       nonce=_nonce(f, optional=True), audit_id=f.str("auditId", optional=True, max_len=256))

    leaf = node(doc.obj("self"), "self")
    entries = doc.objects("path", max_items=256)
    if len(entries) < 2:
        raise doc.error("path", "needs at least one sibling and the root")
    path = [node(f, f"path[{i}]") for i, f in enumerate(entries)]
    if leaf.nonce is None:
        raise doc.error("self.nonce", "missing")
    return OkxV1Proof(source=source, assets=assets, leaf=leaf, path=path)


def verify_okx_v1(proof: OkxV1Proof, expected_root: str | None) -> Verdict:
    """Recomputes the leaf from nonce and balances, then every parent up to the root."""
    assets, leaf, root, siblings = proof.assets, proof.leaf, proof.path[-1], proof.path[:-1]
    v = Verdict.start(format="okx-v1", root=root.hash, balances=balances_dict(assets, leaf.units),
                      root_balances=balances_dict(assets, root.units), height=root.height,
                      leaf_hash=leaf.hash, audit_id=leaf.audit_id, anchored=expected_root is not None)
    for n in [leaf, *proof.path]:
        if bad := negatives(assets, n.units):
            v.fail(f"{n.where}: negative amount {', '.join(bad)}")
        if n.audit_id != leaf.audit_id:
            v.fail(f"{n.where}: auditId {n.audit_id!r} differs from self's {leaf.audit_id!r}")
        if n.nonce is not None and n is not leaf and n is not proof.path[0]:
            v.fail(f"{n.where}: only a leaf carries a nonce")
        if n.type == ROOT and n is not root:
            v.fail(f"{n.where}: type 3 (root) before the end of the path")
    if leaf.height != 1 or leaf.type not in (LEFT, RIGHT):
        v.fail(f"self: a leaf has height 1 and type 1 or 2, not height {leaf.height} type {leaf.type}")
    if leaf_hash(leaf.nonce, assets, leaf.units) != leaf.hash:
        v.fail("self: leaf hash does not recompute from nonce and balances")
    if root.type != ROOT:
        v.fail(f"{root.where}: the last entry must be the root (type 3), not type {root.type}")
    first = siblings[0]
    if first.type not in ({RIGHT, PADDING} if leaf.type == LEFT else {LEFT}):
        v.fail(f"{first.where}: type {first.type} does not fit self's type {leaf.type} (they are siblings)")
    if first.nonce is not None and leaf_hash(first.nonce, assets, first.units) != first.hash:
        v.fail(f"{first.where}: sibling leaf hash does not recompute from its nonce and balances")

    node_hash, sums, steps = leaf.hash, leaf.units, []
    for i, sib in enumerate(siblings):
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
        steps.append({"height": sib.height, "side": _SIDE.get(sib.type, str(sib.type)), "hash": sib.hash,
                      "balances": balances_dict(assets, sib.units)})
        sums = add(sums, sib.units)
        node_hash = parent_hash(left, right, sums, i + 2)
    v.facts["path"] = steps
    if root.height != len(siblings) + 1:
        v.fail(f"{root.where}: root height {root.height}, the path reaches height {len(siblings) + 1}")
    if node_hash != root.hash:
        v.fail(f"{root.where}: root hash does not recompute from the leaf and its path")
    if sums != root.units:
        v.fail(f"{root.where}: root balances are not the sum along the path "
               f"(recomputed {balances_dict(assets, sums)})")
    _compare_root(v, root.hash, expected_root)
    return v


def _compare_root(v: Verdict, root: str, expected: str | None) -> None:
    if expected is not None and root != _normal_hex(expected):
        v.fail(f"root {root} is not the published root {_normal_hex(expected)}")


def _normal_hex(value: str) -> str:
    value = value.strip().lower()
    return value[2:] if value.startswith("0x") else value


def parse_okx_v2_user(data: bytes | str, source: str) -> OkxV2User:
    doc = _document(data, source).only("hash", "nodes", "nonce", "totalBalances")
    assets, total = _balances(doc, "totalBalances", None)
    user = OkxV2User(source=source, assets=assets, hash=_hash(doc, "hash"), nonce=_nonce(doc), total=total)
    entries = doc.objects("nodes", max_items=1024)
    if not entries:
        raise doc.error("nodes", "no split leaves")
    for f in entries:
        f.only("balances", "hash", "height")
        if f.has("height") and f.int("height") != 1:
            raise f.error("height", "a split leaf has height 1")
        user.nodes.append((_hash(f, "hash"), _balances(f, "balances", assets)[1]))
    return user


def verify_okx_v2_user(user: OkxV2User, tree: str | Path | BinaryIO | None,
                       expected_root: str | None, *, progress=None) -> Verdict:
    """User hash from nonce + totals; each split leaf from the user hash + its balances;
    splits sum exactly to the totals; with the tree, every split is a leaf of it."""
    assets = user.assets
    v = Verdict.start(format="okx-v2-user", user_hash=user.hash, balances=balances_dict(assets, user.total),
                      leaves=[{"hash": h, "balances": balances_dict(assets, u)} for h, u in user.nodes],
                      anchored=False)
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
    if tree is None:
        v.facts["inclusion_checked"] = False
        if expected_root is not None:
            v.fail("a V2 user file holds no root: give the full tree to check inclusion under the published root")
        return v
    watch = {h: units for h, units in user.nodes}
    tv, found = scan_okx_v2_tree(tree, expected_root, watch=watch, progress=progress)
    where = str(tree) if isinstance(tree, (str, Path)) else "tree"
    v.reasons.extend(f"{where}: {r}" for r in tv.reasons)
    v.ok = v.ok and tv.ok
    v.facts.update(inclusion_checked=True, anchored=expected_root is not None, root=tv.facts.get("root"),
                   tree_totals=tv.facts.get("totals"), tree_leaf_count=tv.facts.get("leaf_count"))
    for i, (h, units) in enumerate(user.nodes):
        if h not in found:
            v.fail(f"nodes[{i}]: leaf {h} is not a leaf of {where}")
        elif found[h][1] != units:
            v.fail(f"nodes[{i}]: leaf {h} has other balances in {where} (line {found[h][0]})")
    v.facts["leaf_lines"] = {h: line for h, (line, _) in found.items()}
    return v

