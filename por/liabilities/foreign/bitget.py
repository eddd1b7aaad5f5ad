"""Bitget's inclusion proofs (BitgetLimited/proof-of-reserves, Java + fastjson; rules read at 86209a9).

- leaf = sha256(encryptUid "," nonce "," J(balances))[:16 hex] (`MerkelTreeUtils.createMerkelNodeLeaf`);
- parent = sha256(left + right "," J(left ⊕ right) "," (left.level - 1))[:16]: exact sums by coin,
  the level taken from the left child (`MerKelTree.constructInternalNode`, `createMerkelParentLeaf`);
  a friend with role 1 is left, any other role right; role 0 is padding (a copy of the node);
- J(map) = compact JSON of a `java.util.HashMap<String, BigDecimal>`, in HashMap iteration order
  (bucket `(h ^ h>>>16) & (cap-1)` of Java's String.hashCode, insertion order inside a bucket),
  each number in one of two codecs, whichever the file's leaf was made with:
  * `2025`: `stripTrailingZeros().toPlainString()` written as a JSON string (`util/JSONUtils.java`);
  * `2022`: fastjson's default, `BigDecimal.toString()` unquoted, scale as parsed or summed (`1E-8`).
  The current tool knows only the 2025 codec, so it rejects every Bitget file up to Aug 2025.

Beyond Bitget's tool: the codec is found and reported, each friend's level and role fit its place,
padding is a copy with zero balances, negative amounts are reported (the Nov 2025 file has
negative subtotals), and the 64-bit width is stated: a collision costs about 2^32 hashes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from por.errors import InputError
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
    java_string,
    pinned_of,
    pinned_root,
    plain,
    read_json,
    sha256_hex,
    strip_zeros,
)
from por.liabilities.pins import Pins
from por.strictjson import Fields
from por.verdict import Verdict

__all__ = ["BitgetProof", "CODECS", "hashmap_order", "parse_bitget", "verify_bitget", "FORMAT"]

DESIGN = Design(
    hash="SHA-256 truncated to 64 bits",
    bits=64,
    sums=SUMS_PARENT_ONLY,
    labels="by name (JSON keys in every hash)",
    root_binds_totals=False,
    root_binds_labels=True,
    unbound_totals="at 64 bits the exchange can make two trees with different totals share one root, "
    "about 2^32 hashes of work",
)
EMPTY, LEFT, RIGHT, ROOT = 0, 1, 2, 3
_SIDES: dict[int | None, str] = {LEFT: "left", RIGHT: "right", EMPTY: "padding"}
_HASH = re.compile(r"[0-9a-f]{16}\Z")
_COIN = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")
Balances = tuple[tuple[str, Decimal], ...]  # in HashMap insertion order


def _java_hash(text: str) -> int:
    h = 0
    units = text.encode("utf-16-be")
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
    return h


def hashmap_order(keys: list[str]) -> list[str]:
    """Iteration order of a java.util.HashMap filled with `keys` in this order (default capacity
    16, load factor 0.75). A bucket of 8 keys would change the table's shape: refused."""
    cap = 16
    while len(keys) > cap * 3 // 4:
        cap *= 2

    def bucket(key: str) -> int:
        h = _java_hash(key)
        return (h ^ (h >> 16)) & (cap - 1)

    buckets = [bucket(k) for k in keys]
    if any(buckets.count(b) >= 8 for b in set(buckets)):
        raise InputError("eight coins in one HashMap bucket: not a map Bitget's generator writes")
    return [k for _, _, k in sorted((b, i, k) for i, (b, k) in enumerate(zip(buckets, keys)))]


def _codec_2025(d: Decimal) -> str:
    return '"' + plain(strip_zeros(d)) + '"'


def _codec_2022(d: Decimal) -> str:
    return java_string(d)


CODECS: dict[str, Callable[[Decimal], str]] = {"2025": _codec_2025, "2022": _codec_2022}
CODEC_NAMES = {
    "2025": "codec 2025 (stripTrailingZeros, quoted: Bitget's tool since Nov 2025)",
    "2022": "codec 2022 (fastjson BigDecimal.toString, unquoted: Bitget's files 2022 - Aug 2025)",
}


def balances_json(balances: Balances, codec: Callable[[Decimal], str]) -> str:
    values = dict(balances)
    return "{" + ",".join(f'"{k}":{codec(values[k])}' for k in hashmap_order([k for k, _ in balances])) + "}"


def merge(left: Balances, right: Balances) -> Balances:
    """`TreeNode.mergeAsset(left)` then `(right)` into a new HashMap: exact sums, left's keys first."""
    out = dict(left)
    for k, v in right:
        out[k] = EXACT.add(out[k], v) if k in out else v
    return tuple(out.items())


@dataclass(frozen=True)
class Node:
    where: str
    hash: str
    level: int
    role: int | None
    balances: Balances
    texts: tuple[str, ...]  # each amount as the file writes it
    uid: str | None
    nonce: str | None
    audit_id: str | None


