"""MEXC's inclusion proofs (mexcmerkle/mexc-proof-of-reserves, Java; rules read at a1a4f49).

- leaf = sha256(proofId "," accountId "," "COIN:amount,...")[:32 hex], coins in lexicographic
  order, amounts exactly as written (`MerkleSelfNode.validate`);
- path entries are keyed by `level` (self 0, the root the highest, type 3); a level with no
  entry is a missing sibling, hashed as "" (`MerkleProofValidator.pathValidate`);
- parent = sha256(left "," right "," "COIN:sum,...")[:32], sums `stripTrailingZeros().toPlainString()`;
  only when the right hash is non-blank are BTC, USDT, ETH, USDC forced present and the right
  balances added (`createInnerNode`, `MerklePathNode.calcHashId`).

MEXC's tool compares only the root hash. Here the root's balances must equal the recomputed
sums, every level is used once, a blank sibling holds nothing, and no amount is negative.
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
    check_customer,
    compare_root,
    compare_totals,
    decimal_of,
    describe,
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

__all__ = ["MexcProof", "parse_mexc", "verify_mexc", "FORMAT"]

DESIGN = Design(
    hash="SHA-256 truncated to 128 bits",
    bits=128,
    sums=SUMS_PARENT_ONLY,
    labels="by name (COIN:amount in every hash)",
    root_binds_totals=True,
    root_binds_labels=True,
)
LEFT, RIGHT, ROOT = 1, 2, 3
FORCED = ("BTC", "USDT", "ETH", "USDC")
_HASH = re.compile(r"[0-9a-f]{32}\Z")
_COIN = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")


@dataclass(frozen=True)
class Node:
    where: str
    level: int
    type: int
    hash: str  # "" for a missing sibling
    texts: dict[str, str]  # amounts as written, by coin
    amounts: dict[str, Decimal]


@dataclass(frozen=True)
class MexcProof:
    source: str
    proof_id: str
    account_id: str
    leaf: Node
    path: list[Node]  # as in the file; the last one is the root


def _balances(f: Fields, where: str) -> tuple[dict[str, str], dict[str, Decimal]]:
    raw = f.get("balances", dict)
    texts, amounts = {}, {}
    for coin, value in raw.items():
        if not _COIN.match(coin):
            raise f.error("balances", f"{coin[:40]!r} is not a coin code")
        if not isinstance(value, str):
            raise f.error(f"balances.{coin}", "MEXC writes amounts as strings")
        texts[coin] = value
        amounts[coin] = decimal_of(value, f"{where}.balances.{coin}")
    return texts, amounts


def _node(f: Fields, where: str, *, leaf: bool = False) -> Node:
    f.only("level", "type", "hash", "balances", *(("proofId", "accountId") if leaf else ()))
    h = f.str("hash", max_len=64)
    if h and not _HASH.match(h):
        raise f.error("hash", 'expected 32 lower-case hex digits (or "" for a missing sibling)')
    texts, amounts = _balances(f, where)
    return Node(
        where=where,
        level=f.int("level", maximum=256),
        type=f.int("type", minimum=1, maximum=3),
        hash=h,
        texts=texts,
        amounts=amounts,
    )


def parse_mexc(raw: bytes, source: str) -> MexcProof:
    doc = Fields(read_json(raw, source), source).only("self", "pathList")
    me = doc.obj("self")
    leaf = _node(me, "self", leaf=True)
    proof_id, account_id = me.str("proofId", max_len=256), me.str("accountId", max_len=256)
    for key, value in (("proofId", proof_id), ("accountId", account_id)):
        if "," in value:  # the preimage joins them with commas: one would shift into the other
            raise me.error(key, "a comma would make the leaf's preimage ambiguous")
    entries = doc.objects("pathList", max_items=256)
    if not entries:
        raise doc.error("pathList", "no root")
    path = [_node(f, f"pathList[{i}]") for i, f in enumerate(entries)]
    return MexcProof(source=source, proof_id=proof_id, account_id=account_id, leaf=leaf, path=path)


def leaf_hash(proof_id: str, account_id: str, texts: dict[str, str]) -> str:
    return sha256_hex(f"{proof_id},{account_id}," + ",".join(f"{c}:{texts[c]}" for c in sorted(texts)))[:32]


def parent(
    left: tuple[str, dict[str, Decimal]], right: tuple[str, dict[str, Decimal]]
) -> tuple[str, dict[str, Decimal]]:
    """(hash, sums) of a parent, as MEXC's generator makes it."""
    sums = dict(left[1])
    if right[0].strip():
        for coin in FORCED:
            sums.setdefault(coin, Decimal(0))
        for coin, value in right[1].items():
            sums[coin] = EXACT.add(sums.get(coin, Decimal(0)), value)
    text = ",".join(f"{c}:{plain(strip_zeros(sums[c]))}" for c in sorted(sums))
    return sha256_hex(f"{left[0]},{right[0]},{text}")[:32], sums


