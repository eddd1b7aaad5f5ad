"""OKX's zk-STARK era user files (okx/proof-of-reserves `zk_STARK/`, 2023-04 -> 2024-08; rules read
at 9c9b54f, `mk_and_verify_proofs.py` `verify_single_inclusion_proof`, `permuted_tree.py`,
`keccak_merkle_tree.py`, `constants.py`).

The user-side check is hash-only:

- H = Keccak-256 (original padding, not SHA3-256); a user entry is
  u256(total_value) ‖ H(‖ u256(v mod P) for each coin of `config.coins`) ‖ user_id ‖ random_number,
  P the STARK field 2^251 + 17·2^192 + 1, and the leaf is H(entry);
- the batch tree is a Merkle tree over the STARK trace, leaves permuted by 4: the user's leaf
  sits at x = (uts·(user_index+1) + uts − 2)·16, x' = x // (L/4) + 4·(x mod L/4); at each level
  bit k of x' says whether the sibling is on the left;
- the trunk is the same over the batches (uts 32, the batch's entry id = the batch root).

PR-22's variant (Nov-Dec 2023, not merged): BLAKE2s-256, entries hold `reduced_user_id` /
`reduced_batch_id` = id mod P, and `total_value = Σ (v mod P)` is asserted. It is recognised by
its `reduced_*` keys and reported as such.

Beyond OKX's tool: total_value = Σ coin values (main branch does not check), the position fits
the path, every coin of the config is present once, and the trunk root must be pinned by the
user (OKX's tool takes it from the file). Sums and non-negativity are proved only by the
STARK sum proofs, which are not checked here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from por.liabilities.foreign.common import (
    SUMS_IN_ZK_PROOF,
    Customer,
    Design,
    ProofOnlyFormat,
    compare_root,
    compare_totals,
    describe,
    pinned_of,
    pinned_root,
    read_json,
)
from por.liabilities.pins import Pins
from por.strictjson import Fields
from por.verdict import Verdict

__all__ = ["keccak_256", "StarkProof", "parse_okx_stark", "verify_okx_stark", "FORMAT"]

MOD = 2**251 + 17 * 2**192 + 1
EXTENSION_FACTOR = 16
UTS_FOR_TRUNK = 32
DESIGN = Design(
    hash="Keccak-256 (BLAKE2s in PR-22's variant)",
    bits=256,
    sums=SUMS_IN_ZK_PROOF.replace("zk proofs", "zk-STARK sum proofs"),
    labels="by position in the file's own config.coins list, which no hash binds",
    root_binds_totals=True,
    root_binds_labels=False,
    pin_hint="compare config.coins with the coin list OKX published for the audit (no option pins it yet)",
)
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_INT = re.compile(r"-?(0|[1-9][0-9]{0,90})\Z")
_COIN = re.compile(r"[A-Za-z0-9._-]{1,32}\Z")


def keccak_256(data: bytes) -> bytes:
    from Crypto.Hash import keccak  # pycryptodome: hashlib's sha3_256 pads differently

    return keccak.new(digest_bits=256, data=data).digest()


def blake2s_256(data: bytes) -> bytes:
    return hashlib.blake2s(data).digest()


@dataclass(frozen=True)
class Entry:
    where: str
    root: str
    entry_id: str  # user_id, or batch_id
    reduced_id: str | None  # PR-22
    total: int
    values: dict[str, int]
    random: str
    path: list[bytes]
    position: int


@dataclass(frozen=True)
class StarkProof:
    source: str
    coins: list[str]
    main_coins: int
    batch: Entry
    trunk: Entry
    user_index: int
    batch_index: int
    uts: int
    variant: str  # "main" or "pr-22"


def _entry(
    f: Fields,
    where: str,
    coins: list[str],
    root_key: str,
    id_key: str,
    position: int,
    extra: tuple[str, ...],
    reduced: bool,
) -> Entry:
    keys = {root_key, id_key, "total_value", "random_number", "merkle_path", *coins, *extra}
    if reduced:
        keys.add(f"reduced_{id_key}")
    f.only(*keys)
    hexes = {}
    for key in (root_key, id_key, "random_number", *((f"reduced_{id_key}",) if reduced else ())):
        text = f.str(key, max_len=64)
        if not _HEX64.match(text):
            raise f.error(key, "expected 64 lower-case hex digits")
        hexes[key] = text

    def integer(key: str) -> int:
        text = f.str(key, max_len=100)
        if not _INT.match(text) or text == "-0":
            raise f.error(key, "expected a decimal integer as OKX writes it")
        return int(text)

    path = []
    for i, item in enumerate(f.get("merkle_path", list)):
        if not isinstance(item, str) or not _HEX64.match(item):
            raise f.error(f"merkle_path[{i}]", "expected 64 lower-case hex digits")
        path.append(bytes.fromhex(item))
    if not 2 <= len(path) <= 64:
        raise f.error("merkle_path", "expected the leaf and 1 to 63 siblings")
    return Entry(
        where=where,
        root=hexes[root_key],
        entry_id=hexes[id_key],
        reduced_id=hexes.get(f"reduced_{id_key}"),
        total=integer("total_value"),
        values={c: integer(c) for c in coins},
        random=hexes["random_number"],
        path=path,
        position=position,
    )


def parse_okx_stark(raw: bytes, source: str) -> StarkProof:
    doc = Fields(read_json(raw, source), source).only("batch_inclusion_proof", "trunk_inclusion_proof", "config")
    config = doc.obj("config").only("main_coins_num", "coins")
    coins = config.get("coins", list)
    if not coins or any(not isinstance(c, str) or not _COIN.match(c) for c in coins) or len(set(coins)) != len(coins):
        raise config.error("coins", "expected distinct coin codes")
    if {"total_value", "random_number", "merkle_path", "user_id", "batch_id"} & set(coins):
        raise config.error("coins", "a coin code collides with a field name")
    b, t = doc.obj("batch_inclusion_proof"), doc.obj("trunk_inclusion_proof")
    reduced = "reduced_user_id" in b.data
    uts = b.int("uts", minimum=1, maximum=64)
    if uts & (uts - 1) or uts < 4:
        raise b.error("uts", "OKX's user trace size is a power of 2 from 4 to 64")
    user_index, batch_index = b.int("user_index", maximum=2**40), b.int("batch_index", maximum=2**40)
    batch = _entry(
        b,
        "batch_inclusion_proof",
        coins,
        "batch_mtree_root",
        "user_id",
        (uts * (user_index + 1) + uts - 2) * EXTENSION_FACTOR,
        ("user_index", "batch_index", "uts"),
        reduced,
    )
    trunk = _entry(
        t,
        "trunk_inclusion_proof",
        coins,
        "trunk_mtree_root",
        "batch_id",
        (UTS_FOR_TRUNK * (batch_index + 1) + UTS_FOR_TRUNK - 2) * EXTENSION_FACTOR,
        (),
        reduced,
    )
    return StarkProof(
        source=source,
        coins=coins,
        main_coins=config.int("main_coins_num", maximum=len(coins)),
        batch=batch,
        trunk=trunk,
        user_index=user_index,
        batch_index=batch_index,
        uts=uts,
        variant="pr-22" if reduced else "main",
    )


def branch_root(leaf_index: int, path: list[bytes], h: Callable[[bytes], bytes]) -> bytes | None:
    """The root OKX's `verify_branch` reaches (permuted by 4), or None if the position is outside."""
    size = 2 ** (len(path) - 1)
    if leaf_index >= size or size < 4:
        return None
    quarter = size // 4
    index = leaf_index // quarter + 4 * (leaf_index % quarter)
    node = path[0]
    for sibling in path[1:]:
        node = h(sibling + node) if index % 2 else h(node + sibling)
        index //= 2
    return node