@dataclass(frozen=True)
class BitgetProof:
    source: str
    leaf: Node
    path: list[Node]  # the leaf's friend first, the root last


def _node(f: Fields, where: str) -> Node:
    f.only("auditId", "balances", "encryptUid", "level", "merkelLeaf", "nonce", "role")
    h = f.str("merkelLeaf", max_len=64)
    if not _HASH.match(h):
        raise f.error("merkelLeaf", "expected 16 lower-case hex digits")
    raw = f.get("balances", dict)
    balances, texts = [], []
    for coin, value in raw.items():
        if not _COIN.match(coin):
            raise f.error("balances", f"{coin[:40]!r} is not a coin code")
        if value is None:
            raise f.error(f"balances.{coin}", "null amount")
        balances.append((coin, decimal_of(value, f"{where}.balances.{coin}")))
        texts.append(value if isinstance(value, str) else str(value))
    role = f.int("role", minimum=0, maximum=3, optional=True)
    return Node(
        where=where,
        hash=h,
        level=f.int("level", minimum=0, maximum=256),
        role=role,
        balances=tuple(balances),
        texts=tuple(texts),
        uid=f.str("encryptUid", optional=True, max_len=512),
        nonce=f.str("nonce", optional=True, max_len=512),
        audit_id=f.str("auditId", optional=True, max_len=256),
    )


def parse_bitget(raw: bytes, source: str) -> BitgetProof:
    doc = Fields(read_json(raw, source), source).only("self", "path")
    leaf = _node(doc.obj("self"), "self")
    if leaf.uid is None or leaf.nonce is None:
        raise doc.error("self", "a leaf has encryptUid and nonce")
    entries = doc.objects("path", max_items=256)
    if len(entries) < 2:
        raise doc.error("path", "needs at least the friend and the root")
    return BitgetProof(source=source, leaf=leaf, path=[_node(f, f"path[{i}]") for i, f in enumerate(entries)])


def leaf_hash(node: Node, codec: Callable[[Decimal], str]) -> str:
    return sha256_hex(f"{node.uid},{node.nonce}," + balances_json(node.balances, codec))[:16]


def find_codec(proof: BitgetProof) -> str | None:
    """The codec the self leaf was made with (never both: they quote differently)."""
    for name, codec in CODECS.items():
        if leaf_hash(proof.leaf, codec) == proof.leaf.hash:
            return name
    return None


def verify_bitget(
    proof: BitgetProof, expected_root: str | None = None, *, pins: Pins | None = None, codec: str | None = None
) -> Verdict:
    """The leaf under the codec it was made with (or `codec`), every parent, the root."""
    pinned = pinned_of(expected_root, pins)
    root = proof.path[-1]
    v = Verdict.start(
        root=root.hash,
        height=len(proof.path),
        audit_id=proof.leaf.audit_id,
        balances={k: plain(x) for k, x in proof.leaf.balances},
        root_balances={k: plain(x) for k, x in root.balances},
    )
    pin = pinned_root(pinned.root, 16, "Bitget", v)
    name = codec or find_codec(proof)
    if name is None or leaf_hash(proof.leaf, CODECS[name]) != proof.leaf.hash:
        tried = {n: leaf_hash(proof.leaf, c) for n, c in CODECS.items()}
        v.fail(
            "self: leaf hash does not recompute under either Bitget number codec "
            f"(codec 2025 gives {tried['2025']}, codec 2022 gives {tried['2022']}, the file says {proof.leaf.hash})"
        )
        return _describe(v, None, pin, False, [])
    v.facts["codec"] = CODEC_NAMES[name]
    negatives = _check_nodes(v, proof, CODECS[name])
    computed, sums = _walk(v, proof, CODECS[name])
    compare_root(v, computed, pin, stated=root.hash)
    file_sums = dict(root.balances)
    if set(dict(sums)) != set(file_sums) or any(file_sums[k] != x for k, x in sums):
        v.fail(
            f"{root.where}: root balances are not the sums along the path "
            f"(recomputed { ({k: plain(x) for k, x in sums}) })"
        )
    negatives += [f"root {k} {plain(x)}" for k, x in sums if x < 0]
    totals = compare_totals(v, dict(sums), pinned)
    return _describe(v, name, pin, totals, negatives)