def _siblings(proof: MexcProof, v: Verdict) -> dict[int, Node]:
    """The leaf's and the root's own rules checked; the siblings by level (the first of each)."""
    leaf, root_node = proof.leaf, proof.path[-1]
    if leaf.level != 0 or leaf.type not in (LEFT, RIGHT):
        v.fail(f"self: a leaf has level 0 and type 1 or 2, not level {leaf.level} type {leaf.type}")
    if leaf_hash(proof.proof_id, proof.account_id, leaf.texts) != leaf.hash:
        v.fail("self: leaf hash does not recompute from proofId, accountId and balances")
    if root_node.type != ROOT:
        v.fail(f"{root_node.where}: the last entry must be the root (type 3), not type {root_node.type}")
    by_level: dict[int, Node] = {}
    for n in proof.path[:-1]:
        if n.level in by_level:
            v.fail(f"{n.where}: a second entry for level {n.level}")
        if n.type == ROOT or not 0 <= n.level < root_node.level:
            v.fail(f"{n.where}: a sibling has type 1 or 2 and a level below the root's ({root_node.level})")
        if not n.hash and n.texts and n.texts != {coin: "0" for coin in FORCED}:
            v.fail(
                f'{n.where}: a missing sibling (hash "") holds amounts (MEXC writes it as '
                'BTC, ETH, USDT, USDC "0", or none)'
            )
        by_level.setdefault(n.level, n)
    return by_level


def _climb(
    leaf: Node, root_level: int, by_level: dict[int, Node], v: Verdict
) -> tuple[tuple[str, dict[str, Decimal]], list[dict[str, Any]], list[str]]:
    """From the leaf up to the root's level, each parent recomputed: (hash, sums) reached, the steps
    taken (as the verdict shows them), and every negative sum on the way."""
    node, node_type = (leaf.hash, leaf.amounts), leaf.type
    steps: list[dict[str, Any]] = []
    negatives: list[str] = []
    for level in range(root_level):
        sib = by_level.get(level)
        sib_pair = (sib.hash, sib.amounts if sib.hash.strip() else {}) if sib else ("", {})
        if sib is not None and sib.hash and sib.type == node_type:
            v.fail(f"{sib.where}: type {sib.type} is the node's own side (they are siblings)")
        left, right = (node, sib_pair) if node_type == LEFT else (sib_pair, node)
        steps.append(
            {"level": level, "sibling": sib_pair[0] or "(none)", "side": "right" if node_type == LEFT else "left"}
        )
        node = parent(left, right)
        above = by_level.get(level + 1)
        node_type = LEFT if above is None else (RIGHT if above.type == LEFT else LEFT)
        negatives += [f"level {level + 1} sum {coin} {plain(value)}" for coin, value in node[1].items() if value < 0]
    return node, steps, negatives


def verify_mexc(
    proof: MexcProof, expected_root: str | None = None, *, pins: Pins | None = None, customer: Customer | None = None
) -> Verdict:
    """The leaf from proofId, accountId and balances; each level's parent up to the root; the
    root's hash and balances."""
    pinned = pinned_of(expected_root, pins)
    root_node = proof.path[-1]
    v = Verdict.start(
        root=root_node.hash,
        account_id=proof.account_id,
        proof_id=proof.proof_id,
        balances={c: proof.leaf.texts[c] for c in sorted(proof.leaf.texts)},
        root_balances={c: root_node.texts[c] for c in sorted(root_node.texts)},
        height=root_node.level,
    )
    pin = pinned_root(pinned.root, 32, "MEXC", v)
    c = customer or Customer()
    if c.account is not None and c.account != proof.account_id:
        v.fail(f"the proof is for account {proof.account_id!r}, not for yours ({c.account!r})")
    by_level = _siblings(proof, v)
    negatives = [
        f"{n.where} {coin} {n.texts[coin]}"
        for n in [proof.leaf, *proof.path]
        for coin, value in n.amounts.items()
        if value < 0
    ]
    (computed, sums), steps, negative_sums = _climb(proof.leaf, root_node.level, by_level, v)
    negatives += negative_sums
    v.facts["path"] = steps
    v.facts["computed_root_balances"] = {c: plain(strip_zeros(sums[c])) for c in sorted(sums)}
    compare_root(v, computed, pin, stated=root_node.hash)
    if set(sums) != set(root_node.amounts) or any(sums[c] != root_node.amounts[c] for c in sums):
        v.fail(
            f"{root_node.where}: root balances are not the sums along the path "
            f"(recomputed {v.facts['computed_root_balances']})"
        )
    for finding in negatives:
        v.fail(f"negative amount: {finding} (a liabilities sum with a negative part can hide what is owed)")
    totals = compare_totals(v, dict(root_node.amounts), pinned)
    return describe(
        v,
        DESIGN,
        fmt="mexc",
        variant=None,
        leaf="recomputed from proofId, accountId and your balances (MEXC's leaf has no nonce: anyone "
        "who knows your account id and balances can recognise it)",
        path=f"recomputed level by level to the root (level {root_node.level}), "
        "root balances compared with the sums (MEXC's tool compares only the hash)",
        non_negative="checked: every amount and sum on the path"
        if not negatives
        else f"violated: {len(negatives)} negative amounts (listed in the reasons)",
        pinned=pin is not None,
        totals_pinned=totals,
        extra_checked=["account id: the proof's accountId is yours (--account)"] if c.account else (),
    )


class MexcFormat(ProofOnlyFormat):
    name, exchange, design = "mexc", "MEXC", DESIGN

    def check_customer(self, name: str, customer: Customer | None) -> None:
        check_customer(customer, "MEXC", (), ("--account",))  # the proof names the account in clear

    def detect_proof(self, doc: Any) -> str | None:
        if (
            isinstance(doc, dict)
            and "pathList" in doc
            and isinstance(doc.get("self"), dict)
            and "proofId" in doc["self"]
        ):
            return "mexc"
        return None

    def verify_document(self, raw: bytes, source: str, pins: Pins, customer: Customer | None) -> Verdict:
        return verify_mexc(parse_mexc(raw, source), pins=pins, customer=customer)


FORMAT = MexcFormat()
