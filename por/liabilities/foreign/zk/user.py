"""One customer's zk proof-of-solvency user proof: Binance (2023 v1, 2024 v2), Gate.io, HTX.

One design (binance/zkmerkle-proof-of-solvency, forked by Gate.io and HTX): a Poseidon account
tree of depth 28 whose leaf is Poseidon(account id hash, total equity, total debt[, total
collateral], asset commitment); the sums and their non-negativity are proved only by the
batches' Groth16 proofs. What differs is the asset commitment:

- `v1` (Binance 2023 @c1884aa, Gate.io @87db18d `utils/utils.go`): [E_0, D_0, E_1, D_1, ...] over
  the audit's N assets (absent ones 0), three u64 per element a·2^128 + b·2^64 + c;
- `htx` (huobiapi/Tool-Go-MerkleVerify `merkle_groth16/src/utils/utils.go`): one element per
  asset, |Balance| (big.Int.Bytes() drops the sign);
- `v2` (Binance 2024-09 @5d26d4f onwards, `PaddingAccountAssets`, `ComputeUserAssetsCommitment`):
  the assets sorted by index padded to the tier size with [j, 0, 0, 0, 0, 0], six u64 per asset
  [Index, Equity, Debt, Loan, Margin, PortfolioMargin], three per element; the leaf adds TotalCollateral.

N (AssetCounts) is per audit and never assumed: it comes from the proof table (`--tree`) or is
found as the count under which the proof recomputes its root, and the verdict says which.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from por.liabilities.foreign.zk.poseidon import CHUNK, P, permutation, poseidon
from por.strictjson import Fields

__all__ = [
    "ZkUser",
    "parse_user",
    "detect_user",
    "commitment_elements",
    "leaf_of",
    "path_root",
    "counts_that_verify",
    "DEPTH",
    "U64",
]

DEPTH = 28
U64 = 2**64
_HEX = re.compile(r"[0-9a-f]{64}\Z")
HISTORY = {  # asset counts each exchange's audits used (tried first; then every count is scanned)
    "gate-zk": (800, 350, 500),
    "htx-zk": (168, 174, 205),
    "binance-zk": (350,),
}
MAX_ASSETS = 2000
TIERS = (50, 500)


@dataclass(frozen=True)
class ZkUser:
    source: str
    fmt: str  # gate-zk, htx-zk, binance-zk
    layout: str  # v1, htx, v2
    index: int
    id_hash: int
    totals: tuple[int, ...]  # (equity, debt[, collateral])
    assets: tuple[tuple[int, ...], ...]  # (index, values...) sorted by index
    root: int
    path: tuple[int, ...]  # 28 siblings, leaf level first


def detect_user(doc) -> str | None:
    if not isinstance(doc, dict):
        return None
    if {"Arrangement", "UniqueIdentification", "AssetDetails", "TreeRootHash", "MerkleProofEncode"} <= set(doc):
        return "gate-zk"
    if {"AccountIndex", "AccountIdHash", "Assets", "Root", "Proof"} <= set(doc):
        assets = doc.get("Assets")
        first = assets[0] if isinstance(assets, list) and assets and isinstance(assets[0], dict) else {}
        return "htx-zk" if "Balance" in first else "binance-zk"
    return None


def _field(f: Fields, key: str, *, bound: int = P) -> int:
    value = f.get(key, int)
    if not 0 <= value < bound:
        raise f.error(key, f"{value} is outside 0..{bound - 1}")
    return value


def _hex_element(f: Fields, key: str) -> int:
    text = f.str(key, max_len=66)
    if not _HEX.match(text) or int(text, 16) >= P:
        raise f.error(key, "expected a BN254 field element as 64 hex digits")
    return int(text, 16)


def _siblings(f: Fields, key: str) -> tuple[int, ...]:
    items = f.get(key, list)
    if len(items) != DEPTH:
        raise f.error(key, f"{len(items)} siblings; the account tree has depth {DEPTH}")
    out = []
    for i, item in enumerate(items):
        try:
            raw = base64.b64decode(item, validate=True) if isinstance(item, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32 or int.from_bytes(raw, "big") >= P or base64.b64encode(raw).decode() != item:
            raise f.error(f"{key}[{i}]", "expected a field element as 32 bytes in base64")
        out.append(int.from_bytes(raw, "big"))
    return tuple(out)


# The top-level keys of each layout, in the order parse_user reads them: index, id hash, equity, debt,
# assets, root, path. Gate.io names them its own way; Binance and HTX share theirs.
_GATE_KEYS = (
    "Arrangement",
    "UniqueIdentification",
    "TotalAssetEquity",
    "TotalAssetDebt",
    "AssetDetails",
    "TreeRootHash",
    "MerkleProofEncode",
)
_KEYS = ("AccountIndex", "AccountIdHash", "TotalEquity", "TotalDebt", "Assets", "Root", "Proof")
_ASSET_FIELDS = {  # the amount fields of each asset, by layout
    "htx": ("Balance",),
    "v1": ("Equity", "Debt"),
    "v2": ("Equity", "Debt", "Loan", "Margin", "PortfolioMargin"),
}


def parse_user(doc: Any, source: str, fmt: str) -> ZkUser:
    f = Fields(doc, source)
    if fmt == "gate-zk":
        f.only(*_GATE_KEYS)
        keys, layout = _GATE_KEYS, "v1"
    else:
        v2 = fmt == "binance-zk" and "TotalCollateral" in doc
        f.only(*_KEYS, *(("TotalCollateral",) if v2 else ()))
        keys, layout = _KEYS, "htx" if fmt == "htx-zk" else ("v2" if v2 else "v1")
    index_key, id_key, eq_key, debt_key, assets_key, root_key, path_key = keys
    totals = [_field(f, eq_key), _field(f, debt_key)]
    if layout == "v2":
        totals.append(_field(f, "TotalCollateral"))
    assets = [_asset(a, layout) for a in f.objects(assets_key, max_items=MAX_ASSETS)]
    indices = [x[0] for x in assets]
    if indices != sorted(set(indices)):
        raise f.error(assets_key, "asset indices must be distinct and increasing")
    return ZkUser(
        source=source,
        fmt=fmt,
        layout=layout,
        index=_field(f, index_key, bound=2**DEPTH),
        id_hash=_hex_element(f, id_key),
        totals=tuple(totals),
        assets=tuple(assets),
        root=_hex_element(f, root_key),
        path=_siblings(f, path_key),
    )


def _asset(a: Fields, layout: str) -> tuple[int, ...]:
    """One asset entry: its index, then its amounts in the layout's order."""
    fields = _ASSET_FIELDS[layout]
    a.only("Index", *fields)
    values = []
    for name in fields:
        if layout == "htx":  # int64, signed: HTX hashes the absolute value
            value = a.get(name, int)
            if not -(2**63) <= value < 2**63:
                raise a.error(name, "outside int64")
        else:
            value = _field(a, name, bound=U64)
        values.append(value)
    return (_field(a, "Index", bound=MAX_ASSETS), *values)