def _check_nodes(v: Verdict, proof: BitgetProof, codec) -> list[str]:
    leaf, root, friends = proof.leaf, proof.path[-1], proof.path[:-1]
    if leaf.role not in (LEFT, RIGHT):
        v.fail(f"self: a leaf has role 1 or 2, not {leaf.role}")
    if friends[0].role == leaf.role:
        v.fail(f"{friends[0].where}: role {friends[0].role} is self's own side (they are friends)")
    first = friends[0]
    if first.uid is not None and first.nonce is not None:
        if leaf_hash(first, codec) != first.hash:
            v.fail(f"{first.where}: the friend leaf does not recompute from its encryptUid, nonce and balances")
        else:
            v.facts["friend_leaf_recomputed"] = True
    for i, n in enumerate(friends):
        if n.role not in (EMPTY, LEFT, RIGHT):
            v.fail(f"{n.where}: a friend has role 0, 1 or 2, not {n.role}")
        if i > 0 and (n.uid is not None or n.nonce is not None):
            v.fail(f"{n.where}: only a leaf carries encryptUid and nonce")
    if root.role not in (None, ROOT) or root.level != 1:
        v.fail(f"{root.where}: the root has level 1 (and role 3 or none), not level {root.level} role {root.role}")
    audit = {n.audit_id for n in [leaf, *proof.path]}
    if len(audit) > 1:
        v.fail(f"auditId differs along the path: {sorted(str(a) for a in audit)}")
    # One spelling per amount, so no edit goes unseen: codec 2025 files write the stripped plain
    # text; codec 2022 files write the BigDecimal's own text, plain or as toString (scale kept).
    for n in [leaf, *proof.path]:
        for (k, x), text in zip(n.balances, n.texts):
            spellings = {plain(strip_zeros(x))} if codec is _codec_2025 else {plain(x), java_string(x)}
            if text not in spellings:
                v.fail(
                    f"{n.where}: {k} {text[:40]!r} is not written as Bitget writes amounts "
                    f"({' or '.join(sorted(spellings))})"
                )
    return [f"{n.where} {k} {plain(x)}" for n in [leaf, *proof.path] for k, x in n.balances if x < 0]


def _walk(v: Verdict, proof: BitgetProof, codec) -> tuple[str, Balances]:
    node_hash, level, sums = proof.leaf.hash, proof.leaf.level, proof.leaf.balances
    steps = []
    for friend in proof.path[:-1]:
        if friend.level != level:
            v.fail(f"{friend.where}: level {friend.level}, the node it pairs with is at level {level}")
        if friend.role == EMPTY:
            if friend.hash != node_hash or any(x for _, x in friend.balances):
                v.fail(f"{friend.where}: padding (role 0) must copy the node's hash with zero balances")
            friend_sums: Balances = ()
        else:
            if friend.hash == node_hash:
                v.fail(f"{friend.where}: repeats the node's hash but is not padding (role 0)")
            friend_sums = friend.balances
        if friend.role == LEFT:
            left, right, left_level, sums = friend.hash, node_hash, friend.level, merge(friend_sums, sums)
        else:
            left, right, left_level, sums = node_hash, friend.hash, level, merge(sums, friend_sums)
        level = left_level - 1
        node_hash = sha256_hex(f"{left}{right}," + balances_json(sums, codec) + f",{level}")[:16]
        steps.append({"level": friend.level, "side": _SIDES.get(friend.role, str(friend.role)), "hash": friend.hash})
    v.facts["path"] = steps
    if level != proof.path[-1].level:
        v.fail(f"root: the path reaches level {level}, the root says {proof.path[-1].level}")
    return node_hash, sums


def _describe(v: Verdict, codec: str | None, pin: str | None, totals: bool, negatives: list[str]) -> Verdict:
    for finding in negatives:
        v.fail(
            f"negative amount: {finding} (finding: a sum tree with negative parts can hide liabilities; "
            "Bitget's tool does not look)"
        )
    if negatives:
        v.facts["negative"] = negatives
    if codec and all(r.startswith("negative amount") for r in v.reasons):
        v.facts["hashes_recompute"] = f"every hash recomputes under {CODEC_NAMES[codec]}"
    return describe(
        v,
        DESIGN,
        fmt="bitget",
        variant=CODEC_NAMES[codec] if codec else None,
        leaf="recomputed from encryptUid, nonce and your balances"
        + (" (and the friend leaf from its own)" if v.facts.get("friend_leaf_recomputed") else ""),
        path="recomputed to the root (level 1), root balances compared with the sums",
        non_negative="checked: every amount and sum on the path"
        if not negatives
        else f"violated: {len(negatives)} negative amounts (listed in the reasons)",
        pinned=pin is not None,
        totals_pinned=totals,
    )


class BitgetFormat(ProofOnlyFormat):
    name, exchange, design = "bitget", "Bitget", DESIGN

    def detect_proof(self, doc: Any) -> str | None:
        if (
            isinstance(doc, dict)
            and isinstance(doc.get("self"), dict)
            and "path" in doc
            and "merkelLeaf" in doc["self"]
        ):
            return "bitget"
        return None

    def verify_document(self, raw: bytes, source: str, pins: Pins, customer: Customer | None) -> Verdict:
        return verify_bitget(parse_bitget(raw, source), pins=pins)


FORMAT = BitgetFormat()