def entry_leaf(e: Entry, coins: list[str], h: Callable[[bytes], bytes]) -> bytes | None:
    if e.total < 0 or e.total >= 2**256:
        return None
    values = b"".join((e.values[c] % MOD).to_bytes(32, "big") for c in coins)
    entry_id = e.reduced_id if e.reduced_id is not None else e.entry_id
    return h(e.total.to_bytes(32, "big") + h(values) + bytes.fromhex(entry_id) + bytes.fromhex(e.random))


def _check_entry(v: Verdict, e: Entry, proof: StarkProof, h: Callable[[bytes], bytes]) -> None:
    """One entry (the user's in its batch, or the batch's in the trunk): leaf, path, totals, PR-22's ids."""
    leaf = entry_leaf(e, proof.coins, h)
    if leaf is None:
        v.fail(f"{e.where}: total_value {e.total} is not a 256-bit non-negative integer")
    elif leaf != e.path[0]:
        v.fail(
            f"{e.where}: the leaf (merkle_path[0]) does not recompute from total_value, the coin values, "
            "the id and random_number"
        )
    reached = branch_root(e.position, e.path, h)
    if reached is None:
        v.fail(f"{e.where}: position {e.position} is outside a path of {len(e.path) - 1} levels")
    elif reached.hex() != e.root:
        v.fail(f"{e.where}: the path does not recompute the root {e.root}")
    if e.total != sum(e.values.values()) and proof.variant == "main":
        v.fail(f"{e.where}: total_value {e.total} is not the sum of the coin values {sum(e.values.values())}")
    if proof.variant == "pr-22":
        if e.total != sum(x % MOD for x in e.values.values()):
            v.fail(f"{e.where}: total_value is not the sum of the coin values mod P (PR-22's check)")
        if e.reduced_id is None or int(e.reduced_id, 16) != int(e.entry_id, 16) % MOD:
            v.fail(f"{e.where}: the reduced id is not the id mod P")