def _pack3(values: list[int]) -> list[int]:
    values = values + [0] * (-len(values) % 3)
    return [values[i] * 2**128 + values[i + 1] * 2**64 + values[i + 2] for i in range(0, len(values), 3)]


def commitment_elements(user: ZkUser, count: int) -> list[int]:
    """The elements the asset commitment hashes, for an audit of `count` assets (v2: the tier size)."""
    if user.layout == "htx":
        out = [0] * count
        for index, balance in user.assets:
            out[index] = abs(balance)
        return out
    if user.layout == "v1":
        flat = [0] * (2 * count)
        for index, equity, debt in user.assets:
            flat[2 * index], flat[2 * index + 1] = equity, debt
        return _pack3(flat)
    flat, padding, index = [], count - len(user.assets), 0  # v2: PaddingAccountAssets
    for asset in user.assets:
        while padding and index < asset[0]:
            flat += [index, 0, 0, 0, 0, 0]
            index, padding = index + 1, padding - 1
        flat += list(asset)
        index = asset[0] + 1
    while len(flat) < 6 * count:
        flat += [index, 0, 0, 0, 0, 0]
        index += 1
    return _pack3(flat)


def leaf_of(user: ZkUser, commitment: int) -> int:
    return poseidon(user.id_hash, *user.totals, commitment)


def path_root(leaf: int, index: int, siblings: tuple[int, ...]) -> int:
    node = leaf
    for level, sibling in enumerate(siblings):
        node = poseidon(sibling, node) if (index >> level) & 1 else poseidon(node, sibling)
    return node


def prefix_commitments(elements: list[int], lengths: list[int]) -> dict[int, int]:
    """Poseidon of elements[:n] for each n in `lengths`, sharing the full chunks they have in common.

    The fork's sponge on n inputs is (n - 1) // 12 full chunks, then the last 1..12 inputs at
    width r + 1: so a scan over asset counts costs one pass over the chunks."""
    out, state, chunks = {}, [0] * (CHUNK + 1), 0
    for n in sorted(set(lengths)):
        if n < 1:
            continue
        while chunks < (n - 1) // CHUNK:
            state = permutation([state[0], *elements[chunks * CHUNK : (chunks + 1) * CHUNK]])
            chunks += 1
        out[n] = permutation([state[0], *elements[chunks * CHUNK : n]])[1]
    return out


def counts_that_verify(user: ZkUser, candidates: list[int]) -> list[int]:
    """The asset counts (in the order given) under which the proof recomputes its root."""
    least = max((a[0] for a in user.assets), default=-1) + 1
    candidates = [n for n in candidates if n >= (len(user.assets) if user.layout == "v2" else least)]
    if not candidates:
        return []
    widest = max(candidates)
    elements = {n: commitment_elements(user, n) for n in candidates} if user.layout == "v2" else None
    if elements is None:
        full = commitment_elements(user, widest)
        per_count = {n: n if user.layout == "htx" else -(-2 * n // 3) for n in candidates}
        commits = prefix_commitments(full, sorted(set(per_count.values())))
        by_count = {n: commits[per_count[n]] for n in candidates}
    else:
        by_count = {n: poseidon(*elements[n]) for n in candidates}
    seen, out = {}, []
    for n in candidates:
        c = by_count[n]
        if c not in seen:
            seen[c] = path_root(leaf_of(user, c), user.index, user.path) == user.root
        if seen[c]:
            out.append(n)
    return out