def verify_okx_stark(proof: StarkProof, expected_root: str | None = None, *, pins: Pins | None = None) -> Verdict:
    """The user's leaf from their entry, its batch path, the batch's entry in the trunk, its path."""
    pinned = pinned_of(expected_root, pins)
    b, t = proof.batch, proof.trunk
    h = keccak_256 if proof.variant == "main" else blake2s_256
    v = Verdict.start(
        root=t.root,
        batch_root=b.root,
        user_id=b.entry_id,
        user_index=proof.user_index,
        batch_index=proof.batch_index,
        uts=proof.uts,
        total_value=str(b.total),
        balances={c: str(x) for c, x in b.values.items() if x},
    )
    pin = pinned_root(pinned.root, 64, "OKX zk-STARK", v)
    for e in (b, t):
        _check_entry(v, e, proof, h)
    if t.entry_id != b.root:
        v.fail(f"trunk_inclusion_proof: batch_id {t.entry_id} is not the batch root {b.root}")
    if b.total >= 4 ** (proof.uts - 2):
        v.fail(
            f"total_value {b.total} does not fit the user trace (uts {proof.uts}: below 4^{proof.uts - 2}), so "
            "no STARK sum proof can hold it"
        )
    negatives = [c for c, x in b.values.items() if x < 0]
    compare_root(v, t.root, pin)
    totals = compare_totals(v, None, pinned)  # the file states no totals: pinned ones are refused, never ignored
    v.facts["coins"] = len(proof.coins)
    return describe(
        v,
        DESIGN,
        fmt="okx-stark",
        variant="OKX main branch (Keccak-256)"
        if proof.variant == "main"
        else "OKX PR-22 (BLAKE2s, reduced ids; never merged)",
        leaf="recomputed from your total_value, coin values, user_id and random_number",
        path="your batch path and the batch's trunk path recomputed; batch_id = the batch root",
        non_negative="checked: your total_value is not negative"
        + (f" (coin values {', '.join(negatives)} are negative: a loan, allowed by OKX's design)" if negatives else ""),
        pinned=pin is not None,
        totals_pinned=totals,
        zk_proof="not checked: the STARK sum proofs (sums and every user's non-negative net value) are "
        "OKX's published sum_proof data, not part of this file",
        extra_checked=["total_value: the sum of your coin values"],
        extra_not_checked=[
            "coin order: taken from this file's config; compare it with the config OKX published for the audit"
        ],
    )


class OkxStarkFormat(ProofOnlyFormat):
    name, exchange, design = "okx-stark", "OKX zk-STARK", DESIGN
    no_tree = "OKX's zk-STARK era published no full tree in this form"

    def detect_proof(self, doc: Any) -> str | None:
        if isinstance(doc, dict) and "batch_inclusion_proof" in doc and "trunk_inclusion_proof" in doc:
            return "okx-stark"
        return None

    def verify_document(self, raw: bytes, source: str, pins: Pins, customer: Customer | None) -> Verdict:
        return verify_okx_stark(parse_okx_stark(raw, source), pins=pins)


FORMAT = OkxStarkFormat()
